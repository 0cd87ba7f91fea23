"""Evaluator closures for function calls.

Calls are specialised by arity (and a constant second argument, as in ``x.compareTo(C)``) so
the common case is one frame with no tuple building. A ``TypeError``/``ValueError``/... from
an implementation means the runtime argument types fit no overload and becomes CEL's
``no such overload`` error. In metered expressions, size-dependent functions charge the
size of their first argument (their receiver) before running.
"""

from __future__ import annotations

from typing import Any, Callable

from dra.cel import values as v
from dra.cel.cost import METER_KEY, size_cost
from dra.cel.errors import EvalError
from dra.cel.registry import Function

Eval = Callable[[dict], Any]
# apiserver library.CostEstimator.CallCost: "replace" and "split" cost the traversal plus the
# construction of the result, 2 * 0.1 per character of the receiver.
_DOUBLE_COST = frozenset(("replace", "split"))
PY_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError, ZeroDivisionError)


def build_call(fn: Function, fns: list[Eval], consts: list[Any], missing: Any, metered: bool) -> Eval:
    impl, name = fn.impl, fn.name

    def convert(args: tuple) -> EvalError:
        return EvalError(f"no such overload: {name}({', '.join(v.type_name(a) for a in args)})")

    n = len(fns)
    if metered and fn.size_cost and n:
        factor = 2 if name in _DOUBLE_COST else 1

        def charged(env: dict) -> Any:
            args = tuple(g(env) for g in fns)
            # charged before the call, so that a call the limit stops never builds its result
            env[METER_KEY].charge(size_cost(args[0]) * factor if factor == 1 else -(-len_of(args[0]) * 2 // 10))
            try:
                return impl(*args)
            except PY_ERRORS:
                raise convert(args) from None

        return charged
    if n == 0:
        return lambda env: impl()
    if n == 1:
        (a0,) = fns

        def call1(env: dict) -> Any:
            x = a0(env)
            try:
                return impl(x)
            except PY_ERRORS:
                raise convert((x,)) from None

        return call1
    if n == 2 and consts[1] is not missing:
        a0, c1 = fns[0], consts[1]

        def call_const(env: dict) -> Any:
            x = a0(env)
            try:
                return impl(x, c1)
            except PY_ERRORS:
                raise convert((x, c1)) from None

        return call_const
    if n == 2:
        a0, a1 = fns

        def call2(env: dict) -> Any:
            x, y = a0(env), a1(env)
            try:
                return impl(x, y)
            except PY_ERRORS:
                raise convert((x, y)) from None

        return call2

    def call_n(env: dict) -> Any:
        args = tuple(g(env) for g in fns)
        try:
            return impl(*args)
        except PY_ERRORS:
            raise convert(args) from None

    return call_n


def len_of(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return 0


def charge_result_size(f: Eval) -> Eval:
    """Wrap ``f`` so that it charges the size of its result (string/list concatenation)."""

    def charged(env: dict) -> Any:
        result = f(env)
        env[METER_KEY].charge(size_cost(result))
        return result

    return charged
