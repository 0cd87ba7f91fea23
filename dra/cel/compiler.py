"""CEL text -> type-checked Python closures for the DRA environment.

One pass over the lark tree (see :mod:`dra.cel.grammar`) produces, for every sub-expression,
a :class:`Node`: the evaluator closure ``fn(env)``, its static type, its value when it is a
compile-time constant, and -- for chains like ``device.attributes["dom"].id`` -- the fused
lookup path. The static information drives the compile-time checks Kubernetes applies
(undeclared names, no matching overload on known types, undefined device fields,
heterogeneous list literals, invalid regex literals, non-bool result) and lets constant
work (``quantity("40Gi")``, ``semver("1.2.3")``) happen once at compile time.

Macros (``has``, ``all``/``exists``/``exists_one``/``map``/``filter``, the two-variable
comprehensions and ``cel.bind``) live in :mod:`dra.cel.macros`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from lark import Token, Tree

from dra.cel import funcs_core, funcs_k8s, funcs_lists, funcs_net, funcs_strings  # noqa: F401  (registers functions)
from dra.cel import literals, ops, typesys as T
from dra.cel import values as v
from dra.cel.cost import METER_KEY, Meter, size_cost
from dra.cel.errors import CelCompileError, CostLimitExceeded, EvalError, compile_error
from dra.cel.grammar import parse
from dra.cel.registry import FUNCTION_NAMES, Function, lookup

_MISSING = object()
_PY_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError, ZeroDivisionError)

# The object type of the ``device`` variable.
DEVICE_FIELDS: dict[str, T.Type] = {
    "driver": T.STRING,
    "attributes": T.map_of(T.STRING, T.map_of(T.STRING, T.DYN)),
    "capacity": T.map_of(T.STRING, T.map_of(T.STRING, T.QUANTITY)),
    "allowMultipleAllocations": T.BOOL,
}

_RELATIONS = {
    "relation_lt": "<", "relation_le": "<=", "relation_gt": ">", "relation_ge": ">=",
    "relation_eq": "==", "relation_ne": "!=", "relation_in": "in",
}
_ARITH = {
    "addition_add": ("_+_", v.cel_add), "addition_sub": ("_-_", v.cel_sub),
    "multiplication_mul": ("_*_", v.cel_mul), "multiplication_div": ("_/_", v.cel_div),
    "multiplication_mod": ("_%_", v.cel_mod),
}
_ARITH_SIGS: dict[str, list[tuple[T.Type, T.Type, T.Type]]] = {
    "_+_": [(t, t, t) for t in (T.INT, T.UINT, T.DOUBLE, T.STRING, T.BYTES)] + [(T.list_of("A"), T.list_of("A"), T.list_of("A"))],
    "_-_": [(t, t, t) for t in (T.INT, T.UINT, T.DOUBLE)],
    "_*_": [(t, t, t) for t in (T.INT, T.UINT, T.DOUBLE)],
    "_/_": [(t, t, t) for t in (T.INT, T.UINT, T.DOUBLE)],
    "_%_": [(t, t, t) for t in (T.INT, T.UINT)],
}
_ORDERED = (T.INT, T.UINT, T.DOUBLE, T.STRING, T.BYTES, T.BOOL)


@dataclass
class Node:
    fn: Callable[[dict], Any]
    typ: T.Type
    const: Any = _MISSING
    path: tuple[str, ...] | None = None  # (variable, key, key, ...) when fusable
    cost: int = 0  # static cost of one evaluation, loops excluded
    tree: Any = None

    @property
    def is_const(self) -> bool:
        return self.const is not _MISSING


def const_node(value: Any, typ: T.Type, cost: int = 0) -> Node:
    return Node(ops.constant(value), typ, value, None, cost)


class Compiler:
    """Compiles one expression; create a new one per expression."""

    def __init__(self, text: str, *, allow_multiple_allocations_field: bool = True) -> None:
        self.text = text
        self.device_fields = dict(DEVICE_FIELDS)
        if not allow_multiple_allocations_field:
            del self.device_fields["allowMultipleAllocations"]
        self.scopes: list[dict[str, T.Type]] = [{"device": T.DEVICE}]
        self.metered = False
        # list literals passed straight to format() may mix types (cel-go exempts them)
        self.exempt_literals: set[int] = set()

    # ------------------------------------------------------------------ entry point

    def compile(self, require_bool: bool = True) -> Node:
        tree = parse(self.text)
        from dra.cel.macros import needs_metering

        self.metered = needs_metering(tree)
        node = self.visit(tree)
        if require_bool and node.typ not in (T.BOOL, T.DYN):
            raise self.error(tree, f"must evaluate to bool or the unknown type, not {T.fmt(node.typ)}")
        return node

    # ------------------------------------------------------------------ helpers

    def error(self, where: Any, message: str) -> CelCompileError:
        line, column = self.position(where)
        return compile_error(line, column, message)

    @staticmethod
    def position(where: Any) -> tuple[int, int]:
        if isinstance(where, Token):
            return where.line or 1, where.column or 1
        if isinstance(where, Tree):
            meta = where.meta
            if not getattr(meta, "empty", True):
                return meta.line, meta.column
            for child in where.children:
                line, column = Compiler.position(child)
                if (line, column) != (1, 1):
                    return line, column
        return 1, 1

    def lookup_var(self, name: str) -> T.Type | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def visit(self, tree: Tree) -> Node:
        method = getattr(self, "_" + tree.data, None)
        if method is None:
            raise self.error(tree, f"unsupported syntax: {tree.data}")
        node = method(tree)
        node.tree = tree
        return node

    def fold(self, node: Node, children: list[Node]) -> Node:
        """Evaluate a node with all-constant children now (errors stay runtime errors)."""
        if not all(c.is_const for c in children):
            return node
        try:
            # A private meter: folding must work for closures built for metered expressions.
            value = node.fn({METER_KEY: Meter(limit=1 << 62)})
        except (EvalError, CostLimitExceeded):
            return node
        except _PY_ERRORS:
            return node
        cost = node.cost
        # keep the static type: dyn(1) stays dyn even though its value is known
        return const_node(value, node.typ, cost)

    # ------------------------------------------------------------------ grammar rules

    def _expr(self, tree: Tree) -> Node:
        if len(tree.children) == 1:
            return self.visit(tree.children[0])
        cond, then, other = (self.visit(c) for c in tree.children)
        self.expect_bool(cond, tree.children[0], "_?_:_")
        if cond.is_const and type(cond.const) is bool:
            chosen = then if cond.const else other
            return Node(chosen.fn, T.join(then.typ, other.typ), chosen.const, chosen.path, cond.cost + chosen.cost)
        node = Node(ops.conditional(cond.fn, then.fn, other.fn), T.join(then.typ, other.typ),
                    cost=cond.cost + max(then.cost, other.cost))
        return node

    def expect_bool(self, node: Node, where: Any, op: str) -> None:
        if node.typ not in (T.BOOL, T.DYN):
            raise self.error(where, f"found no matching overload for '{op}' applied to '({T.fmt(node.typ)})'")

    def _logical(self, tree: Tree, op: str) -> Node:
        if len(tree.children) == 1:
            return self.visit(tree.children[0])
        left, right = self.visit(tree.children[0]), self.visit(tree.children[1])
        for n in (left, right):
            if n.typ not in (T.BOOL, T.DYN):
                raise self.error(tree, f"found no matching overload for '{op}' applied to "
                                       f"'({T.fmt(left.typ)}, {T.fmt(right.typ)})'")
        build = ops.logical_or if op == "_||_" else ops.logical_and
        node = Node(build(left.fn, right.fn), T.BOOL, cost=left.cost + right.cost)
        return self.fold(node, [left, right])

    def _conditionalor(self, tree: Tree) -> Node:
        return self._logical(tree, "_||_")

    def _conditionaland(self, tree: Tree) -> Node:
        return self._logical(tree, "_&&_")

    def _relation(self, tree: Tree) -> Node:
        if len(tree.children) == 1:
            return self.visit(tree.children[0])
        op_tree, right_tree = tree.children
        op = _RELATIONS[op_tree.data]
        left, right = self.visit(op_tree.children[0]), self.visit(right_tree)
        cost = left.cost + right.cost + 1
        if op in ("==", "!="):
            self.check_equality(tree, op, left, right)
            fn = ops.equals(left.fn, right.fn, left.const, right.const, _MISSING, negate=op == "!=")
        elif op == "in":
            self.check_in(tree, left, right)
            fn = ops.membership(left.fn, right.fn, right.const, _MISSING)
            if self.metered and not right.is_const:
                item_fn, container_fn = left.fn, right.fn

                def fn(env: dict) -> Any:
                    container = container_fn(env)
                    env[METER_KEY].charge(size_cost(container))
                    return v.cel_in(item_fn(env), container)
        else:
            self.check_ordering(tree, op, left, right)
            fn = ops.ordering(op, left.fn, right.fn, right.const, _MISSING)
        return self.fold(Node(fn, T.BOOL, cost=cost), [left, right])

    def check_equality(self, where: Any, op: str, left: Node, right: Node) -> None:
        a, b = left.typ, right.typ
        if T.is_concrete(a) and T.is_concrete(b) and a != b and T.NULL not in (a, b):
            if not (a in T.NUMERIC and b in T.NUMERIC) and T.kind(a) == T.kind(b) == a:
                raise self.error(where, f"found no matching overload for '_{op}_' applied to '({T.fmt(a)}, {T.fmt(b)})'")
            if T.kind(a) != T.kind(b) and not (a in T.NUMERIC and b in T.NUMERIC):
                raise self.error(where, f"found no matching overload for '_{op}_' applied to '({T.fmt(a)}, {T.fmt(b)})'")

    def check_in(self, where: Any, left: Node, right: Node) -> None:
        k = T.kind(right.typ)
        if k not in ("list", "map", T.DYN):
            raise self.error(where, f"found no matching overload for '@in' applied to "
                                    f"'({T.fmt(left.typ)}, {T.fmt(right.typ)})'")

    def check_ordering(self, where: Any, op: str, left: Node, right: Node) -> None:
        a, b = left.typ, right.typ
        if a == T.DYN or b == T.DYN:
            return
        if a == b and a in _ORDERED:
            return
        if a in T.NUMERIC and b in T.NUMERIC:
            return
        raise self.error(where, f"found no matching overload for '_{op}_' applied to '({T.fmt(a)}, {T.fmt(b)})'")

    def _arith(self, tree: Tree) -> Node:
        if len(tree.children) == 1:
            return self.visit(tree.children[0])
        op_tree, right_tree = tree.children
        name, fn = _ARITH[op_tree.data]
        left, right = self.visit(op_tree.children[0]), self.visit(right_tree)
        result = self.check_signatures(tree, name, [left.typ, right.typ],
                                       [((a, b), r) for a, b, r in _ARITH_SIGS[name]], member=False)
        evaluator = ops.binary(fn, left.fn, right.fn)
        if self.metered and name == "_+_" and T.kind(result) in (T.STRING, T.BYTES, "list", T.DYN):
            evaluator = self.charge_result_size(evaluator)
        return self.fold(Node(evaluator, result, cost=left.cost + right.cost + 1), [left, right])

    _addition = _arith
    _multiplication = _arith

    def _unary(self, tree: Tree) -> Node:
        if len(tree.children) == 1:
            return self.visit(tree.children[0])
        op_tree, operand_tree = tree.children
        operand = self.visit(operand_tree)
        if op_tree.data == "unary_not":
            self.expect_bool(operand, tree, "!_")
            node = Node(ops.logical_not(operand.fn), T.BOOL, cost=operand.cost + 1)
        else:
            if operand.typ not in (T.INT, T.DOUBLE, T.DYN):
                raise self.error(tree, f"found no matching overload for '-_' applied to '({T.fmt(operand.typ)})'")
            node = Node(ops.unary(v.cel_neg, operand.fn), operand.typ, cost=operand.cost + 1)
        return self.fold(node, [operand])

    def _member(self, tree: Tree) -> Node:
        return self.visit(tree.children[0])

    _primary = _member

    def _paren_expr(self, tree: Tree) -> Node:
        return self.visit(tree.children[0])

    # ------------------------------------------------------------------ literals

    def _literal(self, tree: Tree) -> Node:
        token: Token = tree.children[0]
        kind, text = token.type, str(token)
        try:
            if kind == "INT_LIT":
                return const_node(literals.parse_int(text), T.INT)
            if kind == "UINT_LIT":
                return const_node(literals.parse_uint(text), T.UINT)
            if kind == "FLOAT_LIT":
                return const_node(literals.parse_double(text), T.DOUBLE)
            if kind in ("STRING_LIT", "MLSTRING_LIT"):
                return const_node(literals.parse_string(text), T.STRING)
            if kind == "BYTES_LIT":
                return const_node(literals.parse_bytes(text), T.BYTES)
        except ValueError as ex:
            raise self.error(token, str(ex)) from None
        if kind == "BOOL_LIT":
            return const_node(text == "true", T.BOOL)
        if kind == "NULL_LIT":
            return const_node(None, T.NULL)
        raise self.error(token, f"unsupported literal {text}")

    def _list_lit(self, tree: Tree) -> Node:
        elems = [self.visit(c) for c in tree.children[0].children] if tree.children else []
        elem_type: T.Type = T.DYN
        if elems and id(tree) not in self.exempt_literals:
            concrete = [e for e in elems if e.typ != T.DYN and e.typ != T.NULL]
            if concrete:
                elem_type = concrete[0].typ
                for e in concrete[1:]:
                    if e.typ != elem_type:
                        raise self.error(e.tree, f"expected type '{T.fmt(elem_type)}' but found '{T.fmt(e.typ)}'")
                if len(concrete) != len(elems):
                    elem_type = T.DYN
        fns = [e.fn for e in elems]
        node = Node(lambda env: [f(env) for f in fns], T.list_of(elem_type), cost=10 + sum(e.cost for e in elems))
        return self.fold(node, elems)

    def _map_lit(self, tree: Tree) -> Node:
        items = [self.visit(c) for c in tree.children[0].children] if tree.children else []
        keys, vals = items[0::2], items[1::2]
        for k in keys:
            if k.typ not in (T.STRING, T.INT, T.UINT, T.BOOL, T.DYN):
                raise self.error(k.tree, f"unsupported map key type: {T.fmt(k.typ)}")
        key_type = self.homogeneous(keys)
        val_type = self.homogeneous(vals)
        pairs = [(k.fn, val.fn) for k, val in zip(keys, vals)]

        def build(env: dict) -> dict:
            out: dict = {}
            for kf, vf in pairs:
                key = kf(env)
                if type(key) not in (str, int, v.UInt, bool):
                    raise EvalError(f"unsupported key type: {v.type_name(key)}")
                if key in out:
                    raise EvalError(f"Failed with repeated key: {key}")
                out[key] = vf(env)
            return out

        node = Node(build, T.map_of(key_type, val_type), cost=30 + sum(i.cost for i in items))
        return self.fold(node, items)

    def homogeneous(self, nodes: list[Node]) -> T.Type:
        concrete = [n for n in nodes if n.typ not in (T.DYN, T.NULL)]
        if not concrete:
            return T.DYN
        first = concrete[0].typ
        for n in concrete[1:]:
            if n.typ != first:
                raise self.error(n.tree, f"expected type '{T.fmt(first)}' but found '{T.fmt(n.typ)}'")
        return first if len(concrete) == len(nodes) else T.DYN

    # ------------------------------------------------------------------ identifiers

    def _ident(self, tree: Tree) -> Node:
        token: Token = tree.children[0]
        name = str(token)
        typ = self.lookup_var(name)
        if typ is not None:
            return Node(ops.variable(name), typ, path=(name,), cost=1)
        if name in funcs_core.TYPE_IDENTS:
            return const_node(funcs_core.TYPE_IDENTS[name], funcs_core.TYPE_IDENT_TYPES[name], 1)
        raise self.error(token, f"undeclared reference to '{name}' (in container '')")

    def _dot_ident(self, tree: Tree) -> Node:
        return self._ident(tree)

    # ------------------------------------------------------------------ select and index

    def _member_dot(self, tree: Tree) -> Node:
        recv_tree, field_token = tree.children
        field = str(field_token)
        qualified = self.qualified_name(recv_tree)
        if qualified is not None and self.lookup_var(qualified.split(".")[0]) is None:
            raise self.error(field_token, f"undeclared reference to '{qualified}.{field}' (in container '')")
        recv = self.visit(recv_tree)
        typ = self.select_type(recv, field, field_token)
        cost = recv.cost + 1
        if recv.path is not None and T.kind(recv.typ) in (T.DEVICE, "map"):
            path = recv.path + (field,)
            return Node(ops.path_lookup(path[0], path[1:]), typ, path=path, cost=cost)
        recv_fn = recv.fn
        node = Node(lambda env: ops.select_value(recv_fn(env), field), typ, cost=cost)
        return self.fold(node, [recv])

    def select_type(self, recv: Node, field: str, where: Any) -> T.Type:
        t = recv.typ
        k = T.kind(t)
        if t == T.DEVICE:
            if field not in self.device_fields:
                raise self.error(where, f"undefined field '{field}'")
            return self.device_fields[field]
        if k == "map":
            return t[2]
        if t == T.DYN:
            return T.DYN
        if k == "optional_type":
            inner = Node(recv.fn, t[1])
            return T.optional_of(self.select_type(inner, field, where))
        raise self.error(where, f"type '{T.fmt(t)}' does not support field selection")

    def _member_index(self, tree: Tree) -> Node:
        recv_tree, key_tree = tree.children
        recv, key = self.visit(recv_tree), self.visit(key_tree)
        typ = self.index_type(tree, recv, key)
        cost = recv.cost + key.cost + 1
        if (recv.path is not None and key.is_const and type(key.const) is str
                and T.kind(recv.typ) in ("map", T.DEVICE)):
            path = recv.path + (key.const,)
            return Node(ops.path_lookup(path[0], path[1:]), typ, path=path, cost=cost)
        recv_fn, key_fn = recv.fn, key.fn
        node = Node(lambda env: ops.index_value(recv_fn(env), key_fn(env)), typ, cost=cost)
        return self.fold(node, [recv, key])

    def index_type(self, where: Any, recv: Node, key: Node) -> T.Type:
        t, kt = recv.typ, key.typ
        k = T.kind(t)
        if k == "list":
            if kt in (T.INT, T.UINT, T.DYN):
                return t[1]
        elif k == "map":
            if kt == T.DYN or t[1] == T.DYN or kt == t[1] or (kt in T.NUMERIC and t[1] in T.NUMERIC):
                return t[2]
        elif t == T.DYN:
            return T.DYN
        elif k == "optional_type":
            return T.optional_of(self.index_type(where, Node(recv.fn, t[1]), key))
        raise self.error(where, f"found no matching overload for '_[_]' applied to '({T.fmt(t)}, {T.fmt(kt)})'")

    def _member_dot_opt(self, tree: Tree) -> Node:
        recv_tree, field_token = tree.children
        field = str(field_token)
        recv = self.visit(recv_tree)
        inner = T.optional_of(self.select_type(Node(recv.fn, _unwrap_optional(recv.typ)), field, field_token))
        recv_fn = recv.fn
        return Node(lambda env: ops.optional_select(recv_fn(env), field), inner, cost=recv.cost + 1)

    def _member_index_opt(self, tree: Tree) -> Node:
        recv_tree, key_tree = tree.children
        recv, key = self.visit(recv_tree), self.visit(key_tree)
        inner = T.optional_of(self.index_type(tree, Node(recv.fn, _unwrap_optional(recv.typ)), key))
        recv_fn, key_fn = recv.fn, key.fn
        return Node(lambda env: ops.optional_index(recv_fn(env), key_fn(env)), inner, cost=recv.cost + key.cost + 1)

    def _member_object(self, tree: Tree) -> Node:
        raise self.error(tree, "message construction is not supported in the DRA environment (no message types are declared)")

    # ------------------------------------------------------------------ calls

    def qualified_name(self, tree: Any) -> str | None:
        """``a.b.c`` as a dotted name if ``tree`` is a plain identifier chain, else None."""
        while isinstance(tree, Tree) and tree.data in ("member", "primary") and len(tree.children) == 1:
            tree = tree.children[0]
        if not isinstance(tree, Tree):
            return None
        if tree.data in ("ident", "dot_ident"):
            return str(tree.children[0])
        if tree.data == "member_dot":
            head = self.qualified_name(tree.children[0])
            return f"{head}.{tree.children[1]}" if head is not None else None
        return None

    def _ident_arg(self, tree: Tree) -> Node:
        name_token = tree.children[0]
        args = list(tree.children[1].children) if len(tree.children) > 1 else []
        from dra.cel import macros

        name = str(name_token)
        if name in macros.GLOBAL_MACROS:
            return macros.GLOBAL_MACROS[name](self, tree, args)
        return self.call(tree, name, None, args, name_token)

    _dot_ident_arg = _ident_arg

    def _member_dot_arg(self, tree: Tree) -> Node:
        recv_tree, name_token = tree.children[0], tree.children[1]
        args = list(tree.children[2].children) if len(tree.children) > 2 else []
        name = str(name_token)
        from dra.cel import macros

        qualified = self.qualified_name(recv_tree)
        if qualified is not None and self.lookup_var(qualified.split(".")[0]) is None:
            full = f"{qualified}.{name}"
            if full in macros.GLOBAL_MACROS:
                return macros.GLOBAL_MACROS[full](self, tree, args)
            return self.call(tree, full, None, args, name_token)
        if macros.is_member_macro(name, len(args)):
            return macros.MEMBER_MACROS[name](self, tree, recv_tree, args)
        return self.call(tree, name, recv_tree, args, name_token)

    def call(self, tree: Tree, name: str, recv_tree: Any, arg_trees: list, where: Any) -> Node:
        member = recv_tree is not None
        if name == "format":
            for a in arg_trees:
                self.exempt_literals.add(id(_innermost(a)))
        nodes = ([self.visit(recv_tree)] if member else []) + [self.visit(a) for a in arg_trees]
        fn = lookup(name, member, len(nodes))
        types = [n.typ for n in nodes]
        if fn is None:
            if name in FUNCTION_NAMES:
                raise self.error(where, f"found no matching overload for '{name}' applied to '{_signature(types, member)}'")
            raise self.error(where, f"undeclared reference to '{name}' (in container '')")
        result = self.check_signatures(where, name, types, [(o.params, o.result) for o in fn.overloads], member)
        self.validate_regex(name, nodes, where)
        node = Node(self.call_closure(fn, nodes), result, cost=1 + sum(n.cost for n in nodes))
        if fn.foldable:
            return self.fold(node, nodes)
        return node

    def check_signatures(self, where: Any, name: str, types: list[T.Type],
                         signatures: list[tuple[tuple[T.Type, ...], T.Type]], member: bool) -> T.Type:
        results = []
        for params, result in signatures:
            bindings: dict[str, T.Type] = {}
            if len(params) == len(types) and all(T.unify(p, a, bindings) for p, a in zip(params, types)):
                results.append(T.substitute(result, bindings))
        if not results:
            raise self.error(where, f"found no matching overload for '{name}' applied to '{_signature(types, member)}'")
        first = results[0]
        return first if all(r == first for r in results) else T.DYN

    def validate_regex(self, name: str, nodes: list[Node], where: Any) -> None:
        # Kubernetes validates constant regular expressions at compile time.
        if name in ("matches", "find", "findAll") and len(nodes) >= 2 and nodes[1].is_const \
                and type(nodes[1].const) is str:
            try:
                funcs_core.compile_regex(nodes[1].const)
            except EvalError as ex:
                raise self.error(where, f"invalid matches argument: {ex}") from None

    def call_closure(self, fn: Function, nodes: list[Node]) -> Callable[[dict], Any]:
        impl, name = fn.impl, fn.name
        fns = [n.fn for n in nodes]
        consts = [n.const for n in nodes]

        def convert(ex: Exception, args: tuple) -> EvalError:
            return EvalError(f"no such overload: {name}({', '.join(v.type_name(a) for a in args)})")

        n = len(fns)
        if self.metered and fn.size_cost and n:
            def metered(env: dict) -> Any:
                args = tuple(g(env) for g in fns)
                env[METER_KEY].charge(size_cost(args[0]))
                try:
                    return impl(*args)
                except _PY_ERRORS as ex:
                    raise convert(ex, args) from None

            return metered
        if n == 0:
            def f(env: dict) -> Any:
                return impl()
        elif n == 1:
            (a0,) = fns

            def f(env: dict) -> Any:
                x = a0(env)
                try:
                    return impl(x)
                except _PY_ERRORS as ex:
                    raise convert(ex, (x,)) from None
        elif n == 2 and consts[1] is not _MISSING:
            a0, c1 = fns[0], consts[1]

            def f(env: dict) -> Any:
                x = a0(env)
                try:
                    return impl(x, c1)
                except _PY_ERRORS as ex:
                    raise convert(ex, (x, c1)) from None
        elif n == 2:
            a0, a1 = fns

            def f(env: dict) -> Any:
                x, y = a0(env), a1(env)
                try:
                    return impl(x, y)
                except _PY_ERRORS as ex:
                    raise convert(ex, (x, y)) from None
        else:
            def f(env: dict) -> Any:
                args = tuple(g(env) for g in fns)
                try:
                    return impl(*args)
                except _PY_ERRORS as ex:
                    raise convert(ex, args) from None
        return f

    @staticmethod
    def charge_result_size(f: Callable[[dict], Any]) -> Callable[[dict], Any]:
        """Wrap ``f`` so that it charges the size of its result (concatenation)."""

        def charged(env: dict) -> Any:
            result = f(env)
            env[METER_KEY].charge(size_cost(result))
            return result

        return charged


def _unwrap_optional(t: T.Type) -> T.Type:
    return t[1] if T.kind(t) == "optional_type" else t


def _innermost(tree: Any) -> Any:
    while isinstance(tree, Tree) and len(tree.children) == 1 and tree.data not in ("ident", "list_lit", "literal"):
        tree = tree.children[0]
    return tree


def _simple_ident_name(tree: Any) -> str | None:
    while isinstance(tree, Tree) and len(tree.children) == 1 and tree.data != "ident":
        tree = tree.children[0]
    if isinstance(tree, Tree) and tree.data == "ident":
        return str(tree.children[0])
    return None


def _signature(types: list[T.Type], member: bool) -> str:
    if member:
        return f"{T.fmt(types[0])}.({', '.join(T.fmt(t) for t in types[1:])})"
    return f"({', '.join(T.fmt(t) for t in types)})"
