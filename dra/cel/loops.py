"""Runtime loops of the comprehension macros (what ``all``, ``exists``, ``map``... execute).

Each builder gets the loop-variable names, the body evaluators, the per-iteration cost and
whether the expression is metered, and returns ``run(env, items)``. Loop variables live in the
evaluation env for the duration of the loop (:class:`Scope` restores what was there).
"""

from __future__ import annotations

from typing import Any, Callable

from dra.cel import values as v
from dra.cel.cost import METER_KEY
from dra.cel.errors import EvalError, no_such_overload

_MISSING = object()


def iter_items(value: Any, two_vars: bool) -> Any:
    if type(value) is list:
        return enumerate(value) if two_vars else value
    if isinstance(value, dict):
        return value.items() if two_vars else list(value)
    raise EvalError(f"expression of type '{v.type_name(value)}' cannot be range of a comprehension "
                    "(must be list, map, or dynamic)")


class Scope:
    """Binds loop variables in the evaluation env and restores what was there before."""

    __slots__ = ("names", "saved")

    def __init__(self, env: dict, names: tuple[str, ...]) -> None:
        self.names = names
        self.saved = [env.get(n, _MISSING) for n in names]

    def restore(self, env: dict) -> None:
        for name, old in zip(self.names, self.saved):
            if old is _MISSING:
                env.pop(name, None)
            else:
                env[name] = old


def _meter(env: dict, metered: bool) -> Any:
    return env[METER_KEY] if metered else None


def _bind_one(names: tuple[str, ...]) -> Callable[[dict, Any], None]:
    if len(names) == 1:
        (a,) = names

        def bind1(env: dict, item: Any) -> None:
            env[a] = item

        return bind1
    a, b = names

    def bind2(env: dict, item: Any) -> None:
        env[a], env[b] = item

    return bind2


def _build_quantifier(kind: str, names: tuple, bodies: list, step: int, metered: bool) -> Any:
    (pred,) = bodies
    bind = _bind_one(names)
    is_all = kind == "all"

    def run(env: dict, items: Any) -> bool:
        meter = _meter(env, metered)
        error: EvalError | None = None
        for item in items:
            if meter is not None:
                meter.charge(step)
            bind(env, item)
            try:
                r = pred(env)
            except EvalError as ex:
                error = error or ex
                continue
            if r is not True and r is not False:
                error = error or no_such_overload("_&&_" if is_all else "_||_", r)
            elif r is not is_all:
                return r
        if error is not None:
            raise error
        return is_all

    return run


def _build_exists_one(kind: str, names: tuple, bodies: list, step: int, metered: bool) -> Any:
    (pred,) = bodies
    bind = _bind_one(names)

    def run(env: dict, items: Any) -> bool:
        meter = _meter(env, metered)
        count = 0
        for item in items:
            if meter is not None:
                meter.charge(step)
            bind(env, item)
            r = pred(env)
            if r is True:
                count += 1
            elif r is not False:
                raise no_such_overload("exists_one", r)
        return count == 1

    return run


def _filtered(bodies: list) -> tuple[Any, Any]:
    if len(bodies) == 2:
        return bodies[0], bodies[1]
    return None, bodies[0]


def _build_map(kind: str, names: tuple, bodies: list, step: int, metered: bool) -> Any:
    pred, transform = _filtered(bodies)
    bind = _bind_one(names)

    def run(env: dict, items: Any) -> list:
        meter = _meter(env, metered)
        out = []
        for item in items:
            if meter is not None:
                meter.charge(step)
            bind(env, item)
            if pred is not None:
                keep = pred(env)
                if keep is False:
                    continue
                if keep is not True:
                    raise no_such_overload("_?_:_", keep)
            out.append(transform(env))
        return out

    return run


def _build_filter(kind: str, names: tuple, bodies: list, step: int, metered: bool) -> Any:
    (pred,) = bodies
    var = names[0]

    def run(env: dict, items: Any) -> list:
        meter = _meter(env, metered)
        out = []
        for item in items:
            if meter is not None:
                meter.charge(step)
            env[var] = item
            keep = pred(env)
            if keep is True:
                out.append(item)
            elif keep is not False:
                raise no_such_overload("_?_:_", keep)
        return out

    return run


def _build_transform_map(kind: str, names: tuple, bodies: list, step: int, metered: bool) -> Any:
    pred, transform = _filtered(bodies)
    entry = kind == "transformMapEntry"
    a, b = names

    def run(env: dict, items: Any) -> dict:
        meter = _meter(env, metered)
        out: dict = {}
        for key, value in items:
            if meter is not None:
                meter.charge(step)
            env[a], env[b] = key, value
            if pred is not None:
                keep = pred(env)
                if keep is False:
                    continue
                if keep is not True:
                    raise no_such_overload("_?_:_", keep)
            result = transform(env)
            if entry:
                if not isinstance(result, dict):
                    raise no_such_overload("transformMapEntry", result)
                for k, val in result.items():
                    if k in out:
                        raise EvalError(f"insert failed: key {k} already exists")
                    out[k] = val
            else:
                out[key] = result
        return out

    return run


def _build_sort_by(kind: str, names: tuple, bodies: list, step: int, metered: bool) -> Any:
    (key_fn,) = bodies
    var = names[0]

    def run(env: dict, items: Any) -> list:
        meter = _meter(env, metered)
        keyed = []
        for item in items:
            if meter is not None:
                meter.charge(step)
            env[var] = item
            keyed.append((key_fn(env), item))
        if keyed:
            first = type(keyed[0][0])
            if first not in (int, v.UInt, float, str, bytes, bool) or any(type(k) is not first for k, _ in keyed):
                raise EvalError("sortBy: keys must all be of one comparable type")
        keyed.sort(key=lambda pair: pair[0])
        return [item for _, item in keyed]

    return run


BUILDERS = {
    "all": _build_quantifier, "exists": _build_quantifier, "exists_one": _build_exists_one,
    "map": _build_map, "transformList": _build_map, "filter": _build_filter,
    "transformMap": _build_transform_map, "transformMapEntry": _build_transform_map, "sortBy": _build_sort_by,
}
