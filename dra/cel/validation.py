"""The CEL hook for API validation (``dra.api.validation``'s ``cel_check``).

The API server validates selectors of new or changed objects in the *new expressions*
environment: an expression must compile (``Invalid value: "<expr>": compilation failed: ...``)
and its estimated worst-case cost must not exceed ``CELSelectorExpressionMaxCost``
(``Forbidden: too complex, exceeds cost limit``). ``dra.api`` cannot import ``dra.cel``
(layering), so callers pass :func:`make_cel_check` 's result in::

    validate(obj, cel_check=make_cel_check(consumable_capacity=True))
    validate(obj, k8s_version=kv, cel_check=make_cel_check(version=kv))  # a KubernetesVersion

The hook also carries ``cel_check.derived(expression, path) -> (errors, cost)`` for 1.37
``derivedAttributes`` (compiled as derived attributes: a scalar or list result; per-expression
and per-claim cost limits of ``DeviceClaimDerivedAttributeCELMaxCost``).

With ``version`` the environment follows that version's gates (list-typed attributes and
``includes()`` with DRAListTypeAttributes on 1.36+, see :mod:`dra.cel.env`).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from dra.api.errors import FieldError
from dra.api.validation.errs import forbidden, invalid
from dra.cel.cost import SELECTOR_MAX_COST
from dra.cel.errors import CelCompileError
from dra.cel.selector import Selector, compile_selector

# resource.k8s.io DeviceClaimDerivedAttributeCELMaxCost (1.37): per expression and per claim
DERIVED_ATTRIBUTE_MAX_COST = 1_000_000

CelCheck = Callable[[str, str], Iterable[FieldError]]


def make_cel_check(*, consumable_capacity: bool = False, version: Any = None) -> CelCheck:
    """A ``cel_check(expression, path)`` for the given DRAConsumableCapacity gate, or for the
    gates of ``version`` (a ``dra.versions.KubernetesVersion`` or a minor string)."""

    def cel_check(expression: str, path: str) -> list[FieldError]:
        try:
            selector = compile_selector(expression, env_type="new", consumable_capacity=consumable_capacity,
                                        version=version)
        except CelCompileError as ex:
            return [invalid(path, expression, str(ex))]
        cost = selector.estimated_max_cost
        if cost is not None and cost > SELECTOR_MAX_COST:
            return [forbidden(path, "too complex, exceeds cost limit")]
        return []

    def derived_check(expression: str, path: str) -> tuple[list[FieldError], int]:
        """A 1.37 derived attribute: (errors, estimated cost counted towards the claim's total)."""
        try:
            selector = Selector(expression, "new", consumable_capacity, derived=True,
                                version=_version_of(version))
        except CelCompileError as ex:
            return [invalid(path, expression, str(ex))], 0
        cost = selector.estimated_max_cost or 0
        if cost > min(SELECTOR_MAX_COST, DERIVED_ATTRIBUTE_MAX_COST):
            return [forbidden(path, "too complex, exceeds cost limit")], cost
        return [], cost

    cel_check.derived = derived_check  # type: ignore[attr-defined]
    return cel_check


def _version_of(version: Any) -> Any:
    if isinstance(version, str):
        from dra.versions import KubernetesVersion

        return KubernetesVersion.of(version)
    return version


cel_check = make_cel_check()
