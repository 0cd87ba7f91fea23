"""Reading values: field selection, indexing, optional access and fused lookup paths.

Generic ``x.f`` / ``x[k]`` follow CEL: maps (including the device and its domain maps) by key
(``no such key: k``), lists by int index (``index out of bounds``), optionals propagate. The
fused paths (:func:`path_lookup`) do the same work as one nested subscript for the chains
selectors are made of, falling back to the generic steps for anything unusual.
"""

from __future__ import annotations

from typing import Any, Callable

from dra.cel import values as v
from dra.cel.device import DomainMap
from dra.cel.errors import EvalError, no_such_overload

Eval = Callable[[dict], Any]


def _key_error(key: Any) -> EvalError:
    return EvalError(f"no such key: {key}")


def select_value(obj: Any, field: str) -> Any:
    """Generic ``obj.field`` (maps, the device, optionals)."""
    if isinstance(obj, dict):
        try:
            return obj[field]
        except KeyError:
            raise _key_error(field) from None
    if type(obj) is v.Optional:
        if not obj.has_value():
            return obj
        return optional_select(obj.value, field)
    raise EvalError(f"type '{v.type_name(obj)}' does not support field selection")


def index_value(obj: Any, key: Any) -> Any:
    """Generic ``obj[key]``."""
    if isinstance(obj, dict):
        tk = type(key)
        if tk is bool:
            found = v._bool_key_get(obj, key, v._MISSING)
            if found is v._MISSING:
                raise _key_error(key)
            return found
        if tk not in (str, int, v.UInt, float):
            raise EvalError(f"unsupported key type: {v.type_name(key)}")
        try:
            return obj[key]
        except KeyError:
            raise _key_error(key) from None
    if type(obj) is list:
        tk = type(key)
        if tk is float and key.is_integer():
            key = int(key)
        elif tk is not int and tk is not v.UInt:
            raise no_such_overload("_[_]", obj, key)
        if 0 <= key < len(obj):
            return obj[key]
        raise EvalError(f"index out of bounds: {key}")
    if type(obj) is v.Optional:
        if not obj.has_value():
            return obj
        return optional_index(obj.value, key)
    raise no_such_overload("_[_]", obj, key)


def optional_select(obj: Any, field: str) -> v.Optional:
    if type(obj) is v.Optional:
        if not obj.has_value():
            return obj
        obj = obj.value
    if isinstance(obj, dict):
        if field in obj or type(obj) is DomainMap:
            return v.Optional(obj[field])
        return v.OPTIONAL_NONE
    raise EvalError(f"type '{v.type_name(obj)}' does not support field selection")


def field_present(obj: dict, field: str) -> bool:
    """``has(obj.field)`` on a map.

    ``device.attributes``/``device.capacity`` answer every domain: Kubernetes wraps them in a
    map whose Find returns an empty map for an unknown key, and cel-go's presence tests and
    ``.?`` selections go through Find, so they see every domain as present (``in`` does not:
    it asks the map's Contains).
    """
    return field in obj or type(obj) is DomainMap


def optional_index(obj: Any, key: Any) -> v.Optional:
    if type(obj) is v.Optional:
        if not obj.has_value():
            return obj
        obj = obj.value
    try:
        return v.Optional(index_value(obj, key))
    except EvalError as ex:
        if str(ex).startswith(("no such key", "index out of bounds")):
            return v.OPTIONAL_NONE
        raise


def path_lookup(var: str | None, keys: tuple[str, ...]) -> Eval:
    """``var.k1.k2...`` (or ``var["k1"]...``) over nested maps as one closure.

    The specialised shapes cover the selector paths (``device.attributes["dom"].id`` is a
    4-step path). A non-map in the middle falls back to the generic per-step semantics, so
    errors and optionals behave exactly as without fusion. ``var=None`` means the evaluation
    env *is* the root object (the device itself, for selectors without loops or bindings).
    """
    if var is None:
        return _root_path_lookup(keys)

    def slow(env: dict) -> Any:
        obj = env[var]
        for key in keys:
            obj = select_value(obj, key)
        return obj

    n = len(keys)
    if n == 1:
        (k1,) = keys

        def f1(env: dict) -> Any:
            try:
                return env[var][k1]
            except KeyError as ex:
                raise _key_error(ex.args[0]) from None
            except TypeError:
                return slow(env)

        return f1
    if n == 2:
        k1, k2 = keys

        def f2(env: dict) -> Any:
            try:
                return env[var][k1][k2]
            except KeyError as ex:
                raise _key_error(ex.args[0]) from None
            except TypeError:
                return slow(env)

        return f2
    if n == 3:
        k1, k2, k3 = keys

        def f3(env: dict) -> Any:
            try:
                return env[var][k1][k2][k3]
            except KeyError as ex:
                raise _key_error(ex.args[0]) from None
            except TypeError:
                return slow(env)

        return f3

    def fn(env: dict) -> Any:
        try:
            obj = env[var]
            for key in keys:
                obj = obj[key]
            return obj
        except KeyError as ex:
            raise _key_error(ex.args[0]) from None
        except TypeError:
            return slow(env)

    return fn


def _root_path_lookup(keys: tuple[str, ...]) -> Eval:
    def slow(env: dict) -> Any:
        obj: Any = env
        for key in keys:
            obj = select_value(obj, key)
        return obj

    n = len(keys)
    if n == 1:
        (k1,) = keys

        def r1(env: dict) -> Any:
            try:
                return env[k1]
            except KeyError as ex:
                raise _key_error(ex.args[0]) from None

        return r1
    if n == 2:
        k1, k2 = keys

        def r2(env: dict) -> Any:
            try:
                return env[k1][k2]
            except KeyError as ex:
                raise _key_error(ex.args[0]) from None
            except TypeError:
                return slow(env)

        return r2
    if n == 3:
        k1, k2, k3 = keys

        def r3(env: dict) -> Any:
            try:
                return env[k1][k2][k3]
            except KeyError as ex:
                raise _key_error(ex.args[0]) from None
            except TypeError:
                return slow(env)

        return r3

    def rn(env: dict) -> Any:
        try:
            obj: Any = env
            for key in keys:
                obj = obj[key]
            return obj
        except KeyError as ex:
            raise _key_error(ex.args[0]) from None
        except TypeError:
            return slow(env)

    return rn
