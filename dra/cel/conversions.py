"""CEL type conversions (``int()``, ``uint()``, ``double()``, ``string()``, ``bool()``, ``bytes()``)
and small value helpers, with cel-go's range checks and Go's number formatting/parsing rules."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from dra.cel.errors import EvalError, no_such_overload
from dra.cel.values import INT64_MAX, UInt, check_int, check_uint


def to_int(v: Any) -> int:
    t = type(v)
    if t is int:
        return v
    if t is UInt:
        if v > INT64_MAX:
            raise EvalError("integer overflow")
        return int(v)
    if t is float:
        if math.isnan(v) or math.isinf(v) or v <= -9.223372036854776e18 or v >= 9.223372036854776e18:
            raise EvalError("integer overflow")
        return int(v)
    if t is str:
        try:
            return check_int(int(v, 10)) if _is_go_int(v) else _bad_int(v)
        except ValueError:
            return _bad_int(v)
    raise no_such_overload("int", v)


def _is_go_int(s: str) -> bool:
    body = s[1:] if s[:1] in "+-" else s
    return body.isascii() and body.isdigit()


def _bad_int(s: str) -> int:
    raise EvalError(f"cannot convert '{s}' to int")


def to_uint(v: Any) -> UInt:
    t = type(v)
    if t is UInt:
        return v
    if t is int:
        if v < 0:
            raise EvalError("unsigned integer overflow")
        return UInt(v)
    if t is float:
        if math.isnan(v) or v < 0 or v >= 1.8446744073709552e19:
            raise EvalError("unsigned integer overflow")
        return UInt(int(v))
    if t is str:
        if v.isascii() and v.isdigit():
            return check_uint(int(v))
        raise EvalError(f"cannot convert '{v}' to uint")
    raise no_such_overload("uint", v)


def to_double(v: Any) -> float:
    t = type(v)
    if t is float:
        return v
    if t is int or t is UInt:
        return float(v)
    if t is str:
        try:
            text = v.strip()
            if text != v or "_" in v:
                raise ValueError
            return float(v)
        except ValueError:
            raise EvalError(f"cannot convert '{v}' to double") from None
    raise no_such_overload("double", v)


def format_double(v: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'g', -1, 64)``, which cel-go's ``string(double)`` uses.

    Shortest round-trip digits (the same digits as Python's ``repr``); exponent form when the
    decimal exponent is below -4 or at least 6 (``1e+06``, ``123456``, ``1.5e-05``).
    """
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, v) < 0 else ""
    if v == 0:
        return sign + "0"
    parts = Decimal(repr(abs(v))).as_tuple()
    digits = "".join(map(str, parts.digits))
    point = len(digits) + int(parts.exponent)  # digits before the decimal point
    digits = digits.rstrip("0")
    exp = point - 1
    if exp < -4 or exp >= 6:
        head = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{head}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def to_string(v: Any) -> str:
    t = type(v)
    if t is str:
        return v
    if t is int or t is UInt:
        return str(int(v))
    if t is float:
        return format_double(v)
    if t is bool:
        return "true" if v else "false"
    if t is bytes:
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            raise EvalError("invalid UTF-8 in bytes, cannot convert to string") from None
    as_string = getattr(v, "cel_string", None)  # net.IP and net.CIDR
    if as_string is not None:
        return as_string()
    raise no_such_overload("string", v)


_BOOL_STRINGS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
                 "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


def to_bool(v: Any) -> bool:
    if type(v) is bool:
        return v
    if type(v) is str:
        if v in _BOOL_STRINGS:
            return _BOOL_STRINGS[v]
        raise EvalError(f"type conversion error from 'string' to 'bool': {v!r}")
    raise no_such_overload("bool", v)


def to_bytes(v: Any) -> bytes:
    if type(v) is bytes:
        return v
    if type(v) is str:
        return v.encode("utf-8")
    raise no_such_overload("bytes", v)


def size_of(v: Any) -> int:
    t = type(v)
    if t is str or t is bytes or t is list or isinstance(v, dict):
        return len(v)
    raise no_such_overload("size", v)


def is_zero_value(v: Any) -> bool:
    """The zero value of v's type (for optional.ofNonZeroValue)."""
    if v is None or v is False:
        return True
    t = type(v)
    if t in (int, UInt, float, str, bytes, list) or isinstance(v, dict):
        return not v
    return False
