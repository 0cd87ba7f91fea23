"""Consumable capacity (DRAConsumableCapacity), as upstream ``consumable_capacity.go``.

For every capacity of a device, a request consumes: its own amount rounded up by the
device's ``requestPolicy`` (``validRange``: up to ``min`` and then to a multiple of
``step`` above ``min``; ``validValues``: the first listed value at least as large), or the
policy's ``default`` when it names no amount, or the whole capacity when there is neither.
The check passes when no policy is violated and, per capacity, already consumed + being
allocated + this request <= the capacity's value. Upstream runs it for every device while
the feature is on, dedicated devices included.

Known upstream detail kept: the step arithmetic uses integer ``Value()``s (rounded up).
"""

from __future__ import annotations

from typing import Mapping

from dra.allocator.model import CapacityInfo, DeviceInfo, Number, num
from dra.api import Quantity


class UnknownCapacity(Exception):
    """The request names a capacity the device does not have (device is skipped)."""


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def consumed_for(requested: Quantity | None, cap: CapacityInfo, *, step_format: bool = False) -> Quantity:
    """What one allocation consumes of ``cap`` (upstream calculateConsumedCapacity).

    A value rounded up to a step is printed BinarySI (up to 1.36) or in the step's own
    format (1.37, ``step_format``), as upstream builds it with ``NewQuantity``."""
    if requested is None:
        return cap.default if cap.default is not None else cap.value
    if not cap.policy:
        return requested
    if cap.has_range and cap.range_min is not None:
        lo = cap.range_min
        if num(requested) < num(lo):
            return lo
        if cap.range_step is None:
            return requested
        step = cap.range_step.value()
        base = lo.value()
        n = _ceil_div(requested.value() - base, step) if step > 0 else 0
        fmt = cap.range_step.format if step_format else "BinarySI"
        return Quantity.from_int(base + n * step, fmt)  # type: ignore[arg-type]
    if cap.valid_values is not None:
        want = num(requested)
        for q, v in cap.valid_values:
            if want <= v:
                return q
        return requested
    return requested


def violates_policy(consumed: Quantity, cap: CapacityInfo) -> bool:
    if not cap.policy:
        return False
    value = num(consumed)
    if cap.default is not None and value == cap.default_num:
        return False
    if cap.has_range:
        if cap.range_max is not None and value > num(cap.range_max):
            return True
        if cap.range_step is not None:
            step = cap.range_step.value()
            lo = cap.range_min.value() if cap.range_min is not None else 0
            if step != 0 and (consumed.value() - lo) % step != 0:
                return True
        return False
    if cap.valid_values:
        return all(value != v for _, v in cap.valid_values)
    return False


def capacity_fits(
    device: DeviceInfo,
    requests: Mapping[str, Quantity] | None,
    already: Mapping[str, Number] | None,
    allocating: Mapping[str, Number] | None,
) -> bool:
    """Upstream CmpRequestOverCapacity; raises UnknownCapacity for unknown names."""
    if requests:
        for name in requests:
            if name not in device.capacity:
                raise UnknownCapacity(name)
    for name, cap in device.capacity.items():
        requested = requests.get(name) if requests else None
        consumed = consumed_for(requested, cap)
        if violates_policy(consumed, cap):
            return False
        total = num(consumed)
        if already:
            total += already.get(name, 0)
        if allocating:
            total += allocating.get(name, 0)
        if total > cap.value_num:
            return False
    return True


def consumed_capacity(
    device: DeviceInfo, requests: Mapping[str, Quantity] | None, *, step_format: bool = False
) -> dict[str, Quantity]:
    """Per-capacity amounts one share takes (upstream GetConsumedCapacityFromRequest)."""
    return {
        name: consumed_for(requests.get(name) if requests else None, cap, step_format=step_format)
        for name, cap in device.capacity.items()
    }
