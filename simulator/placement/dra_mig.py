"""DRA shared mode with partitionable MIG: what a node publishes and what the index tracks.

The driver's ``shared`` mode (:mod:`dra.slices.devices`) publishes each GPU once, as a device
many claims can share through consumable capacity; its ``dynamic-mig`` mode publishes each
MIG-capable GPU as a counter set, the full GPU consuming all of it and every (profile,
placement) as a device consuming its part (KEP-4815 partitionable devices). A GPU that is
either shared or partitioned is both at once: the simulator's DRA placement publishes the
**shared full GPU consuming the whole counter set** next to the dynamic-MIG partitions, built
from the driver's own builders (``shared``, ``dynamic_mig``, ``counter_model``, ``pack``):

- the first share of a GPU consumes its counters (later shares of the same device do not:
  ``allowMultipleAllocations`` devices hold their counters once), so no MIG device of that
  GPU can be allocated while anyone shares it;
- a MIG device consumes its memory slices, so the shared GPU cannot be allocated while any
  partition exists, and partitions never overlap -- the MIG geometry, enforced by the
  allocator through the counters, not by the simulator;
- a claim's ``firstAvailable`` MIG branch (``mig.nvidia.com`` with the profile) now matches,
  so a MIG-profile pod gets a hardware partition where one is free and falls back to an MPS
  share of the same size only where none is.

Only GPUs whose MIG mode can be switched without a reset (Hopper, Blackwell: the driver
offers full GPU and partitions side by side only there) and whose MIG mode is off get
partitions; Ampere and older GPUs are published as plain shared devices, as before. The
allocator must have ``DRAPartitionableDevices`` (else a device consuming counters is never
allocated); without it the plain shared publication is used.

:class:`MigTable` is the per-shape geometry the index reads (device name -> GPU, memory-slice
mask, compute share); :class:`MigState` is one node's partitions in use.
"""

from __future__ import annotations

from typing import Any

from simulator.placement.profiles import slice_milli

MIB = 1024 * 1024


def offers_partitions(gpu: Any) -> bool:
    """Whether the GPU is published with its dynamic-MIG partitions beside the shared device."""
    return bool(gpu.mig_capable and gpu.mig_profiles and gpu.mig_toggle_without_reset
                and not gpu.mig_enabled and not gpu.mig_devices)


def build_shared_mig_slices(inventory: Any, k8s_version: str) -> list[Any]:
    """The node's ResourceSlices: per GPU the shared device, plus (where
    :func:`offers_partitions`) the counter set and the MIG partitions of ``dynamic-mig``,
    with the shared device consuming every counter. Same pool, naming and layout as
    ``dra.slices.build_slices``."""
    from dra.slices import DRIVER_NAME
    from dra.slices.builder import (API_VERSION, _make_meta, _make_pool, _make_slice, _make_spec,
                                    layout_version)
    from dra.slices.counters import counter_model
    from dra.slices.devices import GpuDevices, dynamic_mig, gpu_device_name, shared
    from dra.slices.layout import LIMITS, pack
    from dra.slices.naming import slice_name

    groups = []
    for gpu in sorted(inventory.gpus, key=lambda g: g.minor):
        plain = shared(gpu)
        if not offers_partitions(gpu):
            groups.append(plain)
            continue
        dyn = dynamic_mig(gpu)
        full = plain.devices[0].model_copy(
            update={"consumes_counters": counter_model(gpu).full_gpu_use(gpu.minor)})
        parts = [d for d in dyn.devices if d.name != gpu_device_name(gpu)]
        groups.append(GpuDevices(gpu, [full, *parts], dyn.counter_set))
    contents = pack(groups, LIMITS[layout_version(k8s_version)])
    node, count = inventory.node_name, len(contents)
    return [
        _make_slice(
            api_version=API_VERSION, kind="ResourceSlice",
            metadata=_make_meta(name=slice_name(k, count, DRIVER_NAME, node)),
            spec=_make_spec(
                driver=DRIVER_NAME,
                pool=_make_pool(name=node, generation=1, resource_slice_count=count),
                node_name=node,
                devices=content.devices if content.devices or not content.counter_sets else None,
                shared_counters=content.counter_sets or None,
            ),
        )
        for k, content in enumerate(contents)
    ]


class MigTable:
    """The MIG partitions one node shape publishes, by GPU index (shared by its nodes).

    ``devices[name] = (gpu index, memory-slice mask, milli, memory MiB, profile)``;
    ``by_profile[gpu][profile]`` lists (mask, name, memory MiB) in published order -- the
    order the allocator tries them in."""

    __slots__ = ("devices", "by_profile")

    def __init__(self, inventory: Any) -> None:
        from dra.slices.devices import mig_device_name

        self.devices: dict[str, tuple[int, int, int, int, str]] = {}
        self.by_profile: list[dict[str, list[tuple[int, str, int]]]] = []
        for i, gpu in enumerate(inventory.gpus):
            table: dict[str, list[tuple[int, str, int]]] = {}
            if offers_partitions(gpu):
                total = max(p.compute_slices for p in gpu.mig_profiles)
                for profile in gpu.mig_profiles:
                    milli = slice_milli(profile.compute_slices, total)
                    mem = profile.memory_bytes // MIB
                    for pl in profile.placements:
                        name = mig_device_name(gpu, profile.name, profile.gi_profile_id, pl.start)
                        mask = sum(1 << s for s in pl.slices)
                        table.setdefault(profile.name, []).append((mask, name, mem))
                        self.devices[name] = (i, mask, milli, mem, profile.name)
            self.by_profile.append(table)

    def __bool__(self) -> bool:
        return bool(self.devices)


class MigState:
    """One node's MIG partitions in use: memory-slice mask and device names per GPU."""

    __slots__ = ("table", "used", "milli", "taken")

    def __init__(self, table: MigTable) -> None:
        self.table = table
        self.used = [0] * len(table.by_profile)  # memory slices taken, per GPU
        self.milli = [0] * len(table.by_profile)  # compute charged for them, per GPU
        self.taken: dict[str, int] = {}  # MIG device name -> GPU index

    def free_device(self, i: int, profile: str, gpu_mem: int = 0) -> str | None:
        """The first partition of ``profile`` on GPU ``i`` that is free (published order) and
        offers at least ``gpu_mem`` MiB, or None."""
        used = self.used[i]
        for mask, name, mem in self.table.by_profile[i].get(profile, ()):
            if not used & mask and mem >= gpu_mem:
                return name
        return None

    def take(self, name: str) -> tuple[int, int]:
        """Mark a partition used; (GPU index, milli) it is charged."""
        i, mask, milli, _mem, _profile = self.table.devices[name]
        self.used[i] |= mask
        self.milli[i] += milli
        self.taken[name] = i
        return i, milli

    def give(self, name: str) -> None:
        i, mask, milli, _mem, _profile = self.table.devices[name]
        self.used[i] &= ~mask
        self.milli[i] -= milli
        del self.taken[name]
