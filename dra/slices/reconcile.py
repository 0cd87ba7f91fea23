"""Plan how to turn the ResourceSlices on the API server into the desired ones (pure, no I/O).

A consumer (the scheduler's allocator) reads a pool as the slices with the pool's highest
``generation`` and trusts it only when it has ``resourceSliceCount`` of them. The plan keeps
every state that a consumer can observe between two writes either the old complete pool, the
new complete pool, or visibly incomplete, never a complete-looking mix:

* Existing and desired slices are matched by their position and their device names (plus
  counter-set names for counter-only slices): a slice's name starts with its index in the
  pool (:mod:`dra.slices.naming`, as upstream's resourceslice controller does), so that the
  names' lexical order is the driver's slice order, which Kubernetes 1.36+ allocates in. An
  existing slice is only ever re-used for the position its name carries; a pool of one
  existing and one desired slice matches when the existing one is named for position 0.
* The generation stays when every slice at the highest generation already equals its desired
  slice (only missing ones are created: a fresh pool being finished, or a publish resumed after
  a failure), or when exactly one slice changes and nothing is created or deleted (one write
  turns the old pool into the new one). Otherwise the generation goes up by one (or to the
  driver's requested generation if that is higher), and every desired slice is written with
  it: all slices of the new generation carry the new content and the new count, so a
  consumer sees an incomplete pool until the last of them is written.
* Slices that are not wanted are deleted only after all writes, oldest generation first: a
  deletion can then only make a pool incomplete, never uncover an older complete generation.
* A desired slice whose device set matches a slice of an older generation (left over from an
  interrupted publish) re-uses that slice (update) instead of create + delete.

Taint ``timeAdded`` is rounded to seconds and kept from an existing identical taint (same
device, key, value, effect) so that republishing the same taints writes nothing.
"""

from __future__ import annotations

import copy
import datetime as _dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from dra.errors import UserError
from dra.slices.naming import decode_index, generate_name, index_length

Obj = dict[str, Any]
_NODE_SELECTION_OTHERS = ("nodeSelector", "allNodes", "perDeviceNodeSelection")


class DesiredSliceError(UserError):
    """The desired slices are inconsistent (found before anything is written)."""


@dataclass(frozen=True)
class ExistingSlice:
    """A ResourceSlice as listed from the API server (only what planning needs)."""

    name: str
    uid: str
    resource_version: str
    pool: str
    generation: int
    obj: Obj  # the full object as listed

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> "ExistingSlice":
        meta = obj.get("metadata") or {}
        pool = (obj.get("spec") or {}).get("pool") or {}
        return cls(
            name=str(meta.get("name", "")),
            uid=str(meta.get("uid", "")),
            resource_version=str(meta.get("resourceVersion", "")),
            pool=str(pool.get("name", "")),
            generation=int(pool.get("generation") or 0),
            obj=dict(obj),
        )


@dataclass(frozen=True)
class Write:
    """One API call of a plan: create (``body``), update (``slice`` + ``body``) or delete."""

    action: str  # "create" | "update" | "delete"
    pool: str
    body: Obj | None = None
    slice: ExistingSlice | None = None

    def describe(self) -> str:
        target = self.slice.name if self.slice else "(new)"
        return f"{self.action} {target} (pool {self.pool})"


@dataclass
class PoolPlan:
    pool: str
    generation: int | None  # None when the pool is being removed
    old_generation: int | None
    writes: list[Write] = field(default_factory=list)  # creates and updates
    deletes: list[Write] = field(default_factory=list)
    unchanged: int = 0


@dataclass
class Plan:
    pools: list[PoolPlan]

    def steps(self) -> list[Write]:
        """All API calls in a safe order: per pool, every write before any delete."""
        ordered: list[Write] = []
        for pool in self.pools:
            ordered.extend(pool.writes)
            ordered.extend(pool.deletes)
        return ordered

    def counts(self) -> dict[str, int]:
        found = {"create": 0, "update": 0, "delete": 0}
        for step in self.steps():
            found[step.action] += 1
        return found

    @property
    def is_noop(self) -> bool:
        return not self.steps()


# --- desired-state preparation -------------------------------------------------------------------

@dataclass(frozen=True)
class DesiredPool:
    name: str
    slices: tuple[Obj, ...]  # full objects without pool.generation / resourceSliceCount decided
    requested_generation: int


def prepare_desired(desired: Sequence[Mapping[str, Any]], *, driver: str, node_name: str) -> list[DesiredPool]:
    """Check and normalise desired slices (node-local, this driver), grouped by pool name."""
    pools: dict[str, list[Obj]] = defaultdict(list)
    requested: dict[str, int] = defaultdict(int)
    for index, raw in enumerate(desired):
        obj = copy.deepcopy(dict(raw))
        where = f"desired slice {index}"
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            raise DesiredSliceError(f"{where}: spec: Required value")
        if spec.get("driver", driver) != driver:
            raise DesiredSliceError(f"{where}: spec.driver: {spec['driver']!r} is not this publisher's driver {driver!r}")
        spec["driver"] = driver
        others = [f for f in _NODE_SELECTION_OTHERS if spec.get(f) not in (None, False)]
        if others:
            raise DesiredSliceError(f"{where}: spec.{others[0]}: a node-local publisher only publishes slices with "
                                    f"spec.nodeName (node {node_name})")
        if spec.get("nodeName", node_name) != node_name:
            raise DesiredSliceError(f"{where}: spec.nodeName: {spec['nodeName']!r} is not this node {node_name!r}")
        spec["nodeName"] = node_name
        pool = spec.setdefault("pool", {})
        pool_name = pool.get("name") or node_name
        pool["name"] = pool_name
        requested[pool_name] = max(requested[pool_name], int(pool.get("generation") or 0))
        obj["apiVersion"], obj["kind"] = "resource.k8s.io/v1", "ResourceSlice"
        pools[pool_name].append(obj)
    result = []
    for name, slices in pools.items():
        _check_pool(name, slices)
        result.append(DesiredPool(name, tuple(slices), requested[name]))
    return result


def _check_pool(pool: str, slices: list[Obj]) -> None:
    """The pool-wide rules the API server cannot check slice by slice (as upstream's helper)."""
    devices: dict[str, int] = {}
    counter_sets: dict[str, set[str]] = {}
    for index, obj in enumerate(slices):
        spec = obj["spec"]
        for counter_set in spec.get("sharedCounters") or []:
            name = counter_set.get("name", "")
            if name in counter_sets:
                raise DesiredSliceError(f"pool {pool}: duplicate counter set name {name!r}")
            counter_sets[name] = set((counter_set.get("counters") or {}).keys())
        for device in spec.get("devices") or []:
            name = device.get("name", "")
            if name in devices:
                raise DesiredSliceError(f"pool {pool}: duplicate device name {name!r} (desired slices "
                                        f"{devices[name]} and {index})")
            devices[name] = index
    for obj in slices:
        for device in obj["spec"].get("devices") or []:
            for consumption in device.get("consumesCounters") or []:
                set_name = consumption.get("counterSet", "")
                if set_name not in counter_sets:
                    raise DesiredSliceError(f"pool {pool}: device {device.get('name')!r} consumes from counter set "
                                            f"{set_name!r}, which is not defined in the pool")
                for counter in (consumption.get("counters") or {}):
                    if counter not in counter_sets[set_name]:
                        raise DesiredSliceError(f"pool {pool}: device {device.get('name')!r}: counter {counter!r} "
                                                f"not found in counter set {set_name!r}")


# --- planning ------------------------------------------------------------------------------------

def plan_publish(desired: Sequence[DesiredPool], existing: Iterable[ExistingSlice], *, driver: str,
                 node_name: str, owner: Obj | None, now: _dt.datetime) -> Plan:
    """Compute the writes that turn ``existing`` into ``desired`` (see the module docstring)."""
    by_pool: dict[str, list[ExistingSlice]] = defaultdict(list)
    for slice_ in existing:
        by_pool[slice_.pool].append(slice_)
    plans = []
    desired_names = set()
    for pool in desired:
        desired_names.add(pool.name)
        plans.append(_plan_pool(pool, by_pool.get(pool.name, []), driver=driver, node_name=node_name,
                                owner=owner, now=now))
    for name in sorted(set(by_pool) - desired_names):
        gone = sorted(by_pool[name], key=lambda s: (s.generation, s.name))
        plans.append(PoolPlan(name, None, max(s.generation for s in gone), [],
                              [Write("delete", name, slice=s) for s in gone]))
    return Plan(plans)


def _plan_pool(pool: DesiredPool, existing: list[ExistingSlice], *, driver: str, node_name: str,
               owner: Obj | None, now: _dt.datetime) -> PoolPlan:
    count = len(pool.slices)
    top = max((s.generation for s in existing), default=None)
    current = sorted((s for s in existing if s.generation == top), key=lambda s: s.name)
    obsolete = sorted((s for s in existing if s.generation != top), key=lambda s: (s.generation, s.name))
    desired = [_with_taint_times(obj, existing, now) for obj in pool.slices]

    def body(index: int, generation: int) -> Obj:
        obj = copy.deepcopy(desired[index])
        obj["spec"]["pool"] = {"name": pool.name, "generation": generation, "resourceSliceCount": count}
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k in ("labels", "annotations")}
        meta["generateName"] = generate_name(index, count, driver, node_name)
        if owner is not None:
            meta["ownerReferences"] = [owner]
        obj["metadata"] = meta
        return obj

    width = index_length(count)

    def position(slice_: ExistingSlice) -> int:
        return decode_index(slice_.name, width)

    matched, unmatched_desired, unmatched_current = _match(desired, current, position)
    base = top if top is not None else 0
    changed = [(i, s) for i, s in matched if not same_content(body(i, base), s.obj)]
    keep = (top is not None and pool.requested_generation <= top and not unmatched_current
            and (not changed or (len(changed) == 1 and not unmatched_desired)))
    if keep:
        generation = base
        to_update = changed
    else:
        generation = max(base + 1, pool.requested_generation)
        to_update = matched
    plan = PoolPlan(pool.name, generation, top, unchanged=len(matched) - len(to_update))
    for index, slice_ in to_update:
        plan.writes.append(Write("update", pool.name, body=_as_update(body(index, generation), slice_), slice=slice_))
    # Every slice gets rewritten at a new generation anyway: turning a slice that is no longer
    # wanted into a new one saves a create and a delete (most shared devices first).
    paired: dict[int, ExistingSlice] = {}
    if not keep:
        paired = _pair_by_overlap([desired[i] for i in unmatched_desired], unmatched_current, unmatched_desired,
                                  position)
        unmatched_current = [s for s in unmatched_current if s not in paired.values()]
    # Leftovers of an interrupted publish with the right devices are rewritten, not replaced.
    reusable = {(_key(s.obj), position(s)): s for s in reversed(obsolete)}
    for index in unmatched_desired:
        if index in paired:
            plan.writes.append(Write("update", pool.name, body=_as_update(body(index, generation), paired[index]),
                                     slice=paired[index]))
            continue
        found = reusable.pop((_key(desired[index]), index), None)
        if found is not None:
            obsolete.remove(found)
            plan.writes.append(Write("update", pool.name, body=_as_update(body(index, generation), found), slice=found))
        else:
            plan.writes.append(Write("create", pool.name, body=body(index, generation)))
    stale = sorted([*obsolete, *unmatched_current], key=lambda s: (s.generation, s.name))
    plan.deletes.extend(Write("delete", pool.name, slice=s) for s in stale)
    return plan


def _as_update(body: Obj, slice_: ExistingSlice) -> Obj:
    meta = body["metadata"]
    meta.pop("generateName", None)
    old_meta = slice_.obj.get("metadata") or {}
    if old_meta.get("generateName"):
        meta["generateName"] = old_meta["generateName"]
    meta["name"], meta["uid"], meta["resourceVersion"] = slice_.name, slice_.uid, slice_.resource_version
    return body


def _key(obj: Mapping[str, Any]) -> tuple[frozenset[str], frozenset[str]]:
    spec = obj.get("spec") or {}
    return (frozenset(d.get("name", "") for d in spec.get("devices") or []),
            frozenset(c.get("name", "") for c in spec.get("sharedCounters") or []))


def _match(desired: list[Obj], current: list[ExistingSlice], position: Callable[[ExistingSlice], int]
           ) -> tuple[list[tuple[int, ExistingSlice]], list[int], list[ExistingSlice]]:
    """Pair desired slices (by index) with current slices named for that index holding the same device names."""
    if len(desired) == 1 and len(current) == 1 and position(current[0]) == 0:
        return [(0, current[0])], [], []
    free: dict[Any, list[ExistingSlice]] = defaultdict(list)
    for slice_ in current:
        free[(_key(slice_.obj), position(slice_))].append(slice_)
    matched, unmatched = [], []
    for index, obj in enumerate(desired):
        candidates = free.get((_key(obj), index))
        if candidates:
            matched.append((index, candidates.pop(0)))
        else:
            unmatched.append(index)
    left = [s for group in free.values() for s in group]
    return matched, unmatched, sorted(left, key=lambda s: s.name)


def _pair_by_overlap(wanted: list[Obj], spare: list[ExistingSlice], indexes: list[int],
                     slot: Callable[[ExistingSlice], int]) -> dict[int, ExistingSlice]:
    """Greedy pairing of unmatched desired slices with unmatched existing ones named for the same
    index, largest overlap first."""
    scored = []
    for position, obj in enumerate(wanted):
        names = _key(obj)[0] | _key(obj)[1]
        for slice_ in spare:
            if slot(slice_) != indexes[position]:
                continue
            other = _key(slice_.obj)[0] | _key(slice_.obj)[1]
            scored.append((-len(names & other), position, slice_.name, slice_))
    scored.sort(key=lambda item: item[:3])
    paired: dict[int, ExistingSlice] = {}
    used: set[str] = set()
    for _, position, name, slice_ in scored:
        if indexes[position] in paired or name in used:
            continue
        paired[indexes[position]] = slice_
        used.add(name)
    return paired


# --- comparison ----------------------------------------------------------------------------------

def same_content(desired: Mapping[str, Any], stored: Mapping[str, Any]) -> bool:
    """True if writing ``desired`` would not change ``stored`` (spec, labels, annotations, owner)."""
    return _content(desired) == _content(stored)


def _content(obj: Mapping[str, Any]) -> Any:
    meta = obj.get("metadata") or {}
    owners = [{k: v for k, v in o.items() if k in ("apiVersion", "kind", "name", "uid", "controller")}
              for o in meta.get("ownerReferences") or []]
    spec = canonical_quantities(omit_empty(obj.get("spec")))
    return omit_empty({"spec": spec, "labels": meta.get("labels"), "annotations": meta.get("annotations"),
                       "owners": owners})


def canonical_quantities(spec: Any) -> Any:
    """``spec`` with every quantity in canonical form (the API server stores ``1024Mi`` as ``1Gi``).

    Comparing canonical forms is comparing values, as upstream's semantic equality does, so a
    desired ``1024Mi`` does not look changed against a stored ``1Gi`` on every resync.
    """
    if not isinstance(spec, dict):
        return spec

    def fix(holder: Any, key: str) -> None:
        if isinstance(holder, dict) and isinstance(holder.get(key), str):
            holder[key] = _canonical(holder[key])

    def counters(entries: Any) -> None:
        for counter in (entries or {}).values() if isinstance(entries, dict) else ():
            fix(counter, "value")

    for counter_set in spec.get("sharedCounters") or []:
        counters(counter_set.get("counters"))
    for device in spec.get("devices") or []:
        for capacity in (device.get("capacity") or {}).values():
            fix(capacity, "value")
            policy = capacity.get("requestPolicy") if isinstance(capacity, dict) else None
            if isinstance(policy, dict):
                fix(policy, "default")
                if isinstance(policy.get("validValues"), list):
                    policy["validValues"] = [_canonical(v) if isinstance(v, str) else v for v in policy["validValues"]]
                for bound in ("min", "max", "step"):
                    fix(policy.get("validRange"), bound)
        for consumption in device.get("consumesCounters") or []:
            counters(consumption.get("counters"))
    return spec


def _canonical(text: str) -> str:
    from dra.api import Quantity, QuantityError

    try:
        return str(Quantity(text))
    except QuantityError:
        return text  # not ours to judge here: the API server rejects it with a field path


def omit_empty(value: Any, key: str = "") -> Any:
    """Drop unset values (None, empty lists and maps) the way omitempty does; normalise times."""
    if isinstance(value, dict):
        cleaned = {k: omit_empty(v, k) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [omit_empty(v) for v in value]
    if key == "timeAdded" and value is not None:
        return format_time(parse_time(value))
    return value


def parse_time(value: Any) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        moment = value
    else:
        moment = _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc).replace(microsecond=0)


def format_time(moment: _dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _with_taint_times(obj: Obj, existing: list[ExistingSlice], now: _dt.datetime) -> Obj:
    """Fill/round taint timeAdded, keeping the time of the same taint already published."""
    devices = (obj.get("spec") or {}).get("devices") or []
    if not any(d.get("taints") for d in devices):
        return obj
    known: dict[tuple[str, str, str, str], str] = {}
    for slice_ in existing:
        for device in (slice_.obj.get("spec") or {}).get("devices") or []:
            for taint in device.get("taints") or []:
                if taint.get("timeAdded"):
                    ident = (device.get("name", ""), taint.get("key", ""), taint.get("value", ""),
                             taint.get("effect", ""))
                    known.setdefault(ident, taint["timeAdded"])
    obj = copy.deepcopy(obj)
    for device in obj["spec"].get("devices") or []:
        for taint in device.get("taints") or []:
            ident = (device.get("name", ""), taint.get("key", ""), taint.get("value", ""), taint.get("effect", ""))
            if taint.get("timeAdded"):
                taint["timeAdded"] = format_time(parse_time(taint["timeAdded"]))
            elif ident in known:
                taint["timeAdded"] = format_time(parse_time(known[ident]))
            else:
                taint["timeAdded"] = format_time(parse_time(now))
    return obj
