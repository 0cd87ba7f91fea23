"""CEL text -> type-checked Python closures for the DRA environment.

One pass over the lark tree (see :mod:`dra.cel.grammar`) produces, for every sub-expression,
a :class:`Node`: the evaluator closure ``fn(env)``, its static type, its value when it is a
compile-time constant, the fused lookup path for chains like ``device.attributes["dom"].id``,
and three cost figures (runtime charge, estimated maximum cost, estimated maximum size).

The static information drives the compile-time checks Kubernetes applies (rules in
:mod:`dra.cel.checks`) and lets constant work (``quantity("40Gi")``, ``semver("1.2.3")``)
happen once at compile time. Operators are built by :mod:`dra.cel.ops`, calls by
:mod:`dra.cel.calls`, macros (``has``, comprehensions, ``cel.bind``) by :mod:`dra.cel.macros`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from lark import Token, Tree

from dra.cel import checks, funcs_core, funcs_k8s, funcs_lists, funcs_net, funcs_strings  # noqa: F401
from dra.cel import estimate as E
from dra.cel import literals, macros, ops
from dra.cel import typesys as T
from dra.cel import values as v
from dra.cel.calls import PY_ERRORS, build_call, charge_result_size
from dra.cel.cost import METER_KEY, SELECTOR_MAX_COST, Meter, size_cost
from dra.cel.errors import CelCompileError, CostLimitExceeded, EvalAbort, EvalError, compile_error
from dra.cel.env import EXT_LISTS_FUNCTIONS, CelEnvironment
from dra.cel.grammar import parse
from dra.cel.semver import Semver
from dra.cel.access import AccessRules, _unwrap_optional
from dra.cel.node import DEVICE_FIELDS, MISSING, Node, const_node
from dra.cel.registry import FUNCTION_NAMES, lookup

__all__ = ["Compiler", "Node", "DEVICE_FIELDS", "simple_ident_name"]

_PASS_THROUGH = frozenset(("expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication",
                           "unary", "member", "primary", "paren_expr"))
_MAX_NESTING_MESSAGE = "expression recursion limit exceeded"

_RELATIONS = {
    "relation_lt": "<", "relation_le": "<=", "relation_gt": ">", "relation_ge": ">=",
    "relation_eq": "==", "relation_ne": "!=", "relation_in": "in",
}
_UNIT_EQUALITY = frozenset((T.QUANTITY, T.SEMVER, T.IP, T.CIDR))
_ARITH = {
    "addition_add": ("_+_", v.cel_add), "addition_sub": ("_-_", v.cel_sub),
    "multiplication_mul": ("_*_", v.cel_mul), "multiplication_div": ("_/_", v.cel_div),
    "multiplication_mod": ("_%_", v.cel_mod),
}


def _optional_elem(t: T.Type) -> T.Type:
    inner = _unwrap_optional(t)
    return T.NULL if inner == T.DYN else inner


_DERIVED_SCALARS = frozenset((T.BOOL, T.INT, T.STRING, T.DYN, "any", T.SEMVER))


class Compiler(AccessRules):
    """Compiles one expression; create a new one per expression."""

    def __init__(self, text: str, *, allow_multiple_allocations_field: bool = True,
                 env: CelEnvironment | None = None) -> None:
        self.text = text
        self.env = env if env is not None else CelEnvironment()
        self.device_fields = dict(DEVICE_FIELDS)
        if not allow_multiple_allocations_field or not self.env.allow_multiple_allocations_field:
            del self.device_fields["allowMultipleAllocations"]
        # attribute values are dyn (1.36+ list attributes) rather than google.protobuf.Any
        self.dyn_attributes = self.env.dyn_attributes
        # scopes: name -> (type, estimated max size of the value)
        self.scopes: list[dict[str, tuple[T.Type, int]]] = [{"device": (T.DEVICE, 1)}]
        self.metered = False
        # list literals passed straight to format() may mix types (cel-go exempts them)
        self.exempt_literals: set[int] = set()
        # every node that reads a path of the device (see referenced_paths)
        self.device_nodes: list[Node] = []

    # ------------------------------------------------------------------ entry point

    def compile(self, require_bool: bool = True, *, derived: bool = False) -> Node:
        """``derived``: a 1.37 derived attribute, which must give a scalar attribute type or
        (the allocator compiles in the stored environment, where lists are always allowed) a
        list of one (upstream ``validateOutputType``)."""
        tree = parse(self.text)
        self.metered = macros.needs_metering(tree)
        try:
            node = self.visit(tree)
        except RecursionError:
            raise self.error(tree, _MAX_NESTING_MESSAGE) from None
        if derived:
            typ = node.typ
            # lists: always for stored expressions, for new ones only with DRAListTypeAttributes
            lists = self.env.stored or self.env.list_type_attributes
            if not (typ in _DERIVED_SCALARS or (lists and T.kind(typ) == "list" and len(typ) == 2
                                                and typ[1] in _DERIVED_SCALARS)):
                allowed = " or a list of these scalars" if lists else ""
                raise self.error(tree, "must evaluate to a primitive scalar (string, integer, boolean, "
                                 f"semver){allowed}, not {T.fmt(self.shown(node))}")
        elif require_bool and node.typ not in (T.BOOL, T.DYN):
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

    @staticmethod
    def shown(node: Node) -> T.Type:
        """The type cel-go names in messages: attribute values are ``any`` before list attributes."""
        return "any" if node.any_typed else node.typ

    def operator_position(self, left_tree: Any) -> Any:
        """A stand-in token at the operator after ``left_tree`` (cel-go reports binary operator
        errors at the operator, not at the start of the expression)."""
        src = left_tree if isinstance(left_tree, Token) else getattr(left_tree, "meta", None)
        line, col = getattr(src, "end_line", None), getattr(src, "end_column", None)
        if not line or not col:
            return left_tree
        lines = self.text.split("\n")  # line is 1-based, col the column after the operand
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        while col - 1 < len(text) and text[col - 1] in " \t)":
            col += 1
        while col - 1 >= len(text) and line < len(lines):
            line, col, text = line + 1, 1, lines[line]
            while col - 1 < len(text) and text[col - 1] in " \t":
                col += 1
        return Token("OP", "", line=line, column=col)

    def check(self, where: Any, rule: Callable[..., Any], *args: Any) -> Any:
        """Apply a rule of dra.cel.checks, turning its error into a positioned compile error."""
        try:
            return rule(*args)
        except checks.TypeCheckError as ex:
            raise self.error(where, str(ex)) from None

    def lookup_var(self, name: str) -> tuple[T.Type, int] | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def visit(self, tree: Tree) -> Node:
        # Skip the grammar's one-child precedence levels (expr -> conditionalor -> ... ->
        # primary) without a frame each, so nesting depth costs little Python stack.
        while tree.data in _PASS_THROUGH and len(tree.children) == 1 and isinstance(tree.children[0], Tree):
            tree = tree.children[0]
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
        # A private meter: folding must work for closures built for metered expressions. Its
        # limit is the selector limit, so that folding never builds what evaluation could not
        # (nested ``replace`` calls), and what it charged stays part of the runtime cost.
        meter = Meter(limit=SELECTOR_MAX_COST)
        try:
            value = node.fn({METER_KEY: meter})
        except (EvalError, EvalAbort, CostLimitExceeded, MemoryError, *PY_ERRORS):
            return node
        # keep the static type (dyn(1) stays dyn), the costs and the size estimates of the
        # unfolded expression: cel-go's estimator does not fold (strings.quote('a') is sized
        # 2 * 1 + 2, string(123) is of unknown size) but knows a list literal's element sizes
        folded = const_node(value, node.typ, node.cost + meter.total, node.est)
        folded.size, folded.elem_size = node.size, node.elem_size
        return folded

    # ------------------------------------------------------------------ operators

    def _expr(self, tree: Tree) -> Node:
        if len(tree.children) == 1:
            return self.visit(tree.children[0])
        cond, then, other = (self.visit(c) for c in tree.children)
        typ = self.check(tree, checks.check_conditional, cond.typ, then.typ, other.typ)
        est = E.add(cond.est, max(then.est, other.est))
        size = max(then.size, other.size)
        if cond.is_const and type(cond.const) is bool:
            chosen = then if cond.const else other
            return Node(chosen.fn, typ, chosen.const, chosen.path, cond.cost + chosen.cost, est, size)
        return Node(ops.conditional(cond.fn, then.fn, other.fn), typ, cost=cond.cost + max(then.cost, other.cost),
                    est=est, size=size)

    def _logical(self, tree: Tree, op: str) -> Node:
        if len(tree.children) == 1:
            return self.visit(tree.children[0])
        # a || b || c parses left-deep; walk the spine iteratively and build one n-ary node.
        operand_trees = []
        spine = tree
        while spine.data == tree.data and len(spine.children) == 2:
            operand_trees.append(spine.children[1])
            spine = spine.children[0]
        operand_trees.append(spine)
        operands = [self.visit(t) for t in reversed(operand_trees)]
        for left, right in zip(operands, operands[1:]):
            if left.typ not in (T.BOOL, T.DYN) or right.typ not in (T.BOOL, T.DYN):
                raise self.error(tree, str(checks.no_overload(op, [left.typ, right.typ])))
        fns = [n.fn for n in operands]
        if len(fns) == 2:
            fn = (ops.logical_or if op == "_||_" else ops.logical_and)(*fns)
        else:
            fn = (ops.logical_or_n if op == "_||_" else ops.logical_and_n)(fns)
        node = Node(fn, T.BOOL, cost=sum(n.cost for n in operands), est=E.add(*(n.est for n in operands)), size=1)
        return self.fold(node, operands)

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
        args_est = E.add(left.est, right.est)
        if op in ("==", "!="):
            self.check(self.operator_position(op_tree.children[0]), checks.check_equality, op, left.typ, right.typ)
            fn = ops.equals(left.fn, right.fn, left.const, right.const, MISSING, negate=op == "!=")
            if op == "==" and left.typ == right.typ and left.typ in _UNIT_EQUALITY:
                # Kubernetes' CostEstimator: O(1) equality of its types -- for _==_ only; _!=_
                # gets cel-go's generic rule (a traversal of the smaller, here unknown, size)
                est = E.add(args_est, 1)
            else:
                est = E.add(args_est, E.factor(min(left.size, right.size), E.STRING_TRAVERSAL))
        elif op == "in":
            self.check(self.operator_position(op_tree.children[0]), checks.check_in, left.typ, right.typ)
            fn = self.membership(left, right)
            # a list is scanned (its size); with a dyn right side the list overload is a
            # candidate too and cel-go's estimate covers it
            kind = T.kind(right.typ)
            est = E.add(args_est, right.size if kind == "list" else max(1, right.size) if kind == T.DYN else 1)
        else:
            self.check(self.operator_position(op_tree.children[0]), checks.check_ordering, op, left.typ, right.typ,
                       [self.shown(left), self.shown(right)])
            fn = ops.ordering(op, left.fn, right.fn, right.const, MISSING)
            # string/bytes ordering is a traversal; between two dyn values it is a candidate too
            sized = left.typ in (T.STRING, T.BYTES) or right.typ in (T.STRING, T.BYTES) \
                or left.typ == right.typ == T.DYN
            est = E.add(args_est, E.factor(min(left.size, right.size), E.STRING_TRAVERSAL) if sized else 1)
        node = Node(fn, T.BOOL, cost=left.cost + right.cost + 1, est=est, size=1)
        return self.fold(node, [left, right])

    def membership(self, left: Node, right: Node) -> Callable[[dict], Any]:
        if right.is_const and type(right.const) is list and not right.const:
            # cel-go plans `x in []` as false without evaluating x (cost 0)
            return ops.constant(False)
        if right.is_const and isinstance(right.const, (list, dict)):
            # cel-go turns a constant list or map into a Go map for `in`; a semver item (not
            # hashable in Go) panics: "internal error: runtime error: hash of unhashable type"
            inner = ops.membership(left.fn, right.fn, right.const, MISSING)
            item_fn = left.fn

            def guarded(env: dict) -> Any:
                if type(item_fn(env)) is Semver:
                    raise EvalAbort("runtime error: hash of unhashable type cel.Semver")
                return inner(env)

            return guarded if left.typ in (T.DYN, T.SEMVER) else inner
        if not self.metered or right.is_const:
            return ops.membership(left.fn, right.fn, right.const, MISSING)
        item_fn, container_fn = left.fn, right.fn

        def charged(env: dict) -> Any:
            container = container_fn(env)
            env[METER_KEY].charge(size_cost(container))
            return v.cel_in(item_fn(env), container)

        return charged

    def _arith(self, tree: Tree) -> Node:
        if len(tree.children) == 1:
            return self.visit(tree.children[0])
        op_tree, right_tree = tree.children
        name, fn = _ARITH[op_tree.data]
        left, right = self.visit(op_tree.children[0]), self.visit(right_tree)
        result = self.check(tree, checks.match_signatures, name, [left.typ, right.typ],
                            checks.ARITH_SIGNATURES[name], False)
        evaluator = ops.binary(fn, left.fn, right.fn)
        size, est = 1, E.add(left.est, right.est, 1)
        if name == "_+_" and T.kind(result) in (T.STRING, T.BYTES, "list", T.DYN):
            size = E.add(left.size, right.size)
            if T.kind(result) != "list":
                est = E.add(left.est, right.est, E.factor(size, E.STRING_TRAVERSAL))
            if self.metered:
                evaluator = charge_result_size(evaluator)
        node = Node(evaluator, result, cost=left.cost + right.cost + 1, est=est, size=size)
        return self.fold(node, [left, right])

    _addition = _arith
    _multiplication = _arith

    def _unary(self, tree: Tree) -> Node:
        if len(tree.children) == 1:
            return self.visit(tree.children[0])
        op_tree, operand_tree = tree.children
        operand = self.visit(operand_tree)
        if op_tree.data == "unary_not":
            self.check(tree, checks.check_bool, operand.typ, "!_")
            fn, typ = ops.logical_not(operand.fn), T.BOOL
        else:
            self.check(tree, checks.check_negation, operand.typ)
            fn, typ = ops.unary(v.cel_neg, operand.fn), operand.typ
        node = Node(fn, typ, cost=operand.cost + 1, est=E.add(operand.est, 1), size=1)
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
        parsers = {
            "INT_LIT": (literals.parse_int, T.INT), "UINT_LIT": (literals.parse_uint, T.UINT),
            "FLOAT_LIT": (literals.parse_double, T.DOUBLE), "STRING_LIT": (literals.parse_string, T.STRING),
            "MLSTRING_LIT": (literals.parse_string, T.STRING), "BYTES_LIT": (literals.parse_bytes, T.BYTES),
        }
        if kind in parsers:
            parse_literal, typ = parsers[kind]
            try:
                return const_node(parse_literal(text), typ)
            except ValueError as ex:
                raise self.error(token, str(ex)) from None
        if kind == "BOOL_LIT":
            return const_node(text == "true", T.BOOL)
        if kind == "NULL_LIT":
            return const_node(None, T.NULL)
        raise self.error(token, f"unsupported literal {text}")

    def _list_lit(self, tree: Tree) -> Node:
        entries: list[tuple[Node, bool]] = []  # (element, is an optional element [?x])
        for elem in tree.children[0].children if tree.children else []:
            inner = elem.children[0]
            if isinstance(inner, Tree) and inner.data == "optelem":
                entries.append((self.optional_entry(inner.children[0]), True))
            else:
                entries.append((self.visit(inner), False))
        elems = [n for n, _ in entries]
        # an optional element of unknown type (?optional.none()) fits anything, as in cel-go
        types = [_optional_elem(n.typ) if optional else n.typ for n, optional in entries]
        elem_type = T.DYN if id(tree) in self.exempt_literals else self.check_homogeneous(elems, types)
        node = Node(ops.make_list([(n.fn, optional) for n, optional in entries]), T.list_of(elem_type),
                    cost=10 + sum(e.cost for e in elems), est=E.add(E.LIST_CREATE, *(e.est for e in elems)),
                    size=len(elems), elem_size=max((e.size for e in elems), default=0))
        return self.fold(node, elems)

    def optional_entry(self, tree: Tree) -> Node:
        node = self.visit(tree)
        if node.typ != T.DYN and T.kind(node.typ) != "optional_type":
            raise self.error(tree, f"expected type 'optional_type' but found '{T.fmt(node.typ)}'")
        return node

    def check_homogeneous(self, nodes: list[Node], types: list[T.Type] | None = None) -> T.Type:
        types = types if types is not None else [n.typ for n in nodes]
        # an attribute value typed ``any`` (before list attributes) is its own type here
        types = ["any" if t == T.DYN and n.any_typed else t for n, t in zip(nodes, types)]
        try:
            elem = checks.homogeneous(types)
            return T.DYN if elem == "any" else elem
        except checks.TypeCheckError as ex:
            concrete = [(n, t) for n, t in zip(nodes, types)
                        if t != T.NULL and (t in (T.DYN, "any") or T.is_concrete(t))]
            culprit = next(n for n, t in concrete if t != concrete[0][1])
            raise self.error(culprit.tree, str(ex)) from None

    def _map_lit(self, tree: Tree) -> Node:
        keys: list[Node] = []
        vals: list[Node] = []
        optional: list[bool] = []
        for entry in tree.children[0].children if tree.children else []:
            keys.append(self.visit(entry.children[0]))
            is_optional = entry.data == "optmapentry"
            vals.append(self.optional_entry(entry.children[1]) if is_optional else self.visit(entry.children[1]))
            optional.append(is_optional)
        for k in keys:
            if k.typ not in (T.STRING, T.INT, T.UINT, T.BOOL, T.DYN):
                raise self.error(k.tree, f"unsupported map key type: {T.fmt(k.typ)}")
        if id(tree) in self.exempt_literals:
            key_type, val_type = T.DYN, T.DYN
        else:
            val_types = [_optional_elem(n.typ) if o else n.typ for n, o in zip(vals, optional)]
            key_type, val_type = self.check_homogeneous(keys), self.check_homogeneous(vals, val_types)
        items = keys + vals
        fn = ops.make_map([(k.fn, val.fn, o) for k, val, o in zip(keys, vals, optional)])
        node = Node(fn, T.map_of(key_type, val_type), cost=30 + sum(i.cost for i in items),
                    est=E.add(E.MAP_CREATE, *(i.est for i in items)), size=len(keys),
                    elem_size=max((k.size for k in keys), default=0))
        return self.fold(node, items)

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
        name = str(name_token)
        if name in macros.GLOBAL_MACROS:
            return macros.GLOBAL_MACROS[name](self, tree, args)
        return self.call(tree, name, None, args, name_token)

    _dot_ident_arg = _ident_arg

    def _member_dot_arg(self, tree: Tree) -> Node:
        recv_tree, name_token = tree.children[0], tree.children[1]
        args = list(tree.children[2].children) if len(tree.children) > 2 else []
        name = str(name_token)
        qualified = self.qualified_name(recv_tree)
        if qualified is not None and self.lookup_var(qualified.split(".")[0]) is None:
            full = f"{qualified}.{name}"
            if full in macros.GLOBAL_MACROS:
                return macros.GLOBAL_MACROS[full](self, tree, args)
            return self.call(tree, full, None, args, name_token)
        # cel-go positions a member call at its opening parenthesis
        paren = Token("OP", "(", line=name_token.line, column=(name_token.column or 1) + len(name)) \
            if isinstance(name_token, Token) and name_token.line else name_token
        if macros.is_member_macro(name, len(args)):
            if name in EXT_LISTS_FUNCTIONS and not self.env.ext_lists:
                raise self.error(paren, f"undeclared reference to '{name}' (in container '')")
            return macros.MEMBER_MACROS[name](self, tree, recv_tree, args)
        return self.call(tree, name, recv_tree, args, paren)

    def call(self, tree: Tree, name: str, recv_tree: Any, arg_trees: list, where: Any) -> Node:
        member = recv_tree is not None
        if name == "format":
            # cel-go exempts every aggregate literal inside format()'s arguments
            for a in arg_trees:
                self.exempt_literals.update(id(t) for t in a.iter_subtrees() if t.data in ("list_lit", "map_lit"))
        nodes = ([self.visit(recv_tree)] if member else []) + [self.visit(a) for a in arg_trees]
        fn = lookup(name, member, len(nodes))
        types = [n.typ for n in nodes]
        if (name == "includes" and not self.env.includes) or (name in EXT_LISTS_FUNCTIONS and not self.env.ext_lists):
            raise self.error(where, f"undeclared reference to '{name}' (in container '')")
        if name == "includes" and fn is not None and self.env.includes_limit is not None:
            fn = dataclasses.replace(fn, impl=funcs_lists.includes_limited)
        if fn is None:
            if name in FUNCTION_NAMES:
                raise self.error(where, str(checks.no_overload(name, types, member)))
            raise self.error(where, f"undeclared reference to '{name}' (in container '')")
        result = self.check(where, checks.match_signatures, name, types,
                            [(o.params, o.result) for o in fn.overloads], member)
        self.validate_regex(name, nodes, where)
        est, size = E.call_cost(name, [n.est for n in nodes], [n.size for n in nodes], member,
                                [n.typ for n in nodes], [n.const if n.is_const else None for n in nodes])
        fns = [n.fn for n in nodes]
        if name == "distinct" and member:
            fns[0] = _panic_on_error(fns[0])
        evaluator = build_call(fn, fns, [n.const for n in nodes], MISSING, self.metered)
        node = Node(evaluator, result, cost=1 + sum(n.cost for n in nodes), est=est,
                    size=size if size is not None else (1 if result in (T.BOOL, T.INT, T.UINT, T.DOUBLE) else E.UNKNOWN_SIZE),
                    elem_size=nodes[0].elem_size if name == "dyn" else E.UNKNOWN_SIZE)
        return self.fold(node, nodes) if fn.foldable else node

    def validate_regex(self, name: str, nodes: list[Node], where: Any) -> None:
        # Kubernetes validates constant regular expressions at compile time.
        if name in ("matches", "find", "findAll") and len(nodes) >= 2 and nodes[1].is_const \
                and type(nodes[1].const) is str:
            try:
                funcs_core.compile_regex(nodes[1].const)
            except EvalError as ex:
                raise self.error(where, f"invalid matches argument: {ex}") from None


def _panic_on_error(receiver: Callable[[dict], Any]) -> Callable[[dict], Any]:
    """ext.Lists' distinct is called even with an error receiver and then panics in Go."""

    def run(env: dict) -> Any:
        try:
            return receiver(env)
        except EvalError:
            raise EvalAbort("interface conversion: *types.Err is not traits.Lister: missing method Add") from None

    return run


def simple_ident_name(tree: Any) -> str | None:
    while isinstance(tree, Tree) and len(tree.children) == 1 and tree.data != "ident":
        tree = tree.children[0]
    if isinstance(tree, Tree) and tree.data == "ident":
        return str(tree.children[0])
    return None
