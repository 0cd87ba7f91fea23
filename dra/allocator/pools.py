"""Step 1 of allocation: which resource pools (and devices) can a node use?

Follows upstream 1.35 ``GatherPools`` (1.34's simpler rules and 1.36's ordering as noted): slices are filtered by node selection, grouped by
(driver, pool), only the newest generation of a pool is kept, and each pool is checked for
completeness (``resourceSliceCount``) and validity (unique device names, unique counter
set names, counter references that resolve). Incomplete and invalid pools are kept as
markers without usable devices: "All" requests fail on them, and an invalid pool turns a
failed search into the error "invalid resource pools were encountered".

The result is cached per node by :class:`dra.allocator.Allocator` and never mutated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dra.allocator.errors import AllocationError
from dra.allocator.features import Features
from dra.allocator.model import DeviceInfo, Number, SliceInfo, num
from dra.allocator.nodes import NodeView, node_matches
from dra.allocator.variants import Behaviour


@dataclass
class PoolInfo:
    driver: str
    name: str
    incomplete: bool = False
    invalid: bool = False
    invalid_reason: str = ""
    slices_for_node: list[SliceInfo] = field(default_factory=list)
    slices_not_for_node: list[SliceInfo] = field(default_factory=list)
    # counter set -> counter -> total
    counter_sets: dict[str, dict[str, Number]] = field(default_factory=dict)
    has_binding: bool = False

    @property
    def id(self) -> str:
        return f"{self.driver}/{self.name}"

    @property
    def usable(self) -> bool:
        return not (self.incomplete or self.invalid)

    def devices_for_node(self) -> list[DeviceInfo]:
        return [d for s in self.slices_for_node for d in s.devices]

    def all_devices(self) -> list[DeviceInfo]:
        return [d for s in (*self.slices_for_node, *self.slices_not_for_node) for d in s.devices]


@dataclass
class GatheredPools:
    """Pools visible from one node, in search order, plus derived lookups."""

    pools: list[PoolInfo]
    # devices of usable pools in search order (pool, slice, device)
    candidates: list[DeviceInfo]
    # device index -> False when per-device node selection excludes it on this node
    node_excluded: frozenset[int]
    pool_of: dict[int, PoolInfo]  # device index -> its pool (usable or not)
    any_invalid: bool
    # device index -> node selection error, raised when the device is looked at
    node_errors: dict[int, str] = field(default_factory=dict)
    # (request selector signature, device index) -> selectable on this node
    selectable_memo: dict[tuple[Any, int], bool] = field(default_factory=dict)


def _slice_targets_node(s: SliceInfo, node: NodeView | None) -> bool:
    try:
        return node_matches(node, s.node_name, s.all_nodes, s.node_selector)
    except AllocationError as err:
        raise AllocationError(
            f"gather pool information: failed to perform node selection for slice {s.name}: {err}"
        ) from None


def _device_targets_node(d: DeviceInfo, node: NodeView | None) -> bool:
    obj = d.obj
    try:
        return node_matches(node, obj.node_name, bool(obj.all_nodes), obj.node_selector)
    except AllocationError as err:
        raise AllocationError(
            "gather pool information: failed to perform node selection for device "
            f"{d.name} in slice {d.slice.name}: {err}"
        ) from None


def gather_pools(
    slices: list[SliceInfo], node: NodeView | None, features: Features, behaviour: Behaviour | None = None
) -> GatheredPools:
    behaviour = behaviour or Behaviour()
    # 1.34: counter sets live in the device's own slice (no counter-only slices), a pool is
    # complete when the node sees resourceSliceCount slices of its newest generation, only
    # device names are checked, and an invalid pool stays searchable (see Search).
    legacy = behaviour.minor == "1.34"
    partitionable = features.partitionable_devices
    # 1.37 (all variants): without DRADeviceCompatibilityGroups a slice whose devices declare
    # compatibility groups is ignored, which leaves its pool incomplete (nothing of it is
    # allocated, whatever is in use). Before 1.37 the field does not exist upstream.
    drop_compat = behaviour.minor >= "1.37" and not features.compatibility_groups
    node_excluded: set[int] = set()
    node_errors: dict[int, str] = {}
    normal: list[SliceInfo] = []
    deferred: list[SliceInfo] = []
    for s in slices:
        counter_slice = bool(s.counter_sets) and not legacy
        if not partitionable and (s.per_device_raw is not None or counter_slice):
            continue
        if drop_compat and s.uses_compat_groups:
            continue
        if counter_slice:
            keep = True
        elif s.node_name or s.all_nodes or s.node_selector is not None:
            keep = _slice_targets_node(s, node)
        elif s.per_device:
            # Upstream stops at the first device that targets the node; the others are
            # checked when a request looks at them, and only then can their selector fail.
            keep = False
            for d in s.devices:
                if keep:
                    try:
                        if not _device_targets_node(d, node):
                            node_excluded.add(d.index)
                    except AllocationError as err:
                        node_errors[d.index] = str(err).removeprefix("gather pool information: ")
                        node_excluded.add(d.index)
                elif _device_targets_node(d, node):
                    keep = True
                else:
                    node_excluded.add(d.index)
        else:
            keep = False  # some future node-selection mode
        if keep:
            (deferred if s.has_binding else normal).append(s)

    # Collect by pool, keeping only the newest generation seen.
    collected: dict[tuple[str, str], list[SliceInfo]] = {}
    for s in (*normal, *deferred):
        key = (s.driver, s.pool)
        have = collected.get(key)
        if have is None or s.generation > have[0].generation:
            collected[key] = [s]
        elif s.generation == have[0].generation:
            have.append(s)

    all_by_pool: dict[tuple[str, str], list[SliceInfo]] = {}
    for s in slices:
        all_by_pool.setdefault((s.driver, s.pool), []).append(s)

    pools: list[PoolInfo] = []
    for key, kept in collected.items():
        if legacy:
            pools.append(_build_pool_1_34(key, kept))
            continue
        generation = kept[0].generation
        not_for_node: list[SliceInfo] = []
        incomplete = False
        if len(kept) != kept[0].slice_count:
            everything = all_by_pool[key]
            if any(s.generation > generation for s in everything):
                continue  # the pool is being replaced by a newer generation: ignore it
            same = [s for s in everything if s.generation == generation
                    and not (drop_compat and s.uses_compat_groups)]
            if len(same) != kept[0].slice_count:
                incomplete = True
            else:
                kept_ids = {id(s) for s in kept}
                not_for_node = [s for s in same if id(s) not in kept_ids]
        if behaviour.ordered:
            # 1.36+ incubating/experimental: slices by name, so drivers set the order.
            kept = sorted(kept, key=lambda s: s.name)
        pools.append(_build_pool(key, kept, not_for_node, incomplete, partitionable))

    if behaviour.ordered:
        # 1.36+ incubating/experimental: pools by (driver, pool), binding-condition pools last.
        pools.sort(key=lambda p: (p.has_binding, p.driver, p.name))
    else:
        # Pools with binding-condition devices are tried last (otherwise map order upstream).
        pools.sort(key=lambda p: p.has_binding)
    return _finish(pools, node_excluded, node_errors, invalid_in_candidates=legacy)


def _finish(pools: list[PoolInfo], node_excluded: set[int], node_errors: dict[int, str],
            *, invalid_in_candidates: bool = False) -> GatheredPools:
    candidates: list[DeviceInfo] = []
    pool_of: dict[int, PoolInfo] = {}
    for p in pools:
        for d in p.all_devices():
            pool_of[d.index] = p
        # 1.34 searches invalid pools too and fails when it reaches one (see Search).
        if p.usable or (invalid_in_candidates and p.invalid and not p.incomplete):
            candidates.extend(p.devices_for_node())
    return GatheredPools(
        pools=pools,
        candidates=candidates,
        node_excluded=frozenset(node_excluded),
        node_errors=node_errors,
        pool_of=pool_of,
        any_invalid=any(p.invalid for p in pools),
    )


def _build_pool_1_34(key: tuple[str, str], kept: list[SliceInfo]) -> PoolInfo:
    """1.34: incomplete unless the node sees every slice; invalid only for a duplicate device name."""
    pool = PoolInfo(driver=key[0], name=key[1], incomplete=len(kept) != kept[0].slice_count)
    pool.slices_for_node = list(kept)
    pool.has_binding = any(s.has_binding for s in kept)
    seen: set[str] = set()
    for s in kept:
        for d in s.devices:
            if d.name in seen and not pool.invalid:
                _invalid(pool, f"duplicate device name {d.name}")
            seen.add(d.name)
    return pool


def _device_slices(slices: list[SliceInfo], partitionable: bool) -> list[SliceInfo]:
    if not partitionable:
        return list(slices)
    return [s for s in slices if not s.counter_sets]


def _build_pool(
    key: tuple[str, str],
    kept: list[SliceInfo],
    not_for_node_all: list[SliceInfo],
    incomplete: bool,
    partitionable: bool,
) -> PoolInfo:
    pool = PoolInfo(driver=key[0], name=key[1], incomplete=incomplete)
    pool.slices_for_node = _device_slices(kept, partitionable)
    pool.slices_not_for_node = _device_slices(not_for_node_all, partitionable)
    pool.has_binding = any(s.has_binding for s in pool.slices_for_node)
    if incomplete:
        return pool

    # Like upstream, device names are checked only where devices are allocated from.
    seen: set[str] = set()
    for s in pool.slices_for_node:
        for d in s.devices:
            if d.name in seen:
                return _invalid(pool, f"duplicate device name {d.name}")
            seen.add(d.name)

    if partitionable:
        counter_slices = [s for s in (*kept, *not_for_node_all) if s.counter_sets]
        for s in counter_slices:
            for cs in s.counter_sets:
                if cs.name in pool.counter_sets:
                    return _invalid(pool, f"duplicate counter set name {cs.name}")
                pool.counter_sets[cs.name] = {
                    k: num(v.value) for k, v in (cs.counters or {}).items()
                }
        for s in (*pool.slices_for_node, *pool.slices_not_for_node):
            for d in s.devices:
                for set_name, counters in d.consumes:
                    have = pool.counter_sets.get(set_name)
                    if have is None:
                        return _invalid(pool, f"counter set {set_name} not found")
                    for counter, _ in counters:
                        if counter not in have:
                            return _invalid(
                                pool, f"counter {counter} not found in counter set {set_name}"
                            )
    return pool


def _invalid(pool: PoolInfo, reason: str) -> PoolInfo:
    pool.invalid = True
    pool.invalid_reason = reason
    return pool
