"""Static CEL types for the compile-time checks.

A type is a string for simple types (``"int"``, ``"string"``, ``"dyn"``,
``"kubernetes.Quantity"``, ...) or a tuple for parameterised ones: ``("list", T)``,
``("map", K, V)``, ``("optional_type", T)``, ``("type", T)``. Single upper-case letters
(``"A"``, ``"B"``) are type parameters in function signatures.

The checker is deliberately permissive where cel-go's full inference would need more
machinery: ``dyn`` is compatible with everything, so we only reject what is certainly wrong,
which is what Kubernetes rejects for the expressions people actually write (undeclared
names, calls on literals of the wrong type, non-bool results).
"""

from __future__ import annotations

from typing import Union

Type = Union[str, tuple]

DYN = "dyn"
BOOL, INT, UINT, DOUBLE, STRING, BYTES, NULL = "bool", "int", "uint", "double", "string", "bytes", "null_type"
TYPE = "type"
QUANTITY, SEMVER = "kubernetes.Quantity", "kubernetes.Semver"
DEVICE = "kubernetes.DRADevice"
URL, IP, CIDR = "kubernetes.URL", "net.IP", "net.CIDR"
NUMERIC = frozenset((INT, UINT, DOUBLE))


def list_of(elem: Type) -> Type:
    return ("list", elem)


def map_of(key: Type, value: Type) -> Type:
    return ("map", key, value)


def optional_of(elem: Type) -> Type:
    return ("optional_type", elem)


def fmt(t: Type) -> str:
    if isinstance(t, tuple):
        return f"{t[0]}({', '.join(fmt(p) for p in t[1:])})"
    return t


def is_param(t: Type) -> bool:
    return isinstance(t, str) and len(t) == 1 and t.isupper()


def kind(t: Type) -> str:
    return t[0] if isinstance(t, tuple) else t


def unify(param: Type, arg: Type, bindings: dict[str, Type]) -> bool:
    """Whether an argument of static type ``arg`` may be passed where ``param`` is expected."""
    if arg == DYN or param == DYN:
        return True
    if is_param(param):
        bound = bindings.get(param)
        if bound is None or bound == DYN:
            bindings[param] = arg
            return True
        if bound == arg or unify(bound, arg, {}):
            return True
        # list literals may mix int/double only through dyn; be strict otherwise
        return False
    if isinstance(param, tuple):
        if not isinstance(arg, tuple) or arg[0] != param[0] or len(arg) != len(param):
            return False
        return all(unify(p, a, bindings) for p, a in zip(param[1:], arg[1:]))
    if arg == NULL and param in (DYN,):
        return True
    return param == arg


def substitute(t: Type, bindings: dict[str, Type]) -> Type:
    if is_param(t):
        return bindings.get(t, DYN)
    if isinstance(t, tuple):
        return (t[0],) + tuple(substitute(p, bindings) for p in t[1:])
    return t


def is_concrete(t: Type) -> bool:
    """No dyn or type parameter anywhere inside."""
    if t == DYN or is_param(t):
        return False
    if isinstance(t, tuple):
        return all(is_concrete(p) for p in t[1:])
    return True
