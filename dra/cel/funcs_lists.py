"""List functions: the Kubernetes ``lists`` library, cel-go ``ext.Lists`` (v3) and ``ext.Sets``.

Kubernetes lists: ``isSorted``, ``sum``, ``min``, ``max``, ``indexOf``, ``lastIndexOf``
(``indexOf``/``lastIndexOf`` share their names with ext.strings and are registered there).
ext.Lists: ``lists.range``, ``distinct``, ``flatten``, ``reverse``, ``slice``, ``sort``,
``first``, ``last``. ext.Sets: ``sets.contains``, ``sets.equivalent``, ``sets.intersects``.
"""

from __future__ import annotations

from typing import Any

from dra.cel import values as v
from dra.cel.errors import EvalAbort, EvalError, no_such_overload
from dra.cel.registry import register
from dra.cel.typesys import BOOL, DOUBLE, DYN, INT, UINT, list_of, optional_of

LA = list_of("A")


def _list(x: Any, name: str) -> list:
    if not isinstance(x, list):
        raise no_such_overload(name, x)
    return x


def _lister(x: Any) -> list:
    # ext.Lists' distinct asserts args[0].(traits.Lister): a Go panic for dyn non-lists (upstream
    # answers "internal error: interface conversion: ..." for the whole evaluation)
    if not isinstance(x, list):
        raise EvalAbort(f"interface conversion: {v.go_type_name(x)} is not traits.Lister: missing method Contains")
    return x


def is_sorted(items: Any) -> bool:
    items = _list(items, "isSorted")
    for a, b in zip(items, items[1:]):
        if v.cel_gt(a, b):
            return False
    return True


def list_sum(items: Any) -> Any:
    items = _list(items, "sum")
    if not items:
        return 0
    total = items[0]
    for x in items[1:]:
        total = v.cel_add(total, x)
    if type(total) not in v.NUMERIC_TYPES:
        raise no_such_overload("sum", items)
    return total


def list_min(items: Any) -> Any:
    items = _list(items, "min")
    if not items:
        raise EvalError("min(list) argument must not be empty")
    best = items[0]
    for x in items[1:]:
        if v.cel_lt(x, best):
            best = x
    return best


def list_max(items: Any) -> Any:
    items = _list(items, "max")
    if not items:
        raise EvalError("max(list) argument must not be empty")
    best = items[0]
    for x in items[1:]:
        if v.cel_gt(x, best):
            best = x
    return best


def list_index_of(items: list, item: Any) -> int:
    for i, x in enumerate(items):
        if v.equal_or_false(x, item):
            return i
    return -1


def list_last_index_of(items: list, item: Any) -> int:
    for i in range(len(items) - 1, -1, -1):
        if v.equal_or_false(items[i], item):
            return i
    return -1


def lists_range(n: Any) -> list[int]:
    if type(n) is not int:
        raise no_such_overload("lists.range", n)
    return list(range(n))


def distinct(items: Any) -> list:
    out: list = []
    for x in _lister(items):
        if not any(v.equal_or_false(x, y) for y in out):
            out.append(x)
    return out


def flatten(items: Any, depth: Any = 1) -> list:
    if type(depth) is not int:
        raise no_such_overload("flatten", items, depth)
    if depth < 0:
        raise EvalError("level must be non-negative")
    out: list = []
    for x in _list(items, "flatten"):
        if isinstance(x, list) and depth > 0:
            out.extend(flatten(x, depth - 1))
        else:
            out.append(x)
    return out


def reverse(items: Any) -> list:
    return list(reversed(_list(items, "reverse")))


def list_slice(items: Any, start: Any, end: Any) -> list:
    items = _list(items, "slice")
    if type(start) is not int or type(end) is not int:
        raise no_such_overload("slice", items, start, end)
    if start < 0 or end < 0:
        raise EvalError(f"cannot slice(0, {end}), negative indexes not supported" if start >= 0
                        else f"cannot slice({start}, {end}), negative indexes not supported")
    if start > end:
        raise EvalError(f"cannot slice({start}, {end}), start index must be less than or equal to end index")
    if end > len(items):
        raise EvalError(f"cannot slice({start}, {end}), list is length {len(items)}")
    return items[start:end]


def sort(items: Any) -> list:
    items = _list(items, "sort")
    if items:
        first = type(items[0])
        if first not in (int, v.UInt, float, str, bytes, bool) or any(type(x) is not first for x in items):
            raise EvalError("list elements must have the same comparable type")
    return sorted(items)


def first(items: Any) -> v.Optional:
    items = _list(items, "first")
    return v.Optional(items[0]) if items else v.OPTIONAL_NONE


def last(items: Any) -> v.Optional:
    items = _list(items, "last")
    return v.Optional(items[-1]) if items else v.OPTIONAL_NONE


def sets_contains(a: Any, b: Any) -> bool:
    a, b = _list(a, "sets.contains"), _list(b, "sets.contains")
    return all(any(v.equal_or_false(x, y) for y in a) for x in b)


def sets_equivalent(a: Any, b: Any) -> bool:
    return sets_contains(a, b) and sets_contains(b, a)


def sets_intersects(a: Any, b: Any) -> bool:
    a, b = _list(a, "sets.intersects"), _list(b, "sets.intersects")
    return any(any(v.equal_or_false(x, y) for y in a) for x in b)


def includes(target: Any, arg: Any) -> bool:
    """``<dyn>.includes(<dyn>)``: a list holds the value, or a scalar equals it (1.36+)."""
    if isinstance(target, (list, tuple)):
        return any(v.equal_or_false(x, arg) for x in target)
    return v.equal_or_false(target, arg)


INCLUDES_MAX = 48  # resourceapi.ResourceSliceMaxAttributeValuesPerDevice


def includes_limited(target: Any, arg: Any) -> bool:
    """1.36's DRA ``includes``: refuses to look past 48 list values."""
    if isinstance(target, (list, tuple)):
        for i, x in enumerate(target):
            if i >= INCLUDES_MAX:
                raise EvalError(f"'includes' function cannot be applied to lists longer than {INCLUDES_MAX} values")
            if v.equal_or_false(x, arg):
                return True
        return False
    return v.equal_or_false(target, arg)


NUM_LISTS = ((list_of(INT),), INT), ((list_of(UINT),), UINT), ((list_of(DOUBLE),), DOUBLE)
register("isSorted", is_sorted, ((LA,), BOOL), member=True, size_cost=True)
register("sum", list_sum, *NUM_LISTS, member=True, size_cost=True)
register("min", list_min, ((LA,), "A"), member=True, size_cost=True)
register("max", list_max, ((LA,), "A"), member=True, size_cost=True)
register("lists.range", lists_range, ((INT,), list_of(INT)), member=False, size_cost=False)
register("distinct", distinct, ((LA,), LA), member=True, size_cost=True)
register("flatten", flatten, ((list_of(DYN),), list_of(DYN)), member=True, size_cost=True)
register("flatten", flatten, ((list_of(DYN), INT), list_of(DYN)), member=True, size_cost=True)
register("reverse", reverse, ((LA,), LA), member=True, size_cost=True)
register("slice", list_slice, ((LA, INT, INT), LA), member=True, size_cost=True)
register("sort", sort, ((LA,), LA), member=True, size_cost=True)
register("first", first, ((LA,), optional_of("A")), member=True)
register("last", last, ((LA,), optional_of("A")), member=True)
register("includes", includes, ((DYN, DYN), BOOL), member=True, size_cost=True)
register("sets.contains", sets_contains, ((LA, LA), BOOL), member=False, size_cost=True)
register("sets.equivalent", sets_equivalent, ((LA, LA), BOOL), member=False, size_cost=True)
register("sets.intersects", sets_intersects, ((LA, LA), BOOL), member=False, size_cost=True)
