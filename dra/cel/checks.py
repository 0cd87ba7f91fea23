"""Static type rules of the DRA CEL environment (what the API server rejects at compile time).

Pure functions over :mod:`dra.cel.typesys` types. They raise :class:`TypeCheckError` with
cel-go's wording; the compiler adds the ``ERROR: <input>:L:C:`` position.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from dra.cel import typesys as T

_ORDERED = (T.INT, T.UINT, T.DOUBLE, T.STRING, T.BYTES, T.BOOL)
# object and opaque types of the Kubernetes libraries: null is assignable to them
_NULLABLE = frozenset((T.QUANTITY, T.SEMVER, T.IP, T.CIDR, T.URL, T.DEVICE))

ARITH_SIGNATURES: dict[str, list[tuple[tuple[T.Type, ...], T.Type]]] = {
    "_+_": [((t, t), t) for t in (T.INT, T.UINT, T.DOUBLE, T.STRING, T.BYTES)]
    + [((T.list_of("A"), T.list_of("A")), T.list_of("A"))],
    "_-_": [((t, t), t) for t in (T.INT, T.UINT, T.DOUBLE)],
    "_*_": [((t, t), t) for t in (T.INT, T.UINT, T.DOUBLE)],
    "_/_": [((t, t), t) for t in (T.INT, T.UINT, T.DOUBLE)],
    "_%_": [((t, t), t) for t in (T.INT, T.UINT)],
}


class TypeCheckError(Exception):
    """A static type error; the message is cel-go's."""


def signature_text(types: list[T.Type], member: bool) -> str:
    types = [_shown(t) for t in types]
    if member:
        return f"{T.fmt(types[0])}.({', '.join(T.fmt(t) for t in types[1:])})"
    return f"({', '.join(T.fmt(t) for t in types)})"


def _shown(t: T.Type) -> T.Type:
    # cel-go names the null type "null" in checker messages
    if t == T.NULL:
        return "null"
    if isinstance(t, tuple):
        return (t[0],) + tuple(_shown(p) for p in t[1:])
    return t


def no_overload(name: str, types: list[T.Type], member: bool = False) -> TypeCheckError:
    return TypeCheckError(f"found no matching overload for '{name}' applied to '{signature_text(types, member)}'")


def match_signatures(name: str, types: list[T.Type], signatures: Iterable[tuple[tuple[T.Type, ...], T.Type]],
                     member: bool) -> T.Type:
    """The result type of calling ``name`` with arguments of ``types``."""
    results = []
    for params, result in signatures:
        bindings: dict[str, T.Type] = {}
        if len(params) == len(types) and all(T.unify(p, a, bindings) for p, a in zip(params, types)):
            results.append(T.substitute(result, bindings))
    if not results:
        raise no_overload(name, types, member)
    first = results[0]
    return first if all(r == first for r in results) else T.DYN


def check_bool(t: T.Type, op: str) -> None:
    if t not in (T.BOOL, T.DYN):
        raise no_overload(op, [t])


def check_equality(op: str, a: T.Type, b: T.Type) -> None:
    # cel-go declares _==_ as (A, A): two different concrete types do not unify, even two
    # numeric ones (1 == 1.0 is rejected; at runtime, with dyn, it is true). Type values are
    # left alone, and null compares with anything nullable (dyn, optionals).
    if a == b or (T.kind(a) == "type" and T.kind(b) == "type"):
        return
    if not (T.is_concrete(a) and T.is_concrete(b)):
        if T.NULL in (a, b) or compatible(a, b):
            return
        raise no_overload(f"_{op}_", [a, b])
    if T.kind(a) == "type" and T.kind(b) == "type":
        return
    if T.NULL in (a, b) and (T.kind(b if a == T.NULL else a) == "optional_type" or (b if a == T.NULL else a) in _NULLABLE):
        return
    raise no_overload(f"_{op}_", [a, b])


def check_conditional(cond: T.Type, then: T.Type, other: T.Type) -> T.Type:
    """``c ? a : b``: both branches must have one type (dyn and null aside)."""
    check_bool(cond, "_?_:_")
    if then == other or T.DYN in (then, other) or not (T.is_concrete(then) and T.is_concrete(other)):
        return then if then == other else T.DYN
    if T.NULL in (then, other):
        return other if then == T.NULL else then
    raise no_overload("_?_:_", [cond, then, other])


def check_in(item: T.Type, container: T.Type) -> None:
    # @in is (A, list(A)) and (A, map(A, B)): the item must unify with the element/key type
    k = T.kind(container)
    if k not in ("list", "map", T.DYN):
        raise no_overload("@in", [item, container])
    if k != T.DYN:
        element = container[1]
        if not compatible(item, element):
            raise no_overload("@in", [item, container])


def compatible(a: T.Type, b: T.Type) -> bool:
    """Whether two static types can unify (dyn and type parameters match anything)."""
    if a == T.DYN or b == T.DYN or T.is_param(a) or T.is_param(b):
        return True
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] and len(a) == len(b)
                and all(compatible(x, y) for x, y in zip(a[1:], b[1:])))
    return a == b


def check_ordering(op: str, a: T.Type, b: T.Type, shown: list[T.Type] | None = None) -> None:
    """``<``/``<=``/``>``/``>=``: overloads exist for equal ordered types and mixed numbers, so a
    dyn operand still needs an orderable other side (``dyn < quantity(...)`` is refused)."""
    if (a == b and a in _ORDERED) or (a in T.NUMERIC and b in T.NUMERIC):
        return
    if (a == T.DYN and (b == T.DYN or b in _ORDERED)) or (b == T.DYN and a in _ORDERED):
        return
    # null is assignable to google.protobuf.Timestamp/Duration, which have ordering overloads
    if (a == T.NULL and b in (T.NULL, T.DYN)) or (b == T.NULL and a == T.DYN):
        return
    raise no_overload(f"_{op}_", shown or [a, b])


def check_negation(t: T.Type) -> None:
    if t not in (T.INT, T.DOUBLE, T.DYN):
        raise no_overload("-_", [t])


def select_type(t: T.Type, field: str, device_fields: Mapping[str, T.Type]) -> T.Type:
    """The type of ``x.field`` for ``x`` of type ``t``."""
    k = T.kind(t)
    if t == T.DEVICE:
        if field not in device_fields:
            raise TypeCheckError(f"undefined field '{field}'")
        return device_fields[field]
    if k == "map":
        return t[2]
    if t == T.DYN:
        return T.DYN
    if k == "optional_type":
        return T.optional_of(select_type(t[1], field, device_fields))
    raise TypeCheckError(f"type '{T.fmt(t)}' does not support field selection")


def index_type(t: T.Type, key: T.Type) -> T.Type:
    """The type of ``x[key]`` for ``x`` of type ``t``."""
    k = T.kind(t)
    if k == "list":
        if key in (T.INT, T.DYN):
            return t[1]
    elif k == "map":
        if key == T.DYN or not T.is_concrete(t[1]) or key == t[1]:
            return t[2]
    elif t == T.DYN:
        return T.DYN
    elif k == "optional_type":
        return T.optional_of(index_type(t[1], key))
    raise no_overload("_[_]", [t, key])


def homogeneous(types: list[T.Type]) -> T.Type:
    """Element type of a list/map literal; mixing concrete types is an error (as in Kubernetes)."""
    # Types with dyn *inside* (an empty [] is list(dyn) here, a free type variable in cel-go) fit
    # anything. A plain dyn (or ``any``, an attribute value before list attributes) element is a
    # type of its own: cel-go's homogeneous-literal check compares exact types, so upstream
    # rejects [device.attributes["d"].x, 5] and [1, dyn("a")] (checked with the CEL oracle).
    concrete = [t for t in types if t != T.NULL and (t in (T.DYN, "any") or T.is_concrete(t))]
    if not concrete:
        return T.DYN
    first = concrete[0]
    for t in concrete[1:]:
        if t != first:
            raise TypeCheckError(f"expected type '{T.fmt(first)}' but found '{T.fmt(t)}'")
    return first if len(concrete) == len(types) else T.DYN
