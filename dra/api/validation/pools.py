"""Checks across the slices of one pool (what the API server cannot see, one slice at a time).

The Go ResourceSlice controller pre-validates a driver's pools before publishing, and the
allocator skips or rejects inconsistent pools.  ``validate_pools`` reports the same problems
for a set of slices: device names and counter-set names unique in a pool, ``consumesCounters``
naming existing counter sets and counters (1.35: anywhere in the pool; 1.34: in the same slice,
already checked per slice), one ``resourceSliceCount`` per pool generation, and pools whose
newest generation has fewer slices than announced (incomplete pools are not allocated from).

Errors carry the path ``pool <driver>/<pool>`` followed by the slice and field path.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from dra.api.errors import FieldError
from dra.api.resourceslice import ResourceSlice
from dra.api.validation.errs import child, duplicate, index, invalid


def _slice_label(s: ResourceSlice, i: int) -> str:
    return f"slice {s.metadata.name}" if s.metadata and s.metadata.name else f"slices[{i}]"


def validate_pools(slices: Sequence[ResourceSlice], *, k8s_version: str = "1.35") -> list[FieldError]:
    """Problems across slices, grouped per (driver, pool); empty when consistent."""
    pools: dict[tuple[str, str], list[tuple[int, ResourceSlice]]] = defaultdict(list)
    for i, s in enumerate(slices):
        pools[(s.spec.driver, s.spec.pool.name)].append((i, s))
    errs: list[FieldError] = []
    for (driver, pool), members in sorted(pools.items()):
        newest = max(s.spec.pool.generation for _, s in members)
        current = [(i, s) for i, s in members if s.spec.pool.generation == newest]
        errs.extend(_check_pool(f"pool {driver}/{pool}", current, k8s_version))
    return errs


def _check_pool(prefix: str, members: list[tuple[int, ResourceSlice]], k8s_version: str) -> list[FieldError]:
    errs: list[FieldError] = []
    counts = {s.spec.pool.resource_slice_count for _, s in members}
    if len(counts) > 1:
        errs.append(
            invalid(
                f"{prefix}: spec.pool.resourceSliceCount",
                sorted(counts)[-1],
                f"slices of generation {members[0][1].spec.pool.generation} disagree on the slice count ({sorted(counts)})",
            )
        )
    elif counts and len(members) < min(counts):
        errs.append(
            invalid(
                f"{prefix}: spec.pool.resourceSliceCount",
                min(counts),
                f"pool is incomplete: {len(members)} of {min(counts)} slices published",
            )
        )

    device_owner: dict[str, str] = {}
    counter_sets: dict[str, set[str]] = {}
    set_owner: dict[str, str] = {}
    for i, s in members:
        label = _slice_label(s, i)
        for j, cs in enumerate(s.spec.shared_counters or []):
            path = f"{prefix}: {label}: {index('spec.sharedCounters', j)}"
            if cs.name in set_owner:
                errs.append(FieldError(child(path, "name"), f'{duplicate("", cs.name).message} (also in {set_owner[cs.name]})'))
            else:
                set_owner[cs.name] = label
                counter_sets[cs.name] = set(cs.counters or {})
        for j, d in enumerate(s.spec.devices or []):
            path = f"{prefix}: {label}: {index('spec.devices', j)}"
            owner = device_owner.get(d.name)
            if owner is not None and owner != label:
                errs.append(FieldError(child(path, "name"), f'{duplicate("", d.name).message} (also in {owner})'))
            device_owner.setdefault(d.name, label)

    if k8s_version.startswith("1.34"):
        return errs  # 1.34 references stay inside one slice: checked by validate()
    for i, s in members:
        label = _slice_label(s, i)
        for j, d in enumerate(s.spec.devices or []):
            for k, c in enumerate(d.consumes_counters or []):
                path = f"{prefix}: {label}: {index(child(index('spec.devices', j), 'consumesCounters'), k)}"
                known = counter_sets.get(c.counter_set)
                if known is None:
                    errs.append(invalid(child(path, "counterSet"), c.counter_set, "must reference a counter set defined in the pool"))
                    continue
                for name in sorted(c.counters or {}):
                    if name not in known:
                        errs.append(invalid(child(path, "counters"), name, f'must reference a counter of counter set "{c.counter_set}"'))
    return errs
