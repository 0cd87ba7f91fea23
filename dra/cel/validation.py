"""The CEL hook for API validation (``dra.api.validation``'s ``cel_check``).

The API server validates selectors of new or changed objects in the *new expressions*
environment: an expression must compile (``Invalid value: "<expr>": compilation failed: ...``)
and its estimated worst-case cost must not exceed ``CELSelectorExpressionMaxCost``
(``Forbidden: too complex, exceeds cost limit``). ``dra.api`` cannot import ``dra.cel``
(layering), so callers pass :func:`make_cel_check` 's result in::

    validate(obj, cel_check=make_cel_check(consumable_capacity=True))
"""

from __future__ import annotations

from typing import Callable, Iterable

from dra.api.errors import FieldError
from dra.api.validation.errs import forbidden, invalid
from dra.cel.cost import SELECTOR_MAX_COST
from dra.cel.errors import CelCompileError
from dra.cel.selector import compile_selector

CelCheck = Callable[[str, str], Iterable[FieldError]]


def make_cel_check(*, consumable_capacity: bool = False) -> CelCheck:
    """A ``cel_check(expression, path)`` for the given DRAConsumableCapacity gate."""

    def cel_check(expression: str, path: str) -> list[FieldError]:
        try:
            selector = compile_selector(expression, env_type="new", consumable_capacity=consumable_capacity)
        except CelCompileError as ex:
            return [invalid(path, expression, str(ex))]
        cost = selector.estimated_max_cost
        if cost is not None and cost > SELECTOR_MAX_COST:
            return [forbidden(path, "too complex, exceeds cost limit")]
        return []

    return cel_check


cel_check = make_cel_check()
