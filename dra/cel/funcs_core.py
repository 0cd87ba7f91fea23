"""Standard CEL functions: size, string predicates, regular expressions, conversions.

Regular expressions are RE2 (``google-re2``, which cel-python already depends on), as in
cel-go; Python's ``re`` accepts a different language (backreferences, lookarounds).
"""

from __future__ import annotations

import functools
from typing import Any

import re2

from dra.cel import conversions as conv
from dra.cel import values as v
from dra.cel.errors import EvalError, no_such_overload
from dra.cel.registry import register
from dra.cel.typesys import (
    BOOL, BYTES, DOUBLE, DYN, INT, STRING, UINT, list_of, map_of,
)

LA = list_of("A")
MAB = map_of("A", "B")


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # RE2 would otherwise print every bad pattern to stderr


@functools.lru_cache(maxsize=512)
def compile_regex(pattern: str) -> Any:
    """Compile an RE2 pattern; EvalError with RE2's reason if it is invalid."""
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except Exception as ex:  # re2.error, or a plain error for some inputs
        reason = ex.args[0] if ex.args else ex
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise EvalError(f"error parsing regexp: {reason}") from None


def _strs(name: str, *args: Any) -> None:
    for a in args:
        if type(a) is not str:
            raise no_such_overload(name, *args)


def size(x: Any) -> int:
    return conv.size_of(x)


def contains(s: Any, sub: Any) -> bool:
    _strs("contains", s, sub)
    return sub in s


def starts_with(s: Any, prefix: Any) -> bool:
    _strs("startsWith", s, prefix)
    return s.startswith(prefix)


def ends_with(s: Any, suffix: Any) -> bool:
    _strs("endsWith", s, suffix)
    return s.endswith(suffix)


def matches(s: Any, pattern: Any) -> bool:
    _strs("matches", s, pattern)
    return compile_regex(pattern).search(s) is not None


def find(s: Any, pattern: Any) -> str:
    _strs("find", s, pattern)
    m = compile_regex(pattern).search(s)
    return m.group(0) if m is not None else ""


def find_all(s: Any, pattern: Any, limit: Any = -1) -> list[str]:
    if type(limit) is not int:
        raise no_such_overload("findAll", s, pattern, limit)
    if limit == 0:
        return []
    found: list[str] = []
    _strs("findAll", s, pattern)
    for m in compile_regex(pattern).finditer(s):
        found.append(m.group(0))
        if 0 < limit <= len(found):
            break
    return found


def dyn(x: Any) -> Any:
    return x


register("size", size, ((STRING,), INT), ((BYTES,), INT), ((LA,), INT), ((MAB,), INT), member=False)
register("size", size, ((STRING,), INT), ((BYTES,), INT), ((LA,), INT), ((MAB,), INT), member=True)
register("contains", contains, ((STRING, STRING), BOOL), member=True, size_cost=True)
register("startsWith", starts_with, ((STRING, STRING), BOOL), member=True, size_cost=True)
register("endsWith", ends_with, ((STRING, STRING), BOOL), member=True, size_cost=True)
register("matches", matches, ((STRING, STRING), BOOL), member=True, size_cost=True)
register("matches", matches, ((STRING, STRING), BOOL), member=False, size_cost=True)
# Kubernetes regex library
register("find", find, ((STRING, STRING), STRING), member=True, size_cost=True)
register("findAll", find_all, ((STRING, STRING), list_of(STRING)), member=True, size_cost=True)
register("findAll", find_all, ((STRING, STRING, INT), list_of(STRING)), member=True, size_cost=True)

# Conversions. ``type`` and ``dyn`` accept anything.
register("int", conv.to_int, ((INT,), INT), ((UINT,), INT), ((DOUBLE,), INT), ((STRING,), INT), member=False)
register("uint", conv.to_uint, ((INT,), UINT), ((UINT,), UINT), ((DOUBLE,), UINT), ((STRING,), UINT), member=False)
register("double", conv.to_double, ((INT,), DOUBLE), ((UINT,), DOUBLE), ((DOUBLE,), DOUBLE), ((STRING,), DOUBLE),
         member=False)
register("string", conv.to_string, ((INT,), STRING), ((UINT,), STRING), ((DOUBLE,), STRING), ((STRING,), STRING),
         ((BYTES,), STRING), ((BOOL,), STRING), member=False)
register("bool", conv.to_bool, ((BOOL,), BOOL), ((STRING,), BOOL), member=False)
register("bytes", conv.to_bytes, ((BYTES,), BYTES), ((STRING,), BYTES), member=False)
register("dyn", dyn, (("A",), DYN), member=False)
register("type", v.cel_type_of, (("A",), ("type", "A")), member=False)

# Names usable as type values (``type(x) == string``).
TYPE_IDENTS = {
    name: v.TYPE_VALUES[name]
    for name in ("bool", "int", "uint", "double", "string", "bytes", "list", "map", "null_type", "type")
}
TYPE_IDENT_TYPES = {name: ("type", name) for name in TYPE_IDENTS}
