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
character of the string plus one and 0.25 per character of the pattern; ``contains`` the
product of the two 0.1-per-character costs; ``startsWith``/``endsWith`` 0.1 per prefix
character; comprehensions ``range size * (condition + step)`` plus range, init and result,
with cel-go's macro expansions (``all``: 3 + predicate per element, ``exists``: 4 +
predicate, ``exists_one``: 2 + predicate, ``map``: 12 + transform, ``filter``: 13 +
predicate, ``cel.bind``: 10 + init + body). Presence tests (``has``) cost nothing beyond
their operand.

Kubernetes' own CostEstimator (``apiserver/pkg/cel/library/cost.go``) answers first for its
library and a few ext.Strings functions: ``lowerAscii``/``upperAscii``/``substring``/``trim``
0.1 per character with a result as long as the receiver (so ``s.lowerAscii().matches(...)``
stays bounded); ``replace``/``split`` 0.2 per character with a bounded result; ``join``,
``min``/``max``/``sum``/``isSorted``/``indexOf`` over lists by element, where a string
element's size is unknown in the DRA environment (the device declares no lists) and the
estimate saturates like upstream's; ``quantity``/``semver``/``ip``/``cidr``/``url`` 0.1 per
character of the argument; accessors 1. ext.Sets functions cost 1 + |a|·|b| (twice for
``equivalent``). Other library functions are estimated as 1 or 0.1 per character/element of
their receiver; those are approximations. The rules are checked against the cost figures of
Kubernetes' tests (tests/test_cel_extra_cases.py) and all transcribed conformance cases.
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


# Library functions estimated at 0.1 per character/element of their first argument.
LINEAR_FUNCTIONS = frozenset({"charAt", "distinct", "flatten", "reverse", "sort", "slice"})
# Kubernetes' CostEstimator (apiserver/pkg/cel/library/cost.go) answers before cel-go for these:
# 0.1 per character of the string (the receiver for member calls, else the argument), and the
# result is as long as the receiver.
K8S_STRING_TRAVERSAL = frozenset({
    "lowerAscii", "upperAscii", "substring", "trim",  # result size = receiver size
    "url", "ip", "isIP", "cidr", "isCIDR", "quantity", "isQuantity", "semver", "isSemver",
})
K8S_SIZED_RESULT = frozenset({"lowerAscii", "upperAscii", "substring", "trim", "url"})
K8S_NOMINAL = frozenset({
    "masked", "prefixLength", "family", "isUnspecified", "isLoopback", "isLinkLocalMulticast",
    "isLinkLocalUnicast", "isGlobalUnicast", "sign", "asInteger", "isInteger", "asApproximateFloat",
    "isGreaterThan", "isLessThan", "compareTo", "add", "sub", "major", "minor", "patch",
    "getScheme", "getHostname", "getHost", "getPort", "getEscapedPath", "getQuery",
})
K8S_LIST_SCANS = frozenset({"isSorted", "sum", "max", "min", "indexOf", "lastIndexOf"})
# ext.Sets: 1 + |a| * |b| (equivalent checks both ways: twice that product).
SETS_FACTOR = {"sets.contains": 1, "sets.intersects": 1, "sets.equivalent": 2}
# containsIP/containsCIDR compare IP byte strings of at most 16 bytes each.
IP_BYTES_MAX = 16


def _replace_size(target: int, old: int, new: int, old_min: int) -> int:
    """Kubernetes' worst-case length of ``s.replace(old, new)``."""
    if old_min == 0:  # "" matches around every character
        count = target if target >= CAP else target + 1
        return add(mul(count, new), target)
    if new <= old_min:
        return target
    return mul(math.ceil(target / old_min) if target < CAP else CAP, new)


def call_cost(name: str, arg_est: list[int], arg_sizes: list[int], member: bool,
              arg_types: list[Any] | None = None, arg_consts: list[Any] | None = None) -> tuple[int, int | None]:
    """(estimated cost, estimated result size or None) of a call, arguments included.

    ``arg_types`` and ``arg_consts`` (the receiver first, like the sizes) refine a few rules:
    the element kind of a list receiver, the IP/string overloads, a literal ``split`` limit.
    """
    args = add(*arg_est)
    target = arg_sizes[0] if arg_sizes else 1
    types = arg_types or [None] * len(arg_sizes)
    consts = arg_consts or [None] * len(arg_sizes)
    if name in ("matches", "find", "findAll") and len(arg_sizes) >= 2:
        # One character added to the string so that an empty string still pays for the pattern.
        pattern = factor(arg_sizes[1], REGEX_LENGTH)
        text = factor(add(target, 1), STRING_TRAVERSAL)
        return add(args, mul(text, pattern)), (None if name == "matches" else target)
    if name == "contains" and len(arg_sizes) == 2:
        return add(args, mul(factor(target, STRING_TRAVERSAL), factor(arg_sizes[1], STRING_TRAVERSAL))), None
    if name in ("startsWith", "endsWith") and len(arg_sizes) == 2:
        return add(args, factor(arg_sizes[1], STRING_TRAVERSAL)), None
    if name == "split" and member:
        size = target
        if len(consts) > 2 and type(consts[2]) is int and consts[2] >= 0:
            size = consts[2]  # a literal limit bounds the number of parts
        return add(args, factor(target, 2 * STRING_TRAVERSAL)), size
    if name == "replace" and member and len(arg_sizes) >= 3:
        old = arg_sizes[1]
        old_min = old if type(consts[1]) is str else 0
        size = _replace_size(target, old, arg_sizes[2], old_min)
        return add(args, factor(target, 2 * STRING_TRAVERSAL)), size
    if name == "join" and member:
        # The element size of a list is only known from a declared path; the DRA device
        # declares no lists, so it is unknown here and the estimate saturates (as upstream).
        size = mul(target, UNKNOWN_SIZE)
        if len(arg_sizes) > 1:
            size = add(size, mul(arg_sizes[1], max(target - 1, 0) if target < CAP else CAP))
        return add(args, factor(size, STRING_TRAVERSAL)), size
    if name in K8S_LIST_SCANS and member:
        receiver = types[0]
        if isinstance(receiver, tuple) and receiver[0] == "list":
            element_cost = 1
            if receiver[1] in ("string", "bytes"):
                element_cost = add(1, factor(UNKNOWN_SIZE, STRING_TRAVERSAL))  # see join
            return add(args, mul(target, element_cost)), None
        return add(args, factor(target, STRING_TRAVERSAL)), None  # indexOf on a string
    if name in SETS_FACTOR and len(arg_sizes) == 2:
        return add(args, 1, mul(mul(arg_sizes[0], arg_sizes[1]), SETS_FACTOR[name])), None
    if name == "ip" and member:
        return add(args, 1), None  # the IP of a CIDR: a field access
    if name == "ip.isCanonical":
        return add(args, factor(target, 2 * STRING_TRAVERSAL)), None
    if name in ("containsIP", "containsCIDR") and member and len(arg_sizes) == 2:
        cost = factor(2 * IP_BYTES_MAX, STRING_TRAVERSAL)
        if name == "containsCIDR":
            cost = add(cost, factor(IP_BYTES_MAX, STRING_TRAVERSAL), 1)
        if types[1] == "string":
            cost = add(cost, factor(arg_sizes[1], STRING_TRAVERSAL))
        return add(args, cost), None
    if name == "dyn" and not member:
        return add(args, 1), target  # cel-go unwraps dyn(): the argument's cost + 1, its size
    # cel-go: string <-> bytes conversions traverse; a character takes up to 4 bytes. With a dyn
    # argument every overload is a candidate and the estimate covers them all (the dearest cost,
    # the sized result).
    if name == "bytes" and not member and types[0] in ("string", "dyn"):
        return add(args, max(1, factor(target, STRING_TRAVERSAL)) if types[0] == "dyn"
                   else factor(target, STRING_TRAVERSAL)), mul(target, 4)
    if name == "string" and not member and types[0] in ("bytes", "dyn"):
        return add(args, max(1, factor(target, STRING_TRAVERSAL)) if types[0] == "dyn"
                   else factor(target, STRING_TRAVERSAL)), target
    if name == "format" and member:
        # cel-go: 0.1 per character of the format string; the result has no bound
        return add(args, factor(target, STRING_TRAVERSAL)), None
    if name == "strings.quote":
        # cel-go: 0.1 per character; every character may be escaped, plus the two quotes
        return add(args, factor(target, STRING_TRAVERSAL)), add(mul(target, 2), 2)
    if name in K8S_STRING_TRAVERSAL:
        return add(args, factor(target, STRING_TRAVERSAL)), (target if name in K8S_SIZED_RESULT else None)
    if name in K8S_NOMINAL:
        return add(args, 1), None
    if name in LINEAR_FUNCTIONS:
        return add(args, max(1, factor(target, STRING_TRAVERSAL))), None
    return add(args, 1), None
