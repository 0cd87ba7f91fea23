"""Split a pool's devices and counter sets into ResourceSlices that respect the API limits.

Limits (resource.k8s.io/v1, dra-api.md §2):

================================================ ====== ====== ===========
limit                                             1.34   1.35   1.36, 1.37
================================================ ====== ====== ===========
devices per slice                                 128    128    128
... if any device in the slice has taints or
consumesCounters (1.36+: or list attributes,
"advanced features")                              128    64     64
counter sets per slice                            --     8      8
counters per counter set                          --     32     32
counters summed over all sets of a slice          32     --     --
counters consumed per device                      32     32 (per consumption entry)
consumed counters summed over a slice             1024   --     --
taints per device                                 4      16     16
attribute values per device (a list attribute     --     --     48
counts each element)
devices and sharedCounters in one slice           yes    no     no
where consumesCounters may point                  same   any slice of the pool
                                                  slice
================================================ ====== ====== ===========

(1.36: ``ResourceSliceMaxDevicesWithAdvancedFeatures`` and
``ResourceSliceMaxAttributeValuesPerDevice``, reference/dra-2026.md §2.1.)

Packing keeps each GPU's devices together where they fit (a reader of one slice sees whole
GPUs), fills slices greedily in GPU order, and never splits a 1.34 counter set from the
devices that consume it. The result is deterministic for a given inventory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from dra.api import CounterSet, Device
from dra.errors import UserError
from dra.slices.devices import GpuDevices


class SliceLimitError(UserError):
    """The devices cannot be published within the API limits (names the device)."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_devices: int
    max_devices_with_counters_or_taints: int
    max_counter_sets: int | None
    max_counters_per_set: int | None
    max_shared_counters_per_slice: int | None
    max_counters_per_device: int
    max_consumed_counters_per_slice: int | None
    max_taints_per_device: int
    split_counter_sets: bool
    max_attribute_values_per_device: int | None = None
    list_attributes_are_advanced: bool = False


LIMITS = {
    "1.34": Limits(128, 128, None, None, 32, 32, 1024, 4, False),
    "1.35": Limits(128, 64, 8, 32, None, 32, None, 16, True),
    "1.36": Limits(128, 64, 8, 32, None, 32, None, 16, True, 48, True),
    "1.37": Limits(128, 64, 8, 32, None, 32, None, 16, True, 48, True),
}

_LIST_MEMBERS = ("ints", "bools", "strings", "versions")


def _list_values(attribute: object) -> int | None:
    """Elements of a list-typed attribute (1.36+ models), ``None`` for a scalar."""
    for member in _LIST_MEMBERS:
        values = getattr(attribute, member, None)
        if values is not None:
            return len(values)
    return None


def attribute_values(device: Device) -> int:
    """Values a device's attributes carry: 1 per scalar, one per element of a list."""
    total = 0
    for attribute in (device.attributes or {}).values():
        n = _list_values(attribute)
        total += 1 if n is None else n
    return total


@dataclass(slots=True)
class SliceContent:
    devices: list[Device] = field(default_factory=list)
    counter_sets: list[CounterSet] = field(default_factory=list)
    # running totals used while packing
    heavy: bool = False  # any device with taints or consumesCounters
    shared_counters: int = 0
    consumed_counters: int = 0


def _is_heavy(device: Device, limits: Limits | None = None) -> bool:
    if device.taints or device.consumes_counters:
        return True
    return bool(limits and limits.list_attributes_are_advanced
                and any(_list_values(a) is not None for a in (device.attributes or {}).values()))


def _consumed(device: Device) -> int:
    return sum(len(c.counters) for c in device.consumes_counters or ())


def check_device(device: Device, limits: Limits) -> None:
    if device.taints and len(device.taints) > limits.max_taints_per_device:
        raise SliceLimitError(
            f"device {device.name}: {len(device.taints)} taints, at most "
            f"{limits.max_taints_per_device} allowed"
        )
    for use in device.consumes_counters or ():
        if len(use.counters) > limits.max_counters_per_device:
            raise SliceLimitError(
                f"device {device.name}: consumes {len(use.counters)} counters, at most "
                f"{limits.max_counters_per_device} allowed"
            )
    entries = len(device.attributes or {}) + len(device.capacity or {})
    if entries > 32:
        raise SliceLimitError(f"device {device.name}: {entries} attributes and capacities, at most 32")
    if limits.max_attribute_values_per_device is not None:
        values = attribute_values(device)
        if values > limits.max_attribute_values_per_device:
            raise SliceLimitError(f"device {device.name}: {values} attribute values, at most "
                                  f"{limits.max_attribute_values_per_device}")


def _device_limit(content: SliceContent, heavy: bool, limits: Limits) -> int:
    if content.heavy or heavy:
        return limits.max_devices_with_counters_or_taints
    return limits.max_devices


def _fits(content: SliceContent, devices: Sequence[Device], counter_set: CounterSet | None,
          limits: Limits) -> bool:
    heavy = any(_is_heavy(d, limits) for d in devices)
    if len(content.devices) + len(devices) > _device_limit(content, heavy, limits):
        return False
    if counter_set is not None and limits.max_shared_counters_per_slice is not None:
        if content.shared_counters + len(counter_set.counters) > limits.max_shared_counters_per_slice:
            return False
    if limits.max_consumed_counters_per_slice is not None:
        extra = sum(_consumed(d) for d in devices)
        if content.consumed_counters + extra > limits.max_consumed_counters_per_slice:
            return False
    return True


def _add(content: SliceContent, devices: Sequence[Device], counter_set: CounterSet | None,
         limits: Limits) -> None:
    content.devices.extend(devices)
    content.heavy = content.heavy or any(_is_heavy(d, limits) for d in devices)
    if limits.max_consumed_counters_per_slice is not None:
        content.consumed_counters += sum(_consumed(d) for d in devices)
    if counter_set is not None:
        content.counter_sets.append(counter_set)
        content.shared_counters += len(counter_set.counters)


def pack(groups: Sequence[GpuDevices], limits: Limits) -> list[SliceContent]:
    """The slices' contents, in publishing order (1.35: counter-set slices first)."""
    for group in groups:
        for device in group.devices:
            check_device(device, limits)
        cs = group.counter_set
        if cs is not None and limits.max_counters_per_set is not None \
                and len(cs.counters) > limits.max_counters_per_set:
            raise SliceLimitError(
                f"counter set {cs.name}: {len(cs.counters)} counters, at most {limits.max_counters_per_set}"
            )
    if limits.split_counter_sets:
        return _pack_split(groups, limits)
    return _pack_together(groups, limits)


def _pack_together(groups: Sequence[GpuDevices], limits: Limits) -> list[SliceContent]:
    """1.34: a GPU's counter set travels with its devices; groups never straddle slices."""
    out: list[SliceContent] = []
    current = SliceContent()
    for group in groups:
        if not _fits(current, group.devices, group.counter_set, limits):
            if current.devices or current.counter_sets:
                out.append(current)
            current = SliceContent()
            if not _fits(current, group.devices, group.counter_set, limits):
                name = group.counter_set.name if group.counter_set else group.devices[0].name
                raise SliceLimitError(
                    f"GPU {group.gpu.minor} ({name}): its {len(group.devices)} devices and counters "
                    "do not fit in one ResourceSlice under Kubernetes 1.34 limits"
                )
        _add(current, group.devices, group.counter_set, limits)
    if current.devices or current.counter_sets or not out:
        out.append(current)
    return out


def _pack_split(groups: Sequence[GpuDevices], limits: Limits) -> list[SliceContent]:
    """1.35: counter sets in their own slices (<= 8 each), devices packed by GPU."""
    sets = [g.counter_set for g in groups if g.counter_set is not None]
    out: list[SliceContent] = []
    step = limits.max_counter_sets or len(sets) or 1
    for i in range(0, len(sets), step):
        out.append(SliceContent(counter_sets=list(sets[i : i + step])))
    current = SliceContent()
    for group in groups:
        if _fits(current, group.devices, None, limits):
            _add(current, group.devices, None, limits)
            continue
        if current.devices:
            out.append(current)
            current = SliceContent()
        if _fits(current, group.devices, None, limits):
            _add(current, group.devices, None, limits)
            continue
        for device in group.devices:  # a GPU larger than a slice: spread it, device by device
            if not _fits(current, [device], None, limits):
                out.append(current)
                current = SliceContent()
            _add(current, [device], None, limits)
    if current.devices or not out:
        out.append(current)
    return out
