"""The devices this node publishes, as the plugin needs to know them at prepare time.

Built from the inventory and the slices the plugin published, so a claim can only be
prepared for a device that this node actually announced. A MIG device published in
dynamic-MIG mode does not exist yet: its GPU instance is created at prepare time, at the
placement encoded in its name ``gpu-<minor>-mig-<profile>-<giProfileId>-<start>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from dra.gpu.inventory import GpuInfo, NodeInventory

_MIG_NAME = re.compile(r"^gpu-(\d+)-mig-(.+)-(\d+)-(\d+)$")


@dataclass(frozen=True)
class DeviceSpec:
    name: str
    type: str  # "gpu" | "mig"
    gpu_uuid: str  # the physical GPU (the parent of a MIG device)
    gpu_minor: int
    gpu_index: int
    uuid: str | None  # GPU or existing MIG UUID; None for a MIG device still to be created
    multi_allocatable: bool = False
    profile: str | None = None
    gi_profile_id: int | None = None
    placement_start: int | None = None
    placement_size: int | None = None
    gi_id: int | None = None
    ci_id: int | None = None
    memory_bytes: int | None = None  # for range checks of per-claim limits

    @property
    def dynamic_mig(self) -> bool:
        return self.type == "mig" and self.uuid is None


class DeviceCatalog:
    """Look up published devices by name."""

    def __init__(self, specs: Iterable[DeviceSpec]) -> None:
        self._by_name = {s.name: s for s in specs}

    def get(self, name: str) -> DeviceSpec | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def gpu_uuids(self) -> list[str]:
        return sorted({s.gpu_uuid for s in self._by_name.values()})

    @classmethod
    def build(cls, inventory: NodeInventory, slices: Iterable) -> "DeviceCatalog":
        by_minor = {g.minor: g for g in inventory.gpus}
        specs = []
        for slice_ in slices:
            for device in slice_.spec.devices or ():
                spec = _spec_for(device, by_minor)
                if spec is not None:
                    specs.append(spec)
        return cls(specs)


def _attr(device, key: str):
    attr = (device.attributes or {}).get(key)
    return None if attr is None else attr.value


def _spec_for(device, by_minor: dict[int, GpuInfo]) -> DeviceSpec | None:
    multi = bool(device.allow_multiple_allocations)
    kind = _attr(device, "type")
    if kind == "gpu":
        minor = int(device.name.split("-")[1])
        gpu = by_minor[minor]
        return DeviceSpec(device.name, "gpu", gpu.uuid, gpu.minor, gpu.index, gpu.uuid, multi,
                          memory_bytes=gpu.memory_bytes)
    if kind == "mig":
        match = _MIG_NAME.match(device.name)
        if not match:
            return None
        gpu = by_minor[int(match.group(1))]
        gi_profile_id, start = int(match.group(3)), int(match.group(4))
        profile = str(_attr(device, "profile") or match.group(2))
        existing = next(
            (m for m in gpu.mig_devices if m.gi_profile_id == gi_profile_id and m.placement.start == start),
            None,
        )
        size = None
        memory = None
        for mig_profile in gpu.mig_profiles:
            if mig_profile.gi_profile_id == gi_profile_id:
                size = next((p.size for p in mig_profile.placements if p.start == start), None)
                memory = mig_profile.memory_bytes
        if existing is not None:
            return DeviceSpec(
                device.name, "mig", gpu.uuid, gpu.minor, gpu.index, existing.uuid, multi,
                profile, gi_profile_id, start, existing.placement.size, existing.gi_id, existing.ci_id,
                existing.memory_bytes,
            )
        return DeviceSpec(
            device.name, "mig", gpu.uuid, gpu.minor, gpu.index, None, multi,
            profile, gi_profile_id, start, size or 1, memory_bytes=memory,
        )
    return None
