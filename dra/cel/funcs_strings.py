"""cel-go ``ext.Strings`` version 2, as configured in the Kubernetes base environment.

Indexes count Unicode code points (Go runes), like cel-go. ``reverse`` is version 3 and is
therefore *not* declared: Kubernetes 1.34/1.35 reject it at compile time.
"""

from __future__ import annotations

import math
from typing import Any

from dra.cel import conversions as conv
from dra.cel import values as v
from dra.cel.errors import EvalError, no_such_overload
from dra.cel.funcs_lists import list_index_of, list_last_index_of
from dra.cel.registry import register
from dra.cel.typesys import DYN, INT, STRING, list_of

_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_UPPER = {c + 32: c for c in range(ord("A"), ord("Z") + 1)}


def _s(x: Any, name: str) -> str:
    if type(x) is not str:
        raise no_such_overload(name, x)
    return x


def _i(x: Any, name: str) -> int:
    if type(x) is not int:
        raise no_such_overload(name, x)
    return x


def char_at(s: Any, i: Any) -> str:
    s, i = _s(s, "charAt"), _i(i, "charAt")
    if i < 0 or i > len(s):
        raise EvalError(f"index out of range: {i}")
    return s[i : i + 1]


def index_of(s: Any, sub: Any, offset: Any = 0) -> int:
    if isinstance(s, list):
        return list_index_of(s, sub)
    s, sub, offset = _s(s, "indexOf"), _s(sub, "indexOf"), _i(offset, "indexOf")
    if offset < 0 or offset > len(s):
        raise EvalError(f"index out of range: {offset}")
    return s.find(sub, offset)


def last_index_of(s: Any, sub: Any, offset: Any = None) -> int:
    if isinstance(s, list):
        return list_last_index_of(s, sub)
    s, sub = _s(s, "lastIndexOf"), _s(sub, "lastIndexOf")
    if offset is None:
        return s.rfind(sub)
    offset = _i(offset, "lastIndexOf")
    if offset < 0 or offset > len(s):
        raise EvalError(f"index out of range: {offset}")
    return s.rfind(sub, 0, offset + len(sub))


def lower_ascii(s: Any) -> str:
    return _s(s, "lowerAscii").translate(_LOWER)


def upper_ascii(s: Any) -> str:
    return _s(s, "upperAscii").translate(_UPPER)


def replace(s: Any, old: Any, new: Any, n: Any = -1) -> str:
    s, old, new, n = _s(s, "replace"), _s(old, "replace"), _s(new, "replace"), _i(n, "replace")
    return s.replace(old, new, n if n >= 0 else -1)


def split(s: Any, sep: Any, n: Any = -1) -> list[str]:
    s, sep, n = _s(s, "split"), _s(sep, "split"), _i(n, "split")
    if n == 0:
        return []
    if sep == "":
        chars = list(s)
        if 0 < n < len(chars):
            return chars[: n - 1] + ["".join(chars[n - 1 :])]
        return chars
    return s.split(sep, n - 1 if n > 0 else -1)


def substring(s: Any, start: Any, end: Any = None) -> str:
    s, start = _s(s, "substring"), _i(start, "substring")
    stop = len(s) if end is None else _i(end, "substring")
    if start < 0 or start > len(s):
        raise EvalError(f"index out of range: {start}")
    if stop < 0 or stop > len(s):
        raise EvalError(f"index out of range: {stop}")
    if start > stop:
        raise EvalError(f"invalid substring range. start: {start}, end: {stop}")
    return s[start:stop]


def trim(s: Any) -> str:
    return _s(s, "trim").strip()


def join(items: Any, sep: Any = "") -> str:
    if not isinstance(items, list):
        raise no_such_overload("join", items)
    sep = _s(sep, "join")
    for item in items:
        if type(item) is not str:
            raise no_such_overload("join", items)
    return sep.join(items)


_QUOTE_ESCAPES = {
    "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
    "\\": "\\\\", '"': '\\"',
}


def quote(s: Any) -> str:
    s = _s(s, "strings.quote")
    return '"' + "".join(_QUOTE_ESCAPES.get(c, c) for c in s) + '"'


def format_string(fmt: Any, args: Any) -> str:
    """``"%s is %d".format([a, b])``: %s %d %f %e %x %X %o %b %% with optional precision."""
    fmt = _s(fmt, "format")
    if not isinstance(args, list):
        raise no_such_overload("format", fmt, args)
    out: list[str] = []
    i, arg_index = 0, 0
    while i < len(fmt):
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        i += 1
        if i < len(fmt) and fmt[i] == "%":
            out.append("%")
            i += 1
            continue
        precision = None
        if i < len(fmt) and fmt[i] == ".":
            j = i + 1
            while j < len(fmt) and fmt[j].isdigit():
                j += 1
            precision = int(fmt[i + 1 : j] or "0")
            i = j
        if i >= len(fmt):
            raise EvalError("unexpected end of format string")
        verb = fmt[i]
        i += 1
        if arg_index >= len(args):
            raise EvalError(f"index {arg_index} out of range")
        out.append(_format_one(verb, args[arg_index], precision))
        arg_index += 1
    return "".join(out)


def _format_one(verb: str, arg: Any, precision: int | None) -> str:
    t = type(arg)
    if verb == "s":
        return _format_s(arg)
    if verb == "d":
        if t in (int, v.UInt):
            return str(int(arg))
        if t is float and (math.isnan(arg) or math.isinf(arg)):
            return conv.format_double(arg).replace("+Inf", "Infinity").replace("-Inf", "-Infinity")
        raise EvalError(f"error during formatting: decimal clause can only be used on integers, was given {v.type_name(arg)}")
    if verb in "fe":
        if t in (int, v.UInt, float):
            return f"{float(arg):.{6 if precision is None else precision}{verb}}"
        raise EvalError(f"error during formatting: fixed-point clause can only be used on doubles, was given {v.type_name(arg)}")
    if verb in "xXob":
        if t in (int, v.UInt):
            spec = {"x": "x", "X": "X", "o": "o", "b": "b"}[verb]
            return format(int(arg), spec)
        if verb in "xX" and t in (str, bytes):
            data = arg.encode() if t is str else arg
            text = data.hex()
            return text.upper() if verb == "X" else text
        raise EvalError(f"error during formatting: only integers, strings and bytes can be hex-formatted, was given {v.type_name(arg)}")
    raise EvalError(f"could not parse formatting clause: unrecognized formatting clause \"{verb}\"")


def _format_s(arg: Any) -> str:
    t = type(arg)
    if t is str:
        return arg
    if t is bool:
        return "true" if arg else "false"
    if arg is None:
        return "null"
    if t is list:
        return "[" + ", ".join(_format_s(x) for x in arg) + "]"
    if isinstance(arg, dict):
        items = sorted(((_format_s(k), _format_s(val)) for k, val in arg.items()))
        return "{" + ", ".join(f"{k}: {val}" for k, val in items) + "}"
    if isinstance(arg, v.CelType):
        return arg.name
    if t in (int, v.UInt, float, bytes):
        return conv.to_string(arg)
    return str(arg)


LS = list_of(STRING)
register("charAt", char_at, ((STRING, INT), STRING), member=True)
register("indexOf", index_of, ((STRING, STRING), INT), ((list_of("A"), "A"), INT), member=True, size_cost=True)
register("indexOf", index_of, ((STRING, STRING, INT), INT), member=True, size_cost=True)
register("lastIndexOf", last_index_of, ((STRING, STRING), INT), ((list_of("A"), "A"), INT), member=True,
         size_cost=True)
register("lastIndexOf", last_index_of, ((STRING, STRING, INT), INT), member=True, size_cost=True)
register("lowerAscii", lower_ascii, ((STRING,), STRING), member=True, size_cost=True)
register("upperAscii", upper_ascii, ((STRING,), STRING), member=True, size_cost=True)
register("replace", replace, ((STRING, STRING, STRING), STRING), member=True, size_cost=True)
register("replace", replace, ((STRING, STRING, STRING, INT), STRING), member=True, size_cost=True)
register("split", split, ((STRING, STRING), LS), member=True, size_cost=True)
register("split", split, ((STRING, STRING, INT), LS), member=True, size_cost=True)
register("substring", substring, ((STRING, INT), STRING), member=True, size_cost=True)
register("substring", substring, ((STRING, INT, INT), STRING), member=True, size_cost=True)
register("trim", trim, ((STRING,), STRING), member=True, size_cost=True)
register("join", join, ((LS,), STRING), member=True, size_cost=True)
register("join", join, ((LS, STRING), STRING), member=True, size_cost=True)
register("strings.quote", quote, ((STRING,), STRING), member=False, size_cost=True)
register("format", format_string, ((STRING, list_of(DYN)), STRING), member=True, size_cost=True)
