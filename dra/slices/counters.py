"""Shared counters for dynamic MIG: one counter set per GPU, consumed by every partition.

This is NVIDIA's partitionable model (KEP-4815, driver-anchors §b):

* counter set ``gpu-<minor>-counter-set`` with counters ``multiprocessors``,
  ``copy-engines``, ``decoders``, ``encoders``, ``jpeg-engines``, ``ofa-engines``,
  ``memory`` and ``memory-slice-<i>`` = 1 for each memory slice of the GPU;
* the full GPU consumes every counter entirely, so it excludes any MIG device and the
  reverse;
* a MIG device of profile P at placement (start, size) consumes P's capacities and the
  memory slices ``start .. start+size-1``, so overlapping placements exclude each other.

The memory slices carry the placement rules exactly. The other counters must never forbid
a combination the placements allow, so each counter's total is the largest of the full
GPU's own value and the best sum any set of non-overlapping placements could reach
(weighted interval scheduling over the placements). Counters whose total is zero (e.g.
encoders on H100) are left out, as are zero consumptions.

Counter dictionaries depend only on the GPU model, so they are computed once per model and
shared between GPUs (the per-GPU part is the counter-set name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from dra.api import Counter, CounterSet, DeviceCounterConsumption, Quantity
from dra.slices.fast import constructor
from dra.gpu.inventory import GpuInfo, MigProfile

ENGINE_COUNTERS = (
    ("multiprocessors", "multiprocessors"),
    ("copyEngines", "copy-engines"),
    ("decoders", "decoders"),
    ("encoders", "encoders"),
    ("jpegEngines", "jpeg-engines"),
    ("ofaEngines", "ofa-engines"),
)

_make_counter = constructor(Counter)
_make_set = constructor(CounterSet)
_make_consumption = constructor(DeviceCounterConsumption)


def counter_set_name(gpu: GpuInfo) -> str:
    return f"gpu-{gpu.minor}-counter-set"


def slice_counter(i: int) -> str:
    return f"memory-slice-{i}"


@dataclass(frozen=True, slots=True)
class CounterModel:
    """Counter totals and consumptions of one GPU model (shared by all its GPUs)."""

    totals: Mapping[str, Counter]
    full_gpu: Mapping[str, Counter]
    partitions: Mapping[tuple[str, int], Mapping[str, Counter]]  # (profile, start) -> use
    _uses: dict[tuple[int, tuple[str, int] | None], list[DeviceCounterConsumption]] = field(
        default_factory=dict
    )

    def counter_set(self, gpu: GpuInfo) -> CounterSet:
        return _make_set(name=counter_set_name(gpu), counters=dict(self.totals))

    def full_gpu_use(self, minor: int) -> list[DeviceCounterConsumption]:
        return self._use(minor, None)

    def partition_use(self, minor: int, profile: str, start: int) -> list[DeviceCounterConsumption]:
        return self._use(minor, (profile, start))

    def _use(self, minor: int, key: tuple[str, int] | None) -> list[DeviceCounterConsumption]:
        # Shared between every GPU of this model with the same minor (the counter-set name is
        # the only per-GPU part), i.e. across all nodes of a fleet.
        cache_key = (minor, key)
        found = self._uses.get(cache_key)
        if found is None:
            counters = self.full_gpu if key is None else self.partitions[key]
            found = [_make_consumption(counter_set=f"gpu-{minor}-counter-set", counters=counters)]
            self._uses[cache_key] = found
        return found


def _profile_amounts(profile: MigProfile) -> dict[str, int]:
    engines = profile.engines()
    amounts = {counter: engines[key] for key, counter in ENGINE_COUNTERS}
    amounts["memory"] = profile.memory_bytes
    return amounts


def _best_non_overlapping(items: list[tuple[int, int, int]], slices: int) -> int:
    """Max total weight of non-overlapping intervals (start, size, weight) in [0, slices)."""
    best = [0] * (slices + 2)
    by_start: dict[int, list[tuple[int, int]]] = {}
    for start, size, weight in items:
        by_start.setdefault(start, []).append((size, weight))
    for pos in range(slices - 1, -1, -1):
        value = best[pos + 1]
        for size, weight in by_start.get(pos, ()):
            if pos + size <= slices:
                value = max(value, weight + best[pos + size])
        best[pos] = value
    return best[0]


# Keyed by the identity of the profile tuple (GPUs of one catalog model share it; hashing
# the nested dataclasses on every GPU would cost more than the lookup saves). The tuple is
# kept in the value so that its id cannot be reused while cached.
_cache: dict[tuple[int, int, int], tuple[object, CounterModel]] = {}


def counter_model(gpu: GpuInfo) -> CounterModel:
    key = (id(gpu.mig_profiles), gpu.memory_bytes, gpu.multiprocessors)
    found = _cache.get(key)
    if found is None or found[0] is not gpu.mig_profiles:
        if len(_cache) > 1024:
            _cache.clear()
        found = (gpu.mig_profiles, _build(gpu))
        _cache[key] = found
    return found[1]  # type: ignore[return-value]


def _quantity(name: str, value: int) -> Counter:
    fmt = "BinarySI" if name == "memory" else "DecimalSI"
    return _make_counter(value=Quantity.from_int(value, fmt))


def _build(gpu: GpuInfo) -> CounterModel:
    slices = gpu.memory_slice_count
    amounts = {p.name: _profile_amounts(p) for p in gpu.mig_profiles}
    own = {"multiprocessors": gpu.multiprocessors, "memory": gpu.memory_bytes}
    totals: dict[str, int] = {}
    for counter in [c for _, c in ENGINE_COUNTERS] + ["memory"]:
        items = [
            (pl.start, pl.size, amounts[p.name][counter])
            for p in gpu.mig_profiles
            for pl in p.placements
        ]
        widest = max((amounts[p.name][counter] for p in gpu.mig_profiles), default=0)
        totals[counter] = max(own.get(counter, 0), widest, _best_non_overlapping(items, slices))
    totals = {k: v for k, v in totals.items() if v > 0}
    total_counters = {k: _quantity(k, v) for k, v in totals.items()}
    for i in range(slices):
        total_counters[slice_counter(i)] = _quantity("slice", 1)
    one = total_counters.get(slice_counter(0))
    partitions: dict[tuple[str, int], dict[str, Counter]] = {}
    for p in gpu.mig_profiles:
        base = {k: _quantity(k, v) for k, v in amounts[p.name].items() if v > 0 and k in totals}
        for pl in p.placements:
            use = dict(base)
            for i in pl.slices:
                use[slice_counter(i)] = one  # type: ignore[assignment]
            partitions[(p.name, pl.start)] = use
    return CounterModel(totals=total_counters, full_gpu=dict(total_counters), partitions=partitions)
