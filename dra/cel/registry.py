"""The function table of the DRA CEL environment.

Each entry is keyed by ``(name, is_member_call, argument_count)`` where the count includes the
receiver of a member call (``s.contains(x)`` -> ``("contains", True, 2)``). An entry holds the
declared overloads (for the compile-time checks) and one Python implementation that takes
the evaluated arguments and dispatches on their runtime types itself (CEL values are dynamic;
static types only narrow them).

Implementations raise :class:`~dra.cel.errors.EvalError` for CEL errors; a ``TypeError``,
``ValueError`` or ``AttributeError`` escaping one is reported as ``no such overload`` by the
call site (that is what a wrong runtime type means in CEL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from dra.cel.typesys import Type


@dataclass(frozen=True)
class Overload:
    params: tuple[Type, ...]
    result: Type


@dataclass
class Function:
    name: str
    member: bool
    arity: int
    impl: Callable[..., Any]
    overloads: list[Overload] = field(default_factory=list)
    # "size": runtime cost grows with the size of the first argument (strings, lists);
    # only charged when the expression is metered (see dra.cel.cost).
    size_cost: bool = False
    # False for functions whose result must not be computed at compile time.
    foldable: bool = True


FUNCTIONS: dict[tuple[str, bool, int], Function] = {}
FUNCTION_NAMES: set[str] = set()


def register(
    name: str,
    impl: Callable[..., Any],
    *signatures: tuple[tuple[Type, ...], Type],
    member: bool,
    size_cost: bool = False,
    foldable: bool = True,
) -> None:
    """Declare ``name`` with the given ``(params, result)`` signatures, all of one arity."""
    arities = {len(params) for params, _ in signatures}
    if len(arities) != 1:
        raise ValueError(f"{name}: register one arity at a time")
    arity = arities.pop()
    key = (name, member, arity)
    if key in FUNCTIONS:
        raise ValueError(f"duplicate function registration {key}")
    FUNCTIONS[key] = Function(
        name, member, arity, impl, [Overload(tuple(p), r) for p, r in signatures], size_cost, foldable
    )
    FUNCTION_NAMES.add(name)


def lookup(name: str, member: bool, arity: int) -> Function | None:
    return FUNCTIONS.get((name, member, arity))
