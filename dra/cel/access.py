"""Identifiers, field selection and indexing: the part of the compiler that reads data.

Chains rooted at a variable whose steps are field names or constant string keys are fused
into one lookup closure (:func:`dra.cel.lookups.path_lookup`); the chains rooted at ``device`` are
also recorded for the reference analysis (:meth:`AccessRules.referenced_paths`). Sizes of the
device's maps and values feed the cost estimate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lark import Token, Tree

from dra.cel import checks, funcs_core, lookups, ops
from dra.cel import estimate as E
from dra.cel import typesys as T
from dra.cel.node import DEVICE_FIELD_SIZES, Node, const_node

if TYPE_CHECKING:
    from dra.cel.compiler import Compiler


class AccessRules:
    """Mixin of :class:`dra.cel.compiler.Compiler` for identifiers, ``.field`` and ``[key]``."""

    def referenced_paths(self: "Compiler") -> list[tuple[str, ...]]:
        """The parts of the device the expression reads, as key paths below ``device``.

        A path is listed when its value is used as a whole (compared, passed to a function,
        iterated, tested with ``in``/``has``); paths only used to reach a longer path are not.
        Two devices that agree on all listed paths give the same result.
        """
        return sorted({n.path[1:] for n in self.device_nodes if not n.extended})

    def path_node(self: "Compiler", recv: Node, path: tuple, **fields: Any) -> Node:
        node = Node(lookups.path_lookup(path[0], path[1:]), path=path, **fields)
        if recv.device_root:
            recv.extended = True
            node.device_root = True
            self.device_nodes.append(node)
        return node

    # ------------------------------------------------------------------ identifiers

    def _ident(self, tree: Tree) -> Node:
        token: Token = tree.children[0]
        name = str(token)
        found = self.lookup_var(name)
        if found is not None and name == "device" and not self.metered and len(self.scopes) == 1:
            # Without loops or bindings the device itself is the evaluation env (no wrapper dict).
            node = Node(ops.identity, T.DEVICE, path=(None,), cost=1, est=1, size=1, elem_size=E.DOMAIN_MAX,
                        device_root=True)
            self.device_nodes.append(node)
            return node
        if found is not None:
            typ, size = found
            elem = E.DOMAIN_MAX if typ == T.DEVICE else E.UNKNOWN_SIZE
            node = Node(ops.variable(name), typ, path=(name,), cost=1, est=1, size=size, elem_size=elem,
                        device_root=typ == T.DEVICE and name == "device")
            if node.device_root:
                self.device_nodes.append(node)
            return node
        if name in funcs_core.TYPE_IDENTS:
            node = const_node(funcs_core.TYPE_IDENTS[name], funcs_core.TYPE_IDENT_TYPES[name], 1, 1)
            node.size = E.UNKNOWN_SIZE  # a type value has no size for cel-go's estimator (== costs "unknown")
            return node
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
        typ = self.check(field_token, checks.select_type, recv.typ, field, self.device_fields)
        size, elem = self.child_sizes(recv, field)
        # cel-go's estimator charges a selection on a map or object; on dyn it is free
        cost, est = recv.cost + 1, E.add(recv.est, 0 if recv.typ == T.DYN else 1)
        if recv.path is not None and T.kind(recv.typ) in (T.DEVICE, "map"):
            node = self.path_node(recv, recv.path + (field,), typ=typ, cost=cost, est=est, size=size, elem_size=elem)
            node.any_typed = _is_attribute_domain(recv) and not self.dyn_attributes
            return node
        recv_fn = recv.fn
        node = Node(lambda env: lookups.select_value(recv_fn(env), field), typ, cost=cost, est=est, size=size,
                    elem_size=elem)
        return self.fold(node, [recv])

    @staticmethod
    def child_sizes(recv: Node, field: str | None) -> tuple[int, int]:
        """(size, element size) of ``recv.field`` / ``recv[key]`` from the declared device bounds."""
        if recv.typ == T.DEVICE and field is not None:
            size = DEVICE_FIELD_SIZES.get(field, 1)
            return size, (E.DOMAIN_MAX if field in ("attributes", "capacity") else E.UNKNOWN_SIZE)
        path = recv.path
        if path is not None and path[0] in (None, "device") and len(path) > 1 and path[1] in ("attributes", "capacity"):
            if len(path) == 2:
                return E.MAP_ENTRIES_MAX, E.ID_MAX  # one domain's map
            if len(path) == 3:
                if path[1] == "capacity":
                    # a Quantity: the DRA size estimator knows only attribute values' bounds
                    return E.UNKNOWN_SIZE, E.UNKNOWN_SIZE
                return E.ATTRIBUTE_VALUE_MAX, E.UNKNOWN_SIZE  # one attribute value
        return E.UNKNOWN_SIZE, E.UNKNOWN_SIZE

    def _member_index(self, tree: Tree) -> Node:
        recv_tree, key_tree = tree.children
        recv, key = self.visit(recv_tree), self.visit(key_tree)
        typ = self.check(tree, checks.index_type, recv.typ, key.typ)
        key_name = key.const if key.is_const and type(key.const) is str else None
        size, elem = self.child_sizes(recv, key_name) if recv.typ != T.DEVICE else (E.UNKNOWN_SIZE, E.UNKNOWN_SIZE)
        cost, est = recv.cost + key.cost + 1, E.add(recv.est, key.est, 1)
        if recv.path is not None and key_name is not None and T.kind(recv.typ) in ("map", T.DEVICE):
            node = self.path_node(recv, recv.path + (key_name,), typ=typ, cost=cost, est=est, size=size,
                                  elem_size=elem)
            node.any_typed = _is_attribute_domain(recv) and not self.dyn_attributes
            return node
        recv_fn, key_fn = recv.fn, key.fn
        node = Node(lambda env: lookups.index_value(recv_fn(env), key_fn(env)), typ, cost=cost, est=est, size=size,
                    elem_size=elem, any_typed=_is_attribute_domain(recv) and not self.dyn_attributes)
        return self.fold(node, [recv, key])

    def _member_dot_opt(self, tree: Tree) -> Node:
        recv_tree, field_token = tree.children
        field = str(field_token)
        recv = self.visit(recv_tree)
        inner = self.check(field_token, checks.select_type, _unwrap_optional(recv.typ), field, self.device_fields)
        recv_fn = recv.fn
        return Node(lambda env: lookups.optional_select(recv_fn(env), field), T.optional_of(inner),
                    cost=recv.cost + 1, est=E.add(recv.est, 1))

    def _member_index_opt(self, tree: Tree) -> Node:
        recv_tree, key_tree = tree.children
        recv, key = self.visit(recv_tree), self.visit(key_tree)
        inner = self.check(tree, checks.index_type, _unwrap_optional(recv.typ), key.typ)
        recv_fn, key_fn = recv.fn, key.fn
        return Node(lambda env: lookups.optional_index(recv_fn(env), key_fn(env)), T.optional_of(inner),
                    cost=recv.cost + key.cost + 1, est=E.add(recv.est, key.est, 1))

    def _member_object(self, tree: Tree) -> Node:
        raise self.error(tree, "message construction is not supported in the DRA environment (no message types are declared)")


def _unwrap_optional(t: T.Type) -> T.Type:
    return t[1] if T.kind(t) == "optional_type" else t


def _is_attribute_domain(node: Node) -> bool:
    """Whether ``node`` is one domain's attribute map, ``device.attributes[dom]``."""
    path = node.path
    return path is not None and len(path) == 3 and path[0] in (None, "device") and path[1] == "attributes"
