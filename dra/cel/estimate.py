"""Static worst-case cost estimate, following cel-go's checker estimator as Kubernetes uses it.

The API server rejects a selector whose *estimated* maximum cost exceeds 1,000,000. The
estimate is computed bottom-up during compilation from two numbers per node: the maximum
cost of evaluating it and the maximum size of its value (string length, list/map entries),
using the declared bounds of the DRA device (≤32 entries per map level, domains ≤63 and
identifiers ≤32 characters, attribute values ≤64, the driver name ≤63).

Rules reproduced from cel-go/Kubernetes: constants 0; identifiers, field selections, indexing
and ordinary calls 1 plus their arguments; ``&&``/``||`` the sum of both sides; ``?:`` the
condition plus the dearer branch; string/bytes equality and ordering ``ceil(0.1 * min(max
sizes))``; list literals 10 and map literals 30 plus elements; ``in`` on a list the list size;
string concatenation 0.1 per character; ``matches``/``find``/``findAll`` the product of 0.1 per
character of the string and 0.25 per character of the pattern; ``contains`` the product of the
two 0.1-per-character costs; ``startsWith``/``endsWith`` 0.1 per prefix character; ``split``
0.2 per character; comprehensions ``range size * (condition + step)`` plus range, init and
result, with cel-go's macro expansions (``all``: 3 + predicate per element, ``exists``: 4 +
predicate, ``exists_one``: 2 + predicate, ``map``: 12 + transform, ``filter``: 13 + predicate, ``cel.bind``: 10 + init +
body). Presence tests (``has``) cost nothing beyond their operand. Other library functions
are estimated as 1 (constant) or 0.1 per character/element of their receiver. The result
matches upstream on all transcribed conformance cases; for functions outside the listed
rules it is an approximation.
"""

from __future__ import annotations

import math
from typing import Any

CAP = 2**64 - 1  # cel-go's saturation value (math.MaxUint64)
UNKNOWN_SIZE = CAP

STRING_TRAVERSAL = 0.1
REGEX_LENGTH = 0.25
LIST_CREATE = 10
MAP_CREATE = 30

# Declared bounds of the DRA device (k8s dynamic-resource-allocation/cel).
DRIVER_MAX = 63
DOMAIN_MAX = 63
ID_MAX = 32
MAP_ENTRIES_MAX = 32
ATTRIBUTE_VALUE_MAX = 64

# Loop overhead per iteration of each macro expansion (condition + step beyond the user's body).
# ``all``: condition ``@not_strictly_false(accu)`` (2) + ``accu`` in the step (1); ``exists``
# negates the accumulator in its condition, ``@not_strictly_false(!accu)``, one more (4).
# ``transformMapEntry`` inserts the body's map, ``cel.@mapInsert(accu, body)`` (2), where
# ``transformMap`` also passes the key, ``cel.@mapInsert(accu, k, body)`` (3).
MACRO_STEP_OVERHEAD = {
    "all": 3, "exists": 4, "exists_one": 2, "map": 12, "transformList": 12, "filter": 13,
    "transformMap": 3, "transformMapEntry": 2, "sortBy": 12,
}
# Cost of init + result of each expansion (besides the range).
MACRO_FIXED = {
    "all": 1, "exists": 1, "exists_one": 2, "map": LIST_CREATE + 1, "transformList": LIST_CREATE + 1,
    "filter": LIST_CREATE + 1, "transformMap": MAP_CREATE + 1, "transformMapEntry": MAP_CREATE + 1,
    "sortBy": LIST_CREATE + 2,
}


def sat(value: float) -> int:
    return CAP if value >= CAP else int(value)


def factor(size: int, cost_per_unit: float) -> int:
    """``ceil(size * cost_per_unit)`` with saturation."""
    if size >= CAP:
        return CAP
    return sat(math.ceil(size * cost_per_unit))


def mul(a: int, b: int) -> int:
    return sat(a * b)


def add(*values: int) -> int:
    return sat(sum(values))


def literal_size(value: Any) -> int:
    if isinstance(value, (str, bytes, list, dict)):
        return len(value)
    return 1


# Library functions whose cost grows with the receiver (0.1 per character/element).
LINEAR_FUNCTIONS = frozenset({
    "lowerAscii", "upperAscii", "trim", "replace", "join", "format", "strings.quote", "substring", "charAt",
    "isSorted", "sum", "min", "max", "distinct", "flatten", "reverse", "sort", "slice",
    "sets.contains", "sets.equivalent", "sets.intersects", "ip", "isIP", "cidr", "isCIDR", "url", "isURL",
    "quantity", "isQuantity", "semver", "isSemver",
})


def call_cost(name: str, arg_est: list[int], arg_sizes: list[int], member: bool) -> tuple[int, int | None]:
    """(estimated cost, estimated result size or None) of a call, arguments included."""
    args = add(*arg_est)
    target = arg_sizes[0] if arg_sizes else 1
    if name in ("matches", "find", "findAll") and len(arg_sizes) >= 2:
        pattern = factor(arg_sizes[1], REGEX_LENGTH)
        extra = 1 if name == "matches" else 0  # cel-go adds one character for matches
        text = factor(add(target, extra), STRING_TRAVERSAL)
        size = target if name == "findAll" else None
        return add(args, mul(text, pattern)), size
    if name == "contains" and len(arg_sizes) == 2:
        return add(args, mul(factor(target, STRING_TRAVERSAL), factor(arg_sizes[1], STRING_TRAVERSAL))), None
    if name in ("startsWith", "endsWith") and len(arg_sizes) == 2:
        return add(args, factor(arg_sizes[1], STRING_TRAVERSAL)), None
    if name == "split" and member:
        return add(args, factor(target, 2 * STRING_TRAVERSAL)), target
    if name in ("indexOf", "lastIndexOf") and len(arg_sizes) >= 2:
        return add(args, mul(factor(target, STRING_TRAVERSAL), factor(arg_sizes[1], STRING_TRAVERSAL))), None
    if name in LINEAR_FUNCTIONS:
        return add(args, max(1, factor(target, STRING_TRAVERSAL))), None
    return add(args, 1), None
