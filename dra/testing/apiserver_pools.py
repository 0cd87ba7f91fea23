"""How a consumer (the scheduler's allocator) reads a pool out of a set of ResourceSlices.

Used by tests to check a publisher's intermediate states: a consumer takes the slices of the
pool with the highest ``generation`` and uses the pool only if it has as many of them as
``resourceSliceCount`` says. To be strict, this view calls a pool complete if *any* of those
slices' counts matches (upstream reads the count of whichever slice it sees first), so a
publisher that leaves inconsistent counts cannot slip through.

Device taints are compared without ``timeAdded``: the publisher stamps it (the desired
slices usually leave it unset), so it says nothing about whether the pool is the right one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from dra.slices.reconcile import omit_empty


@dataclass(frozen=True)
class PoolView:
    state: str  # "absent" | "incomplete" | "complete"
    generation: int | None
    devices: Mapping[str, Any] | None  # device name -> device (omit-empty JSON), when complete

    @property
    def complete(self) -> bool:
        return self.state == "complete"


def pool_view(slices: Iterable[Mapping[str, Any]], driver: str, pool: str) -> PoolView:
    """The consumer's reading of ``(driver, pool)`` from ``slices`` (full objects)."""
    mine = [s for s in slices if (s.get("spec") or {}).get("driver") == driver
            and ((s.get("spec") or {}).get("pool") or {}).get("name") == pool]
    if not mine:
        return PoolView("absent", None, None)
    top = max(int(s["spec"]["pool"].get("generation") or 0) for s in mine)
    current = [s for s in mine if int(s["spec"]["pool"].get("generation") or 0) == top]
    counts = {int(s["spec"]["pool"].get("resourceSliceCount") or 0) for s in current}
    if len(current) not in counts:
        return PoolView("incomplete", top, None)
    devices: dict[str, Any] = {}
    for slice_ in current:
        for device in slice_["spec"].get("devices") or []:
            if device.get("name") in devices:
                return PoolView("incomplete", top, None)  # upstream marks the pool invalid
            devices[device["name"]] = _comparable(device)
    return PoolView("complete", top, devices)


def devices_of(desired: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Device name -> device of a desired slice list, in the form :func:`pool_view` returns."""
    found: dict[str, Any] = {}
    for slice_ in desired:
        for device in (slice_.get("spec") or {}).get("devices") or []:
            found[device["name"]] = _comparable(device)
    return found


def _comparable(device: Mapping[str, Any]) -> Any:
    cleaned = omit_empty(dict(device))
    for taint in cleaned.get("taints") or []:
        taint.pop("timeAdded", None)
    return cleaned
