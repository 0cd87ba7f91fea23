"""The compiler's per-expression record (:class:`Node`) and the DRA ``device`` declarations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from dra.cel import estimate as E
from dra.cel import ops
from dra.cel import typesys as T

MISSING = object()  # "not a compile-time constant"

# The object type of the ``device`` variable, with the declared size bounds of its fields.
DEVICE_FIELDS: dict[str, T.Type] = {
    "driver": T.STRING,
    "attributes": T.map_of(T.STRING, T.map_of(T.STRING, T.DYN)),
    "capacity": T.map_of(T.STRING, T.map_of(T.STRING, T.QUANTITY)),
    "allowMultipleAllocations": T.BOOL,
}
DEVICE_FIELD_SIZES = {
    "driver": E.DRIVER_MAX, "attributes": E.MAP_ENTRIES_MAX, "capacity": E.MAP_ENTRIES_MAX,
    "allowMultipleAllocations": 1,
}


@dataclass
class Node:
    """What the compiler knows about one sub-expression: how to evaluate it and its static facts."""

    fn: Callable[[dict], Any]
    typ: T.Type
    const: Any = MISSING
    path: tuple[str, ...] | None = None  # (variable, key, key, ...) when fusable into one lookup
    cost: int = 0  # runtime charge of one evaluation in metered mode (loops charge themselves)
    est: int = 0  # estimated maximum cost (cel-go estimator rules)
    size: int = E.UNKNOWN_SIZE  # estimated maximum size of the value
    tree: Any = None
    # size of the elements/values (for comprehension variables over this value)
    elem_size: int = E.UNKNOWN_SIZE
    # reference analysis: a path rooted at the device variable, and whether a longer path used it
    device_root: bool = False
    extended: bool = False
    # an attribute value: Kubernetes declares it google.protobuf.Any (not dyn) before the 1.36
    # list-type attributes, which checks like dyn except that it cannot be a comprehension range
    any_typed: bool = False

    @property
    def is_const(self) -> bool:
        return self.const is not MISSING


def const_node(value: Any, typ: T.Type, cost: int = 0, est: int = 0) -> Node:
    return Node(ops.constant(value), typ, value, None, cost, est, E.literal_size(value))
