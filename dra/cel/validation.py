"""The CEL hook for API validation (``dra.api.validation``'s ``cel_check``).

The API server validates selectors of new or changed objects in the *new expressions*
environment: an expression must compile (``Invalid value: "<expr>": compilation failed: ...``)
and its estimated worst-case cost must not exceed ``CELSelectorExpressionMaxCost``
(``Forbidden: too complex, exceeds cost limit``). ``dra.api`` cannot import ``dra.cel``
(layering), so callers pass :func:`make_cel_check` 's result in::

    validate(obj, cel_check=make_cel_check(consumable_capacity=True))
    validate(obj, k8s_version=kv, cel_check=make_cel_check(version=kv))  # a KubernetesVersion

With ``version`` the environment follows that version's gates (list-typed attributes and
``includes()`` with DRAListTypeAttributes on 1.36+, see :mod:`dra.cel.env`).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from dra.api.errors import FieldError
from dra.api.validation.errs import forbidden, invalid
from dra.cel.cost import SELECTOR_MAX_COST
from dra.cel.errors import CelCompileError
from dra.cel.selector import compile_selector

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

    return cel_check


cel_check = make_cel_check()
