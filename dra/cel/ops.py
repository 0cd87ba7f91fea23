"""Closure builders for CEL operators, with fast paths for the shapes selectors use.

Every builder takes child evaluators ``f(env) -> value`` and returns a new one. Constant
operands are bound into the closure (``attr == "mig"`` becomes one type check and one string
comparison). ``&&``/``||`` implement CEL's commutative error absorption: an error on one side
is returned only when the other side does not decide the result.
"""

from __future__ import annotations

from typing import Any, Callable

from dra.cel import values as v
from dra.cel.errors import EvalError, no_such_overload

Eval = Callable[[dict], Any]
_NUM = (int, v.UInt, float)


def logical_or(left: Eval, right: Eval) -> Eval:
    def f(env: dict) -> Any:
        try:
            a = left(env)
            if a is True:
                return True
            if a is not False:
                raise no_such_overload("_||_", a)
        except EvalError as error:
            try:
                b = right(env)
            except EvalError:
                raise error from None
            if b is True:
                return True
            raise error from None
        b = right(env)
        if b is True or b is False:
            return b
        raise no_such_overload("_||_", b)

    return f


def logical_and(left: Eval, right: Eval) -> Eval:
    def f(env: dict) -> Any:
        try:
            a = left(env)
            if a is False:
                return False
            if a is not True:
                raise no_such_overload("_&&_", a)
        except EvalError as error:
            try:
                b = right(env)
            except EvalError:
                raise error from None
            if b is False:
                return False
            raise error from None
        b = right(env)
        if b is True or b is False:
            return b
        raise no_such_overload("_&&_", b)

    return f


def logical_or_n(operands: list[Eval]) -> Eval:
    """``a || b || c ...`` in one frame: true wins, then the first error, else false."""

    def f(env: dict) -> Any:
        error: EvalError | None = None
        for operand in operands:
            try:
                value = operand(env)
            except EvalError as ex:
                error = error or ex
                continue
            if value is True:
                return True
            if value is not False:
                error = error or no_such_overload("_||_", value)
        if error is not None:
            raise error
        return False

    return f


def logical_and_n(operands: list[Eval]) -> Eval:
    """``a && b && c ...`` in one frame: false wins, then the first error, else true."""

    def f(env: dict) -> Any:
        error: EvalError | None = None
        for operand in operands:
            try:
                value = operand(env)
            except EvalError as ex:
                error = error or ex
                continue
            if value is False:
                return False
            if value is not True:
                error = error or no_such_overload("_&&_", value)
        if error is not None:
            raise error
        return True

    return f


def conditional(cond: Eval, then: Eval, other: Eval) -> Eval:
    def f(env: dict) -> Any:
        c = cond(env)
        if c is True:
            return then(env)
        if c is False:
            return other(env)
        raise no_such_overload("_?_:_", c)

    return f


def logical_not(operand: Eval) -> Eval:
    def f(env: dict) -> Any:
        a = operand(env)
        if a is True:
            return False
        if a is False:
            return True
        raise no_such_overload("!_", a)

    return f


def equals(left: Eval, right: Eval, left_const: Any, right_const: Any, missing: Any, negate: bool) -> Eval:
    """``==`` / ``!=`` with CEL heterogeneous equality."""
    if right_const is missing and left_const is not missing:
        left, right, left_const, right_const = right, left, right_const, left_const
    if right_const is not missing:
        c = right_const
        tc = type(c)
        if tc is str:
            if negate:
                return lambda env: not ((x := left(env)) == c and type(x) is str)
            return lambda env: (x := left(env)) == c and type(x) is str
        if tc is bool or c is None:
            if negate:
                return lambda env: left(env) is not c
            return lambda env: left(env) is c
        if tc in _NUM:
            if negate:
                return lambda env: not ((x := left(env)) == c and type(x) in _NUM)
            return lambda env: (x := left(env)) == c and type(x) in _NUM
    eq = v.cel_eq
    if negate:
        return lambda env: not eq(left(env), right(env))
    return lambda env: eq(left(env), right(env))


def ordering(op: str, left: Eval, right: Eval, right_const: Any, missing: Any) -> Eval:
    generic = {"<": v.cel_lt, "<=": v.cel_le, ">": v.cel_gt, ">=": v.cel_ge}[op]
    if right_const is not missing and type(right_const) is int:
        c = right_const
        # Fast path for the usual `x >= 0` / `attr > 4`: plain ints compare natively.
        if op == ">=":
            return lambda env: x >= c if type(x := left(env)) is int else generic(x, c)
        if op == ">":
            return lambda env: x > c if type(x := left(env)) is int else generic(x, c)
        if op == "<=":
            return lambda env: x <= c if type(x := left(env)) is int else generic(x, c)
        return lambda env: x < c if type(x := left(env)) is int else generic(x, c)
    return lambda env: generic(left(env), right(env))


def membership(item: Eval, container: Eval, container_const: Any, missing: Any) -> Eval:
    if isinstance(container_const, list) and container_const and all(type(x) is str for x in container_const):
        members = frozenset(container_const)
        return lambda env: type(x := item(env)) is str and x in members
    cel_in = v.cel_in
    return lambda env: cel_in(item(env), container(env))


def binary(fn: Callable[[Any, Any], Any], left: Eval, right: Eval) -> Eval:
    return lambda env: fn(left(env), right(env))


def unary(fn: Callable[[Any], Any], operand: Eval) -> Eval:
    return lambda env: fn(operand(env))


def constant(value: Any) -> Eval:
    return lambda env: value


def variable(name: str) -> Eval:
    return lambda env: env[name]


def identity(env: dict) -> Any:
    return env


# ------------------------------------------------------------------ select / index


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
        if field in obj:
            return v.Optional(obj[field])
        return v.OPTIONAL_NONE
    raise EvalError(f"type '{v.type_name(obj)}' does not support field selection")


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
