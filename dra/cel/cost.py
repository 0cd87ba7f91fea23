"""Runtime cost tracking, in the spirit of cel-go's actual-cost tracker.

Kubernetes evaluates DRA selectors with a runtime budget of 1,000,000
(``CELSelectorExpressionMaxCost``); exceeding it aborts evaluation with
``operation cancelled: actual cost limit exceeded``.

We charge where cost can actually grow: each comprehension iteration (the static cost of its
loop body: one unit per variable, field, index, call and operator, as cel-go counts them) and
size-dependent functions on strings and lists (about 0.1 per element/character, like cel-go's
``StringTraversalCostFactor``). An expression without comprehensions or ``cel.bind`` has a
cost bounded by its own size, far below the limit, so it is compiled without any metering and
its evaluation pays nothing for tracking.
"""

from __future__ import annotations

from typing import Any

from dra.cel.errors import CostLimitExceeded

SELECTOR_MAX_COST = 1_000_000
METER_KEY = "@meter"  # not a valid CEL identifier, so it cannot clash with variables


class Meter:
    __slots__ = ("total", "limit")

    def __init__(self, limit: int = SELECTOR_MAX_COST, start: int = 0) -> None:
        self.total = start
        self.limit = limit

    def charge(self, amount: int) -> None:
        self.total += amount
        if self.total > self.limit:
            raise CostLimitExceeded()


def size_cost(value: Any) -> int:
    """Extra cost of traversing ``value`` once (strings, bytes, lists, maps)."""
    try:
        return (len(value) + 9) // 10
    except TypeError:
        return 0
