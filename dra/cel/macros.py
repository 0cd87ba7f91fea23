"""CEL macros: ``has``, comprehensions, two-variable comprehensions, ``cel.bind``, optionals.

Comprehension semantics follow cel-go's expansions:

* ``all``/``exists`` absorb errors like ``&&``/``||``: ``[1, 0].all(x, 1 / x > 0)`` is an error,
  ``[1, 0].exists(x, 1 / x > 0)`` is true. ``all`` stops at the first false, ``exists`` at the
  first true.
* ``exists_one`` counts and propagates any error.
* ``map(x, [filter,] transform)``, ``filter(x, pred)``; ranges are lists (elements) or maps (keys).
* ``sortBy(x, key)`` (ext.lists): a stable sort by the key computed for each element.
* Two-variable forms (Kubernetes 1.32+): ``all(i, v, p)``, ``exists(i, v, p)``,
  ``existsOne(i, v, p)``, ``transformList(i, v, [p,] e)``, ``transformMap(k, v, [p,] e)``,
  ``transformMapEntry(k, v, [p,] e)``; over a list ``i`` is the index, over a map the key.

When the expression is metered (see :mod:`dra.cel.cost`) every iteration charges the static
cost of its body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from lark import Tree

from dra.cel import checks, loops
from dra.cel import estimate as E
from dra.cel import typesys as T
from dra.cel import values as v
from dra.cel.errors import EvalError, no_such_overload
from dra.cel.lookups import field_present

from dra.cel.node import Node

if TYPE_CHECKING:
    from dra.cel.compiler import Compiler


# Calls whose result can be much larger than their arguments: ``"".replace("", "0123456789")``
# nested eight times builds a 200-million-character string, which upstream stops with
# ``actual cost limit exceeded`` (cel-go charges every call); these make an expression metered.
_GROWTH_NAMES = frozenset(("replace", "join", "split", "format", "range", "repeat"))


def needs_metering(tree: Tree) -> bool:
    """Whether the expression's cost is not bounded by its size: a loop, a binding, or a call
    that can grow a value (metered expressions are charged as they run; others cannot come
    near the 1e6 limit)."""
    for sub in tree.iter_subtrees():
        if sub.data == "member_dot_arg":
            name = str(sub.children[1])
            if name in _METERED_NAMES or name in _GROWTH_NAMES:
                return True
    return False


def _var_name(c: "Compiler", tree: Any) -> str:
    from dra.cel.compiler import simple_ident_name

    name = simple_ident_name(tree)
    if name is None:
        raise c.error(tree, "argument must be a simple name")
    return name


def _var_types(c: "Compiler", where: Any, range_type: T.Type, two_vars: bool) -> tuple[T.Type, T.Type]:
    k = T.kind(range_type)
    if k == "list":
        return (T.INT, range_type[1]) if two_vars else (range_type[1], T.DYN)
    if k == "map":
        return (range_type[1], range_type[2]) if two_vars else (range_type[1], T.DYN)
    if range_type == T.DYN:
        return T.DYN, T.DYN
    raise c.error(where, f"expression of type '{T.fmt(range_type)}' cannot be range of a comprehension "
                         "(must be list, map, or dynamic)")


def _comprehension(c: "Compiler", tree: Tree, recv_tree: Any, args: list, macro: str) -> Node:
    spec = _SHAPES.get((macro, len(args)))
    if spec is None:
        return c.call(tree, macro, recv_tree, args, tree.children[1])
    kind, nvars = spec
    names = tuple(_var_name(c, a) for a in args[:nvars])
    if nvars == 2 and names[0] == names[1]:
        raise c.error(args[1], f"overlapping declaration name '{names[1]}' (type 'dyn' cannot be used as a name)")
    recv = c.visit(recv_tree)
    if recv.any_typed:
        raise c.error(recv_tree, "expression of type 'google.protobuf.Any' cannot be range of a comprehension "
                                 "(must be list, map, or dynamic)")
    first_type, second_type = _var_types(c, recv_tree, recv.typ, nvars == 2)
    is_list = T.kind(recv.typ) == "list"
    if nvars == 1:
        c.scopes.append({names[0]: (first_type, recv.elem_size)})
    else:
        first_size = 1 if is_list else recv.elem_size
        # a map's values: sized from the device declaration (a domain's attribute values <= 64)
        second_size = recv.elem_size if is_list else c.child_sizes(recv, None)[0]
        c.scopes.append({names[0]: (first_type, first_size), names[1]: (second_type, second_size)})
    try:
        bodies = [c.visit(a) for a in args[nvars:]]
    finally:
        c.scopes.pop()
    # Per iteration: cel-go's loop condition + step around the user's expressions.
    step_cost = E.MACRO_STEP_OVERHEAD[kind] + sum(b.cost for b in bodies)
    step_est = E.add(E.MACRO_STEP_OVERHEAD[kind], *(b.est for b in bodies))
    estimate = E.add(recv.est, E.MACRO_FIXED[kind], E.mul(recv.size, step_est))
    metered = c.metered
    run = loops.BUILDERS[kind](kind, names, [b.fn for b in bodies], step_cost, metered)
    recv_fn = recv.fn
    two = nvars == 2

    def f(env: dict) -> Any:
        items = loops.iter_items(recv_fn(env), two)
        scope = loops.Scope(env, names)
        try:
            return run(env, items)
        finally:
            scope.restore(env)

    result_type = _result_type(kind, bodies, recv.typ, first_type)
    size = 1 if kind in ("all", "exists", "exists_one") else recv.size
    return Node(f, result_type, cost=recv.cost + E.MACRO_FIXED[kind], est=estimate, size=size)


def _result_type(kind: str, bodies: list, range_type: T.Type, key_type: T.Type) -> T.Type:
    if kind in ("all", "exists", "exists_one"):
        return T.BOOL
    if kind in ("map", "transformList"):
        return T.list_of(bodies[-1].typ)
    if kind in ("filter", "sortBy"):
        return range_type if T.kind(range_type) == "list" else T.list_of(key_type)
    if kind == "transformMap":
        return T.map_of(key_type, bodies[-1].typ)
    return T.map_of(T.DYN, T.DYN)


# (macro name, argument count) -> (behaviour, number of loop variables)
_SHAPES = {
    ("all", 2): ("all", 1), ("all", 3): ("all", 2),
    ("exists", 2): ("exists", 1), ("exists", 3): ("exists", 2),
    ("exists_one", 2): ("exists_one", 1), ("exists_one", 3): ("exists_one", 2),
    ("existsOne", 3): ("exists_one", 2),
    ("map", 2): ("map", 1), ("map", 3): ("map", 1),
    ("filter", 2): ("filter", 1),
    ("sortBy", 2): ("sortBy", 1),
    ("transformList", 3): ("transformList", 2), ("transformList", 4): ("transformList", 2),
    ("transformMap", 3): ("transformMap", 2), ("transformMap", 4): ("transformMap", 2),
    ("transformMapEntry", 3): ("transformMapEntry", 2), ("transformMapEntry", 4): ("transformMapEntry", 2),
}


def _member_macro(name: str) -> Callable[..., Any]:
    def expand(c: "Compiler", tree: Tree, recv_tree: Any, args: list) -> Node:
        return _comprehension(c, tree, recv_tree, args, name)

    return expand


def _opt_map(c: "Compiler", tree: Tree, recv_tree: Any, args: list) -> Node:
    if len(args) != 2:
        return c.call(tree, str(tree.children[1]), recv_tree, args, tree.children[1])
    flat = str(tree.children[1]) == "optFlatMap"
    name = _var_name(c, args[0])
    recv = c.visit(recv_tree)
    inner = recv.typ[1] if T.kind(recv.typ) == "optional_type" else T.DYN
    c.scopes.append({name: (inner, E.UNKNOWN_SIZE)})
    try:
        body = c.visit(args[1])
    finally:
        c.scopes.pop()
    recv_fn, body_fn = recv.fn, body.fn

    def f(env: dict) -> Any:
        o = recv_fn(env)
        if type(o) is not v.Optional:
            raise no_such_overload("optMap", o)
        if not o.has_value():
            return o
        scope = loops.Scope(env, (name,))
        env[name] = o.value
        try:
            result = body_fn(env)
        finally:
            scope.restore(env)
        if flat:
            if type(result) is not v.Optional:
                raise no_such_overload("optFlatMap", result)
            return result
        return v.Optional(result)

    typ = body.typ if flat else T.optional_of(body.typ)
    # cel-go expands to  o.hasValue() ? optional.of(cel.bind(x, o.value(), e)) : optional.none()
    est = E.add(recv.est, 1, 1, E.LIST_CREATE, recv.est, 1, body.est)
    return Node(f, typ, cost=recv.cost + body.cost + 1, est=est)


def _has(c: "Compiler", tree: Tree, args: list) -> Node:
    target = args[0] if len(args) == 1 else None
    while isinstance(target, Tree) and len(target.children) == 1 and target.data != "ident":
        target = target.children[0]
    if not (isinstance(target, Tree) and target.data == "member_dot"):
        raise c.error(tree, "invalid argument to has() macro")
    recv_tree, field_token = target.children
    field = str(field_token)
    recv = c.visit(recv_tree)
    c.check(field_token, checks.select_type, recv.typ, field, c.device_fields)
    recv_fn = recv.fn

    def f(env: dict) -> bool:
        obj = recv_fn(env)
        if type(obj) is v.Optional:
            if not obj.has_value():
                return False
            obj = obj.value
        if isinstance(obj, dict):
            return field_present(obj, field)
        raise EvalError(f"invalid type for field selection: {v.type_name(obj)}")

    # Kubernetes makes presence tests cost-free: only the operand counts.
    return Node(f, T.BOOL, cost=recv.cost + 1, est=recv.est, size=1)


def _bind(c: "Compiler", tree: Tree, args: list) -> Node:
    if len(args) != 3:
        raise c.error(tree, "cel.bind() requires 3 arguments: a name, an initializer and an expression")
    name = _var_name(c, args[0])
    init = c.visit(args[1])
    c.scopes.append({name: (init.typ, init.size)})
    try:
        body = c.visit(args[2])
    finally:
        c.scopes.pop()
    init_fn, body_fn = init.fn, body.fn

    def f(env: dict) -> Any:
        value = init_fn(env)
        scope = loops.Scope(env, (name,))
        env[name] = value
        try:
            return body_fn(env)
        finally:
            scope.restore(env)

    # cel-go: a comprehension over [] with the binding as accumulator: 10 + init + body
    return Node(f, body.typ, cost=init.cost + body.cost + 1, est=E.add(E.LIST_CREATE, init.est, body.est),
                size=body.size)


MEMBER_MACROS: dict[str, Callable[..., Any]] = {name: _member_macro(name) for name, _ in _SHAPES}
MEMBER_MACROS["optMap"] = _opt_map
MEMBER_MACROS["optFlatMap"] = _opt_map
GLOBAL_MACROS: dict[str, Callable[..., Any]] = {"has": _has, "cel.bind": _bind}
_METERED_NAMES = frozenset(MEMBER_MACROS) | {"bind"}


def is_member_macro(name: str, arg_count: int) -> bool:
    """Whether ``x.name(args...)`` with this many arguments is a macro rather than a function."""
    return (name, arg_count) in _SHAPES or (name in ("optMap", "optFlatMap") and arg_count == 2)

