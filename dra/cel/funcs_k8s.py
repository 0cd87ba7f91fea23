"""Kubernetes CEL libraries for DRA: Quantity, Semver; plus cel-go optional values.

Quantity functions (``k8s.io/apiserver/pkg/cel/library/quantity.go``): ``quantity(s)``,
``isQuantity(s)``, ``sign(q)``, ``q.isGreaterThan(q2)``, ``q.isLessThan(q2)``,
``q.compareTo(q2)``, ``q.asApproximateFloat()``, ``q.asInteger()``, ``q.isInteger()``,
``q.add(q2|int)``, ``q.sub(q2|int)``. Values are :class:`dra.api.Quantity` (exact).

Semver functions (``semverlib.go``, version 1): ``semver(s[, normalize])``,
``isSemver(s[, normalize])``, ``v.isGreaterThan(v2)``, ``v.isLessThan(v2)``,
``v.compareTo(v2)``, ``v.major()``, ``v.minor()``, ``v.patch()``. ``isGreaterThan`` etc.
share their names with the Quantity overloads and dispatch on the receiver.
"""

from __future__ import annotations

from typing import Any

from dra.api.quantity import Quantity, QuantityError
from dra.cel import conversions as conv
from dra.cel import values as v
from dra.cel.errors import EvalError, no_such_overload
from dra.cel.registry import register
from dra.cel.semver import Semver, SemverError
from dra.cel.typesys import BOOL, DOUBLE, INT, QUANTITY, SEMVER, STRING, optional_of

# ------------------------------------------------------------------ quantity


def quantity(s: Any) -> Quantity:
    if type(s) is not str:
        raise no_such_overload("quantity", s)
    try:
        return Quantity(s)
    except QuantityError as ex:
        raise EvalError(str(ex)) from None
    except (ValueError, TypeError) as ex:
        raise EvalError(f"quantities must match the regular expression: {ex}") from None


def is_quantity(s: Any) -> bool:
    if type(s) is not str:
        raise no_such_overload("isQuantity", s)
    try:
        Quantity(s)
    except (QuantityError, ValueError, TypeError):
        return False
    return True


def sign(q: Any) -> int:
    if type(q) is not Quantity:
        raise no_such_overload("sign", q)
    return q.sign()


def _pair(name: str, a: Any, b: Any) -> int:
    ta, tb = type(a), type(b)
    if ta is Quantity and tb is Quantity:
        return a.cmp(b)
    if ta is Semver and tb is Semver:
        return a.compare(b)
    raise no_such_overload(name, a, b)


def is_greater_than(a: Any, b: Any) -> bool:
    if type(a) is Semver and type(b) is Semver:
        return a._key > b._key
    return _pair("isGreaterThan", a, b) > 0


def is_less_than(a: Any, b: Any) -> bool:
    if type(a) is Semver and type(b) is Semver:
        return a._key < b._key
    return _pair("isLessThan", a, b) < 0


def compare_to(a: Any, b: Any) -> int:
    return _pair("compareTo", a, b)


def as_approximate_float(q: Any) -> float:
    if type(q) is not Quantity:
        raise no_such_overload("asApproximateFloat", q)
    return q.as_approximate_float()


def as_integer(q: Any) -> int:
    if type(q) is not Quantity:
        raise no_such_overload("asInteger", q)
    try:
        return q.as_integer()
    except QuantityError:
        raise EvalError("cannot convert value to integer") from None


def is_integer(q: Any) -> bool:
    if type(q) is not Quantity:
        raise no_such_overload("isInteger", q)
    try:
        q.as_integer()
    except QuantityError:
        return False
    return True


def _arith(name: str, q: Any, other: Any, negate: bool) -> Quantity:
    if type(q) is not Quantity or not (type(other) is Quantity or type(other) is int):
        raise no_such_overload(name, q, other)
    return q - other if negate else q + other


def add(q: Any, other: Any) -> Quantity:
    return _arith("add", q, other, False)


def sub(q: Any, other: Any) -> Quantity:
    return _arith("sub", q, other, True)


register("quantity", quantity, ((STRING,), QUANTITY), member=False)
register("isQuantity", is_quantity, ((STRING,), BOOL), member=False)
register("sign", sign, ((QUANTITY,), INT), member=False)
register("isGreaterThan", is_greater_than, ((QUANTITY, QUANTITY), BOOL), ((SEMVER, SEMVER), BOOL), member=True)
register("isLessThan", is_less_than, ((QUANTITY, QUANTITY), BOOL), ((SEMVER, SEMVER), BOOL), member=True)
register("compareTo", compare_to, ((QUANTITY, QUANTITY), INT), ((SEMVER, SEMVER), INT), member=True)
register("asApproximateFloat", as_approximate_float, ((QUANTITY,), DOUBLE), member=True)
register("asInteger", as_integer, ((QUANTITY,), INT), member=True)
register("isInteger", is_integer, ((QUANTITY,), BOOL), member=True)
register("add", add, ((QUANTITY, QUANTITY), QUANTITY), ((QUANTITY, INT), QUANTITY), member=True)
register("sub", sub, ((QUANTITY, QUANTITY), QUANTITY), ((QUANTITY, INT), QUANTITY), member=True)

# ------------------------------------------------------------------ semver


def semver(s: Any, normalize: Any = False) -> Semver:
    if type(s) is not str or type(normalize) is not bool:
        raise no_such_overload("semver", s, normalize)
    try:
        return Semver(s, normalize)
    except SemverError as ex:
        raise EvalError(str(ex)) from None


def is_semver(s: Any, normalize: Any = False) -> bool:
    if type(s) is not str or type(normalize) is not bool:
        raise no_such_overload("isSemver", s, normalize)
    return Semver.is_valid(s, normalize)


def _semver_part(name: str, attr: str):  # type: ignore[no-untyped-def]
    def part(s: Any) -> int:
        if type(s) is not Semver:
            raise no_such_overload(name, s)
        return getattr(s, attr)

    return part


register("semver", semver, ((STRING,), SEMVER), member=False)
register("semver", semver, ((STRING, BOOL), SEMVER), member=False)
register("isSemver", is_semver, ((STRING,), BOOL), member=False)
register("isSemver", is_semver, ((STRING, BOOL), BOOL), member=False)
register("major", _semver_part("major", "major"), ((SEMVER,), INT), member=True)
register("minor", _semver_part("minor", "minor"), ((SEMVER,), INT), member=True)
register("patch", _semver_part("patch", "patch"), ((SEMVER,), INT), member=True)

# ------------------------------------------------------------------ optional values


def _opt(x: Any, name: str) -> v.Optional:
    if type(x) is not v.Optional:
        raise no_such_overload(name, x)
    return x


def optional_of_value(x: Any) -> v.Optional:
    return v.Optional(x)


def optional_of_non_zero(x: Any) -> v.Optional:
    return v.OPTIONAL_NONE if conv.is_zero_value(x) else v.Optional(x)


def optional_none() -> v.Optional:
    return v.OPTIONAL_NONE


def has_value(o: Any) -> bool:
    return _opt(o, "hasValue").has_value()


def value(o: Any) -> Any:
    o = _opt(o, "value")
    if not o.has_value():
        raise EvalError("optional.none() dereference")
    return o.value


def or_value(o: Any, default: Any) -> Any:
    o = _opt(o, "orValue")
    return o.value if o.has_value() else default


def or_optional(o: Any, other: Any) -> v.Optional:
    o = _opt(o, "or")
    return o if o.has_value() else _opt(other, "or")


OA = optional_of("A")
register("optional.of", optional_of_value, (("A",), OA), member=False)
register("optional.ofNonZeroValue", optional_of_non_zero, (("A",), OA), member=False)
register("optional.none", optional_none, ((), optional_of("dyn")), member=False)
register("hasValue", has_value, ((OA,), BOOL), member=True)
register("value", value, ((OA,), "A"), member=True)
register("orValue", or_value, ((OA, "A"), "A"), member=True)
register("or", or_optional, ((OA, OA), OA), member=True)
