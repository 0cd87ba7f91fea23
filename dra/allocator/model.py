"""The allocator's compact, read-only view of ResourceSlices.

Built once per slice set (by :class:`dra.allocator.Allocator`) and shared by every
allocation attempt: each device gets a :class:`DeviceInfo` with its identity, numbers
already converted for arithmetic, and a lazily built :class:`dra.cel.CelDevice`. Quantities
are compared as exact rationals (``int`` when whole, else ``Fraction``), never as floats.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from dra.api import DeviceID, Quantity

Number = int | Fraction


def num(q: Quantity) -> Number:
    """Exact numeric value of a Quantity: an int when it is whole, else a Fraction."""
    u, e = q.as_decimal_parts()
    if 0 <= e <= 64:  # the common case, without building a Fraction (as_fraction checks the rest)
        return u * 10**e
    if -64 <= e < 0:
        d = 10**-e
        if u % d == 0:
            return u // d
    f = q.as_fraction()
    return f.numerator if f.denominator == 1 else f


class CapacityInfo:
    """One entry of ``device.capacity`` with its request policy, pre-converted."""

    __slots__ = (
        "name", "value", "value_num", "policy", "default", "default_num",
        "valid_values", "range_min", "range_max", "range_step", "has_range", "milli_range",
    )

    def __init__(self, name: str, cap: Any) -> None:
        self.name = name
        self.value: Quantity = cap.value
        self.value_num = num(cap.value)
        policy = getattr(cap, "request_policy", None)
        self.policy = policy is not None
        self.default: Quantity | None = getattr(policy, "default", None) if policy else None
        self.default_num = num(self.default) if self.default is not None else None
        values = getattr(policy, "valid_values", None) if policy else None
        self.valid_values: list[tuple[Quantity, Number]] | None = (
            [(v, num(v)) for v in values] if values is not None else None
        )
        rng = getattr(policy, "valid_range", None) if policy else None
        self.range_min: Quantity | None = getattr(rng, "min", None) if rng else None
        self.range_max: Quantity | None = getattr(rng, "max", None) if rng else None
        self.range_step: Quantity | None = getattr(rng, "step", None) if rng else None
        self.has_range = rng is not None
        self.milli_range: bool | None = None  # dra.allocator.capacity.use_milli's answer, once asked


class SliceInfo:
    """One ResourceSlice as the allocator sees it."""

    __slots__ = (
        "obj", "name", "driver", "pool", "generation", "slice_count", "node_name",
        "all_nodes", "node_selector", "per_device_raw", "per_device", "counter_sets",
        "devices", "has_binding", "order", "uses_compat_groups", "skip_node_operations",
    )

    def __init__(self, obj: Any, order: int) -> None:
        spec = obj.spec
        self.obj = obj
        self.order = order
        self.name: str = (getattr(obj.metadata, "name", None) or "") if obj.metadata else ""
        self.driver: str = spec.driver
        self.pool: str = spec.pool.name
        self.generation: int = spec.pool.generation or 0
        self.slice_count: int = spec.pool.resource_slice_count or 0
        self.node_name: str | None = spec.node_name
        self.all_nodes: bool = bool(spec.all_nodes)
        self.node_selector = spec.node_selector
        self.per_device_raw = spec.per_device_node_selection  # None = unset
        self.per_device: bool = bool(spec.per_device_node_selection)
        self.counter_sets: list[Any] = list(spec.shared_counters or [])
        # 1.37 DRAOptionalNodeOperations: node-local calls the driver does without
        self.skip_node_operations: list[str] = list(getattr(spec, "skip_node_operations", None) or [])
        self.devices: list[DeviceInfo] = []
        self.has_binding = False
        # Some device declares compatibilityGroups (set by build_slice_infos).
        self.uses_compat_groups = False


class DeviceInfo:
    """One device of one slice, with everything the search needs precomputed."""

    __slots__ = (
        "index", "id", "name", "obj", "slice", "attributes", "capacity", "consumes",
        "multi_raw", "taints", "binding_conditions", "binding_failure_conditions",
        "binds_to_node", "_cel", "attr_cache", "compat_groups",
    )

    def __init__(self, index: int, slice_info: SliceInfo, dev: Any) -> None:
        self.index = index
        self.obj = dev
        self.slice = slice_info
        self.name: str = dev.name
        self.id = DeviceID(slice_info.driver, slice_info.pool, dev.name)
        self.attributes: dict[str, Any] = dict(dev.attributes or {})
        self.capacity: dict[str, CapacityInfo] = {
            name: CapacityInfo(name, cap) for name, cap in (dev.capacity or {}).items()
        }
        # [(counter set, [(counter, amount), ...]), ...]
        self.consumes: list[tuple[str, list[tuple[str, Number]]]] = [
            (c.counter_set, [(k, num(v.value)) for k, v in (c.counters or {}).items()])
            for c in (dev.consumes_counters or [])
        ]
        # 1.37 DRADeviceCompatibilityGroups: (counter set, declared groups) per
        # consumesCounters entry, in order (an empty set: no groups declared).
        self.compat_groups: list[tuple[str, frozenset[str]]] = [
            (c.counter_set, frozenset(c.compatibility_groups or ())) for c in (dev.consumes_counters or [])
        ]
        self.multi_raw: bool = bool(dev.allow_multiple_allocations)
        self.taints: list[Any] = list(dev.taints or [])
        self.binding_conditions = dev.binding_conditions
        self.binding_failure_conditions = dev.binding_failure_conditions
        self.binds_to_node: bool = bool(dev.binds_to_node)
        self._cel: Any = None
        # constraint attribute name -> (type, value) or None; filled by constraints
        self.attr_cache: dict[str, Any] = {}

    def cel(self) -> Any:
        if self._cel is None:
            from dra.cel import CelDevice

            self._cel = CelDevice.from_device(self.slice.driver, self.obj)
        return self._cel

    def node_fields(self) -> tuple[str | None, bool, Any]:
        """nodeName/allNodes/nodeSelector that decide where this device is usable."""
        if self.slice.per_device:
            d = self.obj
            return d.node_name, bool(d.all_nodes), d.node_selector
        s = self.slice
        return s.node_name, s.all_nodes, s.node_selector

    def __repr__(self) -> str:
        return f"{self.id.driver}/{self.id.pool}/{self.id.device}"


def device_id_str(dev: DeviceID) -> str:
    return f"{dev.driver}/{dev.pool}/{dev.device}"


def build_slice_infos(slices: list[Any]) -> tuple[list[SliceInfo], list[DeviceInfo]]:
    """Convert all slices once; devices get a global index in input order."""
    infos: list[SliceInfo] = []
    devices: list[DeviceInfo] = []
    for order, obj in enumerate(slices):
        info = SliceInfo(obj, order)
        for dev in obj.spec.devices or []:
            d = DeviceInfo(len(devices), info, dev)
            info.devices.append(d)
            devices.append(d)
            if dev.binding_conditions is not None:
                info.has_binding = True
            if any(groups for _, groups in d.compat_groups):
                info.uses_compat_groups = True
        infos.append(info)
    return infos, devices
