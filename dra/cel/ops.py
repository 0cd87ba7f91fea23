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
    return _logical_2(left, right, decisive=True, operator="_||_")


def logical_and(left: Eval, right: Eval) -> Eval:
    return _logical_2(left, right, decisive=False, operator="_&&_")


def _logical_2(left: Eval, right: Eval, *, decisive: bool, operator: str) -> Eval:
    """Two operands, the common case: the left error is kept only if the right side does not
    decide the result."""
    neutral = not decisive

    def f(env: dict) -> Any:
        try:
            a = left(env)
            if a is decisive:
                return decisive
            if a is not neutral:
                raise no_such_overload(operator, a)
        except EvalError as error:
            try:
                b = right(env)
            except EvalError:
                raise error from None
            if b is decisive:
                return decisive
            raise error from None
        b = right(env)
        if b is True or b is False:
            return b
        raise no_such_overload(operator, b)

    return f


def logical_or_n(operands: list[Eval]) -> Eval:
    """``a || b || c ...`` in one frame: true wins, then the first error, else false."""
    return _logical_n(operands, decisive=True, operator="_||_")


def logical_and_n(operands: list[Eval]) -> Eval:
    """``a && b && c ...`` in one frame: false wins, then the first error, else true."""
    return _logical_n(operands, decisive=False, operator="_&&_")


def _logical_n(operands: list[Eval], *, decisive: bool, operator: str) -> Eval:
    """CEL's commutative short-circuit: the decisive value wins over errors in any operand."""
    neutral = not decisive

    def f(env: dict) -> Any:
        error: EvalError | None = None
        for operand in operands:
            try:
                value = operand(env)
            except EvalError as ex:
                error = error or ex
                continue
            if value is decisive:
                return decisive
            if value is not neutral:
                error = error or no_such_overload(operator, value)
        if error is not None:
            raise error
        return neutral

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


def _mismatch(x: Any, c: Any) -> bool:
    """False, or cel-go's error when the left operand is a Kubernetes type (Semver, Quantity, ...)
    compared with another type (their Equal is "same type or no such overload")."""
    if v._strict(type(x)):
        raise no_such_overload("_==_", x, c)
    return False


def equals(left: Eval, right: Eval, left_const: Any, right_const: Any, missing: Any, negate: bool) -> Eval:
    """``==`` / ``!=`` with CEL heterogeneous equality.

    Kubernetes' own types fail ``==`` against another type when they are the left operand;
    ``!=`` never fails (cel-go negates only a boolean Equal result, an error reads as "not equal").
    """
    strict = not negate  # the runtime value is the left operand (Kubernetes types' Equal may fail)
    if right_const is missing and left_const is not missing:
        left, right, left_const, right_const = right, left, right_const, left_const
        strict = False
    if right_const is not missing:
        c = right_const
        tc = type(c)
        if tc is str:
            if negate:
                return lambda env: not ((x := left(env)) == c and type(x) is str)
            return lambda env: ((x := left(env)) == c and type(x) is str) or (strict and _mismatch(x, c))
        if c is None:
            if negate:
                return lambda env: left(env) is not c
            return lambda env: left(env) is c
        if tc is bool:
            if negate:
                return lambda env: left(env) is not c
            return lambda env: (x := left(env)) is c or (strict and _mismatch(x, c))
        if tc in _NUM:
            if negate:
                return lambda env: not ((x := left(env)) == c and type(x) in _NUM)
            return lambda env: ((x := left(env)) == c and type(x) in _NUM) or (strict and _mismatch(x, c))
    if negate:
        quiet = v.equal_or_false
        return lambda env: not quiet(left(env), right(env))
    eq = v.cel_eq
    if strict:
        return lambda env: eq(left(env), right(env))
    return lambda env: eq(right(env), left(env))


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


def make_list(entries: list[tuple[Eval, bool]]) -> Eval:
    """A list literal; entries flagged optional (``[?x]``) are included only when present."""
    fns = [f for f, _ in entries]
    if not any(optional for _, optional in entries):
        return lambda env: [f(env) for f in fns]

    def build(env: dict) -> list:
        out = []
        for f, optional in entries:
            value = f(env)
            if optional:
                if type(value) is not v.Optional:
                    raise no_such_overload("optional list element", value)
                if value.has_value():
                    out.append(value.value)
            else:
                out.append(value)
        return out

    return build


def make_map(entries: list[tuple[Eval, Eval, bool]]) -> Eval:
    """A map literal; ``{?k: v}`` entries are included only when ``v`` is present."""

    def build(env: dict) -> dict:
        out: dict = {}
        for key_fn, value_fn, optional in entries:
            key = key_fn(env)
            if type(key) not in (str, int, v.UInt, bool):
                raise EvalError(f"unsupported key type: {v.type_name(key)}")
            value = value_fn(env)
            if optional:
                if type(value) is not v.Optional:
                    raise no_such_overload("optional map entry", value)
                if not value.has_value():
                    continue
                value = value.value
            if key in out:
                raise EvalError(f"Failed with repeated key: {key}")
            out[key] = value
        return out

    return build
