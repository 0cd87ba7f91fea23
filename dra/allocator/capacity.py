"""Consumable capacity (DRAConsumableCapacity), as upstream ``consumable_capacity.go``.

For every capacity of a device, a request consumes: its own amount rounded up by the
device's ``requestPolicy`` (``validRange``: up to ``min`` and then to a multiple of
``step`` above ``min``; ``validValues``: the first listed value at least as large), or the
policy's ``default`` when it names no amount, or the whole capacity when there is neither.
The check passes when no policy is violated and, per capacity, already consumed + being
allocated + this request <= the capacity's value. Upstream runs it for every device while
the feature is on, dedicated devices included.

Known upstream detail kept: the step arithmetic uses integer ``Value()``s (rounded up).
With 1.37's DRAFractionalCapacityRange (``fractional``) it uses milli-values instead
whenever min, max and step are whole milli-units and step is at least 1m (upstream
``useMilli``; despite its comment it does not ask for a fractional bound), so a request of
0.3 with ``min: 0.25, step: 0.25`` consumes 0.5, not 1.
"""

from __future__ import annotations

from typing import Mapping

from dra.allocator.model import CapacityInfo, DeviceInfo, Number, num
from dra.api import Quantity


class UnknownCapacity(Exception):
    """The request names a capacity the device does not have (device is skipped)."""


class CapacityNotRepresentable(Exception):
    """1.37 ``errCapacityRequestNotRepresentable``: on a milli-unit range the request is not a
    whole number of milli-units; upstream aborts the allocation with an error."""


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _milli_exact(q: Quantity) -> bool:
    """upstream safeMilliValue succeeds: ``q`` is a whole number of milli-units."""
    u, e = q.as_decimal_parts()
    if e >= -3:
        return True
    if e >= -64:
        return u % 10 ** (-3 - e) == 0
    return (q.as_fraction() * 1000).denominator == 1


def use_milli(cap: CapacityInfo, fractional: bool) -> bool:
    if not fractional:
        return False
    found = cap.milli_range  # a property of the device's policy alone: asked once per capacity
    if found is None:
        found = cap.milli_range = all(q is None or _milli_exact(q)
                                      for q in (cap.range_min, cap.range_max, cap.range_step)) \
            and (cap.range_step is None or cap.range_step.milli_value() >= 1)
    return found


def consumed_for(requested: Quantity | None, cap: CapacityInfo, *, step_format: bool = False,
                 fractional: bool = False) -> Quantity:
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
        if use_milli(cap, fractional):
            if not _milli_exact(requested):
                raise CapacityNotRepresentable(
                    f'capacity "{cap.name}": capacity request cannot be represented in the device\'s range '
                    f"arithmetic: request {requested} is not a representable milli value")
            step_m = cap.range_step.milli_value()
            base_m = lo.milli_value()
            total = base_m + _ceil_div(requested.milli_value() - base_m, step_m) * step_m
            fmt = cap.range_step.format
            if total % 1000 == 0:
                return Quantity.from_int(total // 1000, fmt)  # type: ignore[arg-type]
            return Quantity.from_milli(total, fmt)  # type: ignore[arg-type]
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


def violates_policy(consumed: Quantity, cap: CapacityInfo, fractional: bool = False) -> bool:
    if not cap.policy:
        return False
    value = num(consumed)
    if cap.default is not None and value == cap.default_num:
        return False
    if cap.has_range:
        if cap.range_max is not None and value > num(cap.range_max):
            return True
        if cap.range_step is not None:
            if use_milli(cap, fractional):
                if not _milli_exact(consumed):
                    return True
                step = cap.range_step.milli_value()
                lo = cap.range_min.milli_value() if cap.range_min is not None else 0
                if step != 0 and (consumed.milli_value() - lo) % step != 0:
                    return True
                return False
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
    fractional: bool = False,
) -> bool:
    """Upstream CmpRequestOverCapacity; raises UnknownCapacity for unknown names."""
    if requests:
        for name in requests:
            if name not in device.capacity:
                raise UnknownCapacity(name)
    for name, cap in device.capacity.items():
        requested = requests.get(name) if requests else None
        consumed = consumed_for(requested, cap, fractional=fractional)
        if violates_policy(consumed, cap, fractional):
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
    device: DeviceInfo, requests: Mapping[str, Quantity] | None, *, step_format: bool = False,
    fractional: bool = False,
) -> dict[str, Quantity]:
    """Per-capacity amounts one share takes (upstream GetConsumedCapacityFromRequest)."""
    return {
        name: consumed_for(requests.get(name) if requests else None, cap, step_format=step_format,
                           fractional=fractional)
        for name, cap in device.capacity.items()
    }
