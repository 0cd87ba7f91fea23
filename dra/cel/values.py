"""CEL runtime values as plain Python objects, and the operators on them.

Representation (chosen so that the common selector paths are plain dict/str/int operations):

=============  ==========================================================================
CEL type       Python value
=============  ==========================================================================
int            ``int`` (never ``bool``; every check uses ``type(x) is int``)
uint           :class:`UInt`, an ``int`` subclass
double         ``float``
string/bytes   ``str`` / ``bytes``
bool / null    ``bool`` / ``None``
list / map     ``list`` / ``dict`` (``dict`` subclasses for the device's domain maps)
type           :class:`CelType`
optional       :class:`Optional`
Quantity       :class:`dra.api.Quantity`; Semver: :class:`dra.cel.semver.Semver`
=============  ==========================================================================

Errors are raised as :class:`~dra.cel.errors.EvalError`; messages follow cel-go's wording
(``integer overflow``, ``division by zero``, ``no such overload``) so that callers can match
upstream substrings.
"""

from __future__ import annotations

import math
from typing import Any

from dra.api.quantity import Quantity
from dra.cel.errors import EvalError, no_such_overload
from dra.cel.semver import Semver

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1


class UInt(int):
    """CEL ``uint``: an unsigned 64-bit integer (range checked where it is made)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{int(self)}u"


class CelType:
    """A CEL type value, as returned by ``type(x)`` and named by ``int``, ``string``, ..."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CelType) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("CelType", self.name))

    def __repr__(self) -> str:
        return self.name


class Optional:
    """CEL ``optional_type``: a value or nothing (``optional.none()``)."""

    __slots__ = ("value",)
    _EMPTY = object()

    def __init__(self, value: Any = _EMPTY) -> None:
        self.value = value

    def has_value(self) -> bool:
        return self.value is not Optional._EMPTY

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Optional):
            return False
        if not self.has_value() or not other.has_value():
            return self.has_value() == other.has_value()
        return cel_eq(self.value, other.value)

    def __hash__(self) -> int:  # pragma: no cover - optionals are never map keys
        return 0

    def __repr__(self) -> str:
        return f"optional.of({self.value!r})" if self.has_value() else "optional.none()"


OPTIONAL_NONE = Optional()

NUMERIC_TYPES = (int, UInt, float)
_NUMERIC_SET = frozenset(NUMERIC_TYPES)
_ORDERED_SAME = frozenset((int, UInt, float, str, bytes, bool))

# Names of the Python representations, as cel-go prints them in messages.
_TYPE_NAMES: dict[type, str] = {
    bool: "bool", int: "int", UInt: "uint", float: "double", str: "string", bytes: "bytes",
    type(None): "null_type", list: "list", dict: "map", CelType: "type",
    Optional: "optional_type", Quantity: "kubernetes.Quantity", Semver: "kubernetes.Semver",
}
TYPE_VALUES: dict[str, CelType] = {
    name: CelType(name)
    for name in ("bool", "int", "uint", "double", "string", "bytes", "null_type", "list", "map",
                 "type", "optional_type", "kubernetes.Quantity", "kubernetes.Semver",
                 "kubernetes.DRADevice", "net.IP", "net.CIDR", "kubernetes.URL")
}


def type_name(value: Any) -> str:
    name = _TYPE_NAMES.get(type(value))
    if name is not None:
        return name
    custom = getattr(value, "cel_type_name", None)
    if custom is not None:
        return custom
    if isinstance(value, dict):
        return "map"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


_GO_TYPES = {"int": "types.Int", "uint": "types.Uint", "double": "types.Double", "string": "types.String",
             "bool": "types.Bool", "bytes": "types.Bytes", "null_type": "types.Null"}


def go_type_name(value: Any) -> str:
    """The cel-go Go type of a value, as a panic message names it."""
    name = type_name(value)
    return _GO_TYPES.get(name, name)


def cel_type_of(value: Any) -> CelType:
    name = type_name(value)
    return TYPE_VALUES.get(name) or CelType(name)


# ---------------------------------------------------------------- equality and ordering


def _strict(t: type) -> bool:
    # Kubernetes' own CEL types (Quantity, Semver, IP, CIDR, URL) implement Equal as "same type
    # or no such overload": dyn(semver("1.0.0")) == 1 is an error, 1 == dyn(quantity("1")) false.
    return t is Quantity or t is Semver or getattr(t, "_cel_strict_equality", False)


def cel_eq(a: Any, b: Any) -> bool:
    """CEL heterogeneous equality: values of different types are unequal, numbers compare by value."""
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is list:
            return len(a) == len(b) and _list_eq(a, b)
        if ta is dict:
            return _map_eq(a, b)
        return bool(a == b)
    if ta in _NUMERIC_SET and tb in _NUMERIC_SET:
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return _map_eq(a, b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and _list_eq(a, b)
    if b is not None and _strict(ta):
        raise no_such_overload("_==_", a, b)
    return False


def equal_or_false(a: Any, b: Any) -> bool:
    """``a.Equal(b) == types.True`` as cel-go's list functions test it: an error is not a match."""
    try:
        return cel_eq(a, b)
    except EvalError:
        return False


def _list_eq(a: list, b: list) -> bool:
    # cel-go baseList.Equal stops only at an element comparison that is False; an element
    # error (semver vs int) does not make the lists unequal.
    for x, y in zip(a, b):
        try:
            if not cel_eq(x, y):
                return False
        except EvalError:
            continue
    return True


def _map_eq(a: dict, b: dict) -> bool:
    if len(a) != len(b):
        return False
    missing = object()
    for key, value in a.items():
        other = b.get(key, missing) if type(key) is not bool else _bool_key_get(b, key, missing)
        if other is missing or not cel_eq(value, other):
            return False
    return True


def _bool_key_get(m: dict, key: bool, default: Any) -> Any:
    # Python treats True == 1; CEL does not. Look bool keys up by identity.
    for k, v in m.items():
        if k is key:
            return v
    return default


def _order_check(op: str, a: Any, b: Any) -> None:
    ta, tb = type(a), type(b)
    if ta is tb and ta in _ORDERED_SAME:
        return
    if ta in _NUMERIC_SET and tb in _NUMERIC_SET:
        return
    raise no_such_overload(op, a, b)


def cel_lt(a: Any, b: Any) -> bool:
    _order_check("_<_", a, b)
    return a < b


def cel_le(a: Any, b: Any) -> bool:
    _order_check("_<=_", a, b)
    return a <= b


def cel_gt(a: Any, b: Any) -> bool:
    _order_check("_>_", a, b)
    return a > b


def cel_ge(a: Any, b: Any) -> bool:
    _order_check("_>=_", a, b)
    return a >= b


def cel_in(item: Any, container: Any) -> bool:
    if isinstance(container, dict):
        if type(item) is bool:
            return _bool_key_get(container, item, _MISSING) is not _MISSING
        if isinstance(item, (list, dict)):
            return False  # cel-go finds no such key (maps are keyed by scalars)
        try:
            if item in container:
                # numbers of different types are equal keys; other types must match exactly
                return True
        except TypeError:
            raise no_such_overload("@in", item, container) from None
        return False
    if isinstance(container, list):
        # cel-go baseList.Contains: item.Equal(element), an error counts as no match
        return any(equal_or_false(item, element) for element in container)
    raise no_such_overload("@in", item, container)


_MISSING = object()


# ---------------------------------------------------------------- arithmetic


def check_int(value: int) -> int:
    if value < INT64_MIN or value > INT64_MAX:
        raise EvalError("integer overflow")
    return value


def check_uint(value: int) -> UInt:
    if value < 0 or value > UINT64_MAX:
        raise EvalError("unsigned integer overflow")
    return UInt(value)


def cel_add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return check_int(a + b)
        if ta is str or ta is float or ta is bytes:
            return a + b
        if ta is UInt:
            return check_uint(int(a) + int(b))
        if ta is list:
            return a + b
    raise no_such_overload("_+_", a, b)


def cel_sub(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return check_int(a - b)
        if ta is float:
            return a - b
        if ta is UInt:
            return check_uint(int(a) - int(b))
    raise no_such_overload("_-_", a, b)


def cel_mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return check_int(a * b)
        if ta is float:
            return a * b
        if ta is UInt:
            return check_uint(int(a) * int(b))
    raise no_such_overload("_*_", a, b)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def cel_div(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int or ta is UInt:
            if b == 0:
                raise EvalError("division by zero")
            if ta is UInt:
                return UInt(int(a) // int(b))
            return check_int(_trunc_div(a, b))
        if ta is float:
            if b == 0.0:
                if a == 0.0 or math.isnan(a):
                    return math.nan
                return math.copysign(math.inf, a) * math.copysign(1.0, b)
            return a / b
    raise no_such_overload("_/_", a, b)


def cel_mod(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb and (ta is int or ta is UInt):
        if b == 0:
            raise EvalError("modulus by zero")
        if ta is UInt:
            return UInt(int(a) % int(b))
        if a == INT64_MIN and b == -1:
            raise EvalError("integer overflow")
        r = abs(a) % abs(b)
        return -r if a < 0 else r
    raise no_such_overload("_%_", a, b)


def cel_neg(a: Any) -> Any:
    ta = type(a)
    if ta is int:
        return check_int(-a)
    if ta is float:
        return -a
    raise no_such_overload("-_", a)
