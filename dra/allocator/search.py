"""Step 3 of allocation: the depth-first search with backtracking (upstream ``allocateOne``).

Claims are handled in order, then their requests in order, then the devices of a request
one at a time. For each needed device the candidates are tried in pool/slice/device order;
a candidate that passes every check is taken and the search recurses; on failure it is
given back and the next candidate is tried. Within one request the next device is only
looked for *after* the previous one (combinations, not permutations). The first complete
solution wins; there is no scoring.

Bounds: at most 32 devices per claim (a "too many devices" signal backtracks further up
and lets ``firstAvailable`` try a smaller alternative), and an optional budget of steps
(``max_steps``) that turns a runaway search into an error, like the scheduler's filter
timeout.

Upstream quirks that are kept on purpose (see reference §5.6): a candidate rejected for a
taint, a constraint or capacity keeps the counters it had just reserved for the rest of
the attempt, and a capacity rejection after the constraints also keeps those.
"""

from __future__ import annotations

import sys
import uuid
from typing import Any, Callable

from dra.allocator.capacity import CapacityNotRepresentable, UnknownCapacity, capacity_fits, consumed_capacity
from dra.allocator.compat import CompatGroups
from dra.allocator.constraints import Constraint
from dra.allocator.errors import AllocationError
from dra.allocator.model import DeviceInfo, Number, device_id_str, num
from dra.allocator.pools import GatheredPools, PoolInfo
from dra.allocator.requests import ALL, MAX_DEVICES_PER_CLAIM, ClaimPlan, RequestData
from dra.allocator.taints import blocking_taint

# Share IDs must be unique per share but our allocator is deterministic: derive them.
_SHARE_NAMESPACE = uuid.UUID("6f1b6c1e-6d0a-4a43-9b51-2f4f3c0f7a10")


def _no_derive(name: str, expression: str, device: DeviceInfo) -> Any:
    raise AllocationError(f"derived attribute {name}: no evaluator")


class _TooManyDevices(Exception):
    """Upstream errAllocationResultMaxSizeExceeded: backtrack further up."""


class StepBudgetExceeded(AllocationError):
    pass


class Chosen:
    """One device picked for one (sub-)request."""

    __slots__ = ("device", "request", "share_id", "consumed")

    def __init__(self, device: DeviceInfo, request: RequestData, share_id: str | None, consumed: Any) -> None:
        self.device = device
        self.request = request
        self.share_id = share_id
        self.consumed = consumed


class Search:
    """The mutable state of one allocation attempt."""

    def __init__(
        self,
        *,
        features: Any,
        plans: list[ClaimPlan],
        pools: GatheredPools,
        allocated_indices: set[int],
        allocated_capacity: dict[int, dict[str, Number]],
        holding_counters: list[DeviceInfo],
        selectable: Callable[[RequestData, DeviceInfo], bool],
        max_steps: int | None = None,
        use_start_location: bool = True,
        counters_key: str = "driver-pool",
        step_format: bool = False,
        rollback: bool = False,
        distinct_per_device: bool = False,
        legacy_1_34: bool = False,
        derive: Callable[[str, str, DeviceInfo], Any] | None = None,
        skip_node_operations: bool = False,
        node_optional_operations: bool = False,
    ) -> None:
        self.features = features
        # (attribute name, expression, device) -> derived attribute value (1.37)
        self.derive = derive or _no_derive
        self.plans = plans
        self.pools = pools
        self.candidates = pools.candidates
        self.allocated = allocated_indices
        self.allocated_capacity = allocated_capacity
        # devices in use elsewhere (dedicated or shared): they hold their counters
        self.holding_counters = holding_counters
        self.selectable = selectable
        self.max_steps = max_steps
        self.use_start_location = use_start_location
        # how upstream caches shared counters: "slice" (1.34), "pool-name" (1.35/1.36), "driver-pool" (1.37)
        self.counters_key = counters_key
        self.step_format = step_format  # 1.37: rounded capacity keeps the step's format
        self.legacy_1_34 = legacy_1_34  # 1.34: every taint blocks unless tolerated
        # 1.37 experimental: devices of slices with skipNodeOperations need the feature and a
        # node that declares DRAOptionalNodeOperations
        self.skip_node_operations = skip_node_operations
        self.node_optional_operations = node_optional_operations
        self.rollback = rollback  # 1.36+: rejected candidates give back counters, marks, constraints
        self.steps = 0  # allocateOne invocations
        self.examined = 0  # candidate devices looked at
        self.allocating: dict[int, set[int]] = {}  # device index -> claim indices
        self.allocating_capacity: dict[int, dict[str, Number]] = {}
        self.available_counters: dict[int, tuple[dict[str, dict[str, Number]], bool]] = {}
        self.consumed_counters: dict[int, dict[str, dict[str, Number]]] = {}
        self.results: list[list[Chosen]] = [[] for _ in plans]
        self.constraints: list[list[Constraint]] = [
            p.new_constraints(distinct_per_device=distinct_per_device, distinct_identity=legacy_1_34,
                              list_mode=bool(getattr(features, "list_type_attributes", False)))
            for p in plans
        ]
        self.selected_sub: dict[tuple[int, int], int] = {}
        self.share_seq = 0
        holding = {d.index for d in holding_counters}
        self.compat = CompatGroups(lambda d: d.index in holding)

    # ----------------------------------------------------------------- driver
    def run(self) -> bool:
        # One stack frame per chosen device plus a few per request and claim: make sure
        # many claims allocated together cannot hit Python's recursion limit.
        depth = sum(
            len(p.requests) * 3 + max(
                max((rd.num_devices for rd in entries), default=0) for entries in p.requests
            ) * len(p.requests) if p.requests else 2
            for p in self.plans
        ) + 200
        # Raised only for this search and restored afterwards: the limit is process-wide,
        # and other code (the CEL compiler's nesting check) relies on the default.
        previous_limit = sys.getrecursionlimit()
        if depth > previous_limit:
            sys.setrecursionlimit(depth)
        try:
            return self._one(0, 0, 0, 0, False, 0)
        except _TooManyDevices:
            return False
        finally:
            if depth > previous_limit:
                sys.setrecursionlimit(previous_limit)

    # ------------------------------------------------------------ the search
    def _one(self, ci: int, ri: int, si: int, di: int, in_sub: bool, start: int) -> bool:
        self.steps += 1
        if self.max_steps is not None and self.steps > self.max_steps:
            raise StepBudgetExceeded(
                f"filter operation aborted: search exceeded {self.max_steps} steps"
            )
        plans = self.plans
        if ci >= len(plans):
            return True
        plan = plans[ci]
        if ri >= len(plan.requests):
            try:
                return self._one(ci + 1, 0, 0, 0, False, 0)
            except _TooManyDevices:
                return False
        entries = plan.requests[ri]
        if not in_sub and entries[0].parent is not None:
            all_exceeded = True
            for sub_index in range(len(entries)):
                try:
                    ok = self._one(ci, ri, sub_index, di, True, 0)
                except _TooManyDevices:
                    continue
                all_exceeded = False
                if ok:
                    self.selected_sub[(ci, ri)] = sub_index
                    return True
            if all_exceeded:
                raise _TooManyDevices()
            return False

        rd = entries[si]
        do_all = rd.mode == ALL
        if do_all and not rd.all_devices:
            return False
        if di >= rd.num_devices:
            return self._one(ci, ri + 1, 0, 0, False, 0)
        if len(self.results[ci]) + rd.num_devices - di > MAX_DEVICES_PER_CLAIM:
            raise _TooManyDevices()

        if do_all:
            device = rd.all_devices[di]
            self.examined += 1
            undo = self._allocate_device(ci, rd, device, must=True, di=di)
            if undo is None:
                return False
            try:
                done = self._one(ci, ri, si, di + 1, in_sub, 0)
            except BaseException:
                undo()
                raise
            if not done:
                undo()
            return done

        candidates = self.candidates
        allocated = self.allocated
        allocating = self.allocating
        cc = self.features.consumable_capacity
        admin = rd.admin
        for pos in range(start if self.use_start_location else 0, len(candidates)):
            device = candidates[pos]
            self.examined += 1
            idx = device.index
            if self.legacy_1_34:
                pool = self.pools.pool_of[idx]
                if pool.invalid:
                    # 1.34: reaching an invalid pool while searching is a fatal error.
                    raise AllocationError(f"pool {pool.name} is invalid: {pool.invalid_reason}")
            if admin:
                claims = allocating.get(idx)
                if claims and ci in claims:
                    continue
            elif idx in allocated or allocating.get(idx):
                continue
            if not self.selectable(rd, device):
                continue
            if cc and not self._capacity_ok(rd, device):
                continue
            undo = self._allocate_device(ci, rd, device, must=False, di=di)
            if undo is None:
                continue
            try:
                done = self._one(ci, ri, si, di + 1, in_sub, pos + 1)
            except BaseException:
                undo()
                raise
            if done:
                return True
            undo()
        return False

    # ------------------------------------------------------- one candidate
    def _capacity_ok(self, rd: RequestData, device: DeviceInfo) -> bool:
        try:
            return capacity_fits(
                device,
                rd.capacity,
                self.allocated_capacity.get(device.index),
                self.allocating_capacity.get(device.index),
                self.features.fractional_capacity_range,
            )
        except UnknownCapacity:
            return False
        except CapacityNotRepresentable as err:
            raise AllocationError(f"claim {rd.claim_key}, request {rd.name}: checking capacity for device "
                                  f"{device_id_str(device.id)}: {err}") from None

    def _recheck_target(self, device: DeviceInfo, di: int) -> DeviceInfo:
        """The device whose capacity the final check reads. 1.34 (alpha ConsumableCapacity)
        passes the index of the device *within the request* as an index into the candidate's
        slice, so the n-th device of a request is checked against the n-th device of its
        slice (a second share that fits on gpu-1 is refused when gpu-0 is full)."""
        if not self.legacy_1_34:
            return device
        devices = device.slice.devices
        if di >= len(devices):
            # upstream: index out of range (a panic in kube-scheduler 1.34)
            raise AllocationError(
                f"runtime error: index out of range [{di}] with length {len(devices)} "
                "(kube-scheduler 1.34 panics here)")
        return devices[di]

    def _allocate_device(
        self, ci: int, rd: RequestData, device: DeviceInfo, *, must: bool, di: int = 0
    ) -> Callable[[], None] | None:
        features = self.features
        idx = device.index
        multi = features.consumable_capacity and device.multi_raw
        admin = rd.admin
        claims = self.allocating.get(idx)
        if not multi and admin and claims and ci in claims:
            return None
        if not admin and (idx in self.allocated or claims):
            return None
        if self.skip_node_operations and device.slice.skip_node_operations and not (
                features.optional_node_operations and self.node_optional_operations):
            return None
        if device.consumes and not features.partitionable_devices:
            return None
        # 1.35+: a further share of a device already shared does not take its counters again
        # (1.34 takes them for every share).
        skip_counters = multi and not self.legacy_1_34 and (
            idx in self.allocated_capacity or idx in self.allocating_capacity
        )
        compat_undo: Callable[[], None] | None = None
        if features.compatibility_groups and not skip_counters and device.consumes:
            # 1.37 experimental: checked before the counters, undone with them.
            pool = self.pools.pool_of[idx]
            compat_undo = self.compat.check_and_take(id(pool), pool.all_devices, device)
            if compat_undo is None:
                return None
        reserved = False
        if not skip_counters and device.consumes:
            if not self._take_counters(device):
                if compat_undo is not None:
                    compat_undo()
                return None
            reserved = True
        rollback = self.rollback
        added: list[Constraint] = []
        marked = False
        capacity_existed = idx in self.allocating_capacity
        consumed = None

        def reject() -> None:
            # 1.36+ (rollbackDevice): a rejected candidate gives back everything it took.
            # Before, the counters (and the constraint/mark on a capacity miss) stayed taken.
            if not rollback:
                return
            if marked:
                s = self.allocating.get(idx)
                if s is not None:
                    s.discard(ci)
                    if not s:
                        del self.allocating[idx]
            for c in reversed(added):
                c.remove(rd.base_name, rd.sub_name, device)
            if compat_undo is not None:
                compat_undo()
            if reserved:
                self._release_counters(device)

        if features.device_taints and device.taints:
            if blocking_taint(device.taints, rd.tolerations, any_effect=self.legacy_1_34) is not None:
                reject()
                return None
        for constraint in self.constraints[ci]:
            derived = None
            if rd.derived is not None and constraint.attribute in rd.derived \
                    and constraint.applies(rd.base_name, rd.sub_name):
                try:
                    derived = self.derive(constraint.attribute, rd.derived[constraint.attribute], device)
                except AllocationError:
                    for c in reversed(added):
                        c.remove(rd.base_name, rd.sub_name, device)
                    added.clear()
                    reject()
                    raise
            if not constraint.add(rd.base_name, rd.sub_name, device, derived):
                for c in reversed(added):
                    c.remove(rd.base_name, rd.sub_name, device)
                added.clear()
                reject()
                if must:
                    raise AllocationError(
                        f"claim {self.plans[ci].key}, request {rd.name}: cannot add device "
                        f"{device_id_str(device.id)} because a claim constraint would not be satisfied"
                    )
                return None
            added.append(constraint)
        if not multi:
            self.allocating.setdefault(idx, set()).add(ci)
            marked = True
        share_id: str | None = None
        if features.consumable_capacity:
            if not self._capacity_ok(rd, self._recheck_target(device, di)):
                reject()
                return None  # before 1.36 upstream does not undo the steps above here
            if multi:
                consumed = consumed_capacity(device, rd.capacity, step_format=self.step_format,
                                             fractional=self.features.fractional_capacity_range)
                per_device = self.allocating_capacity.setdefault(idx, {})
                for name, q in consumed.items():
                    per_device[name] = per_device.get(name, 0) + num(q)
                share_id = self._new_share_id(ci, rd, device)
        results = self.results[ci]
        n_before = len(results)
        results.append(Chosen(device, rd, share_id, consumed if consumed else None))

        def undo() -> None:
            del results[n_before:]
            for c in reversed(added):
                c.remove(rd.base_name, rd.sub_name, device)
            if not multi:
                s = self.allocating.get(idx)
                if s is not None:
                    s.discard(ci)
                    if not s:
                        del self.allocating[idx]
            elif consumed is not None:
                per_device = self.allocating_capacity.get(idx)
                if per_device is not None:
                    for name, q in consumed.items():
                        per_device[name] = per_device.get(name, 0) - num(q)
                    # 1.36+: an entry that existed before stays (it marks the earlier share).
                    if all(v == 0 for v in per_device.values()) and not (rollback and capacity_existed):
                        del self.allocating_capacity[idx]
            if rollback:
                if compat_undo is not None:
                    compat_undo()
                if reserved:
                    self._release_counters(device)
            elif not multi and device.consumes and not skip_counters:
                self._release_counters(device)

        return undo

    def _new_share_id(self, ci: int, rd: RequestData, device: DeviceInfo) -> str:
        self.share_seq += 1
        claim = self.plans[ci].claim
        uid = getattr(getattr(claim, "metadata", None), "uid", None) or self.plans[ci].key
        # What the device already carries is part of the input: a second share of the
        # same device for an identical claim gets another ID, yet the same input always
        # gives the same IDs (upstream draws random UUIDs).
        in_use = sorted(self.allocated_capacity.get(device.index, {}).items())
        name = f"{uid}|{rd.full_name}|{device_id_str(device.id)}|{self.share_seq}|{in_use}"
        return str(uuid.uuid5(_SHARE_NAMESPACE, name))

    # -------------------------------------------------------------- counters
    def _counter_key(self, device: DeviceInfo) -> Any:
        mode = self.counters_key
        if mode == "slice":
            return ("slice", device.slice.name)
        pool = self.pools.pool_of[device.index]
        if mode == "pool-name":
            return ("pool", pool.name)
        return id(pool)

    def _pool_available(self, device: DeviceInfo, key: Any) -> tuple[dict[str, dict[str, Number]], bool]:
        cached = self.available_counters.get(key)
        if cached is not None:
            return cached
        if self.counters_key == "slice":
            # 1.34: the counter sets of the device's own slice, minus that slice's devices in use.
            sets = {cs.name: {k: num(v.value) for k, v in (cs.counters or {}).items()}
                    for cs in device.slice.counter_sets}
            holders = [d for d in self.holding_counters if d.slice is device.slice]
        else:
            # The first pool asking fills the entry (with "pool-name" another driver's pool of
            # the same name then shares it, as 1.35/1.36 do).
            pool = self.pools.pool_of[device.index]
            sets = pool.counter_sets
            pool_of = self.pools.pool_of
            holders = [d for d in self.holding_counters if pool_of.get(d.index) is pool]
        available = {name: dict(counters) for name, counters in sets.items()}
        for d in holders:
            for set_name, counters in d.consumes:
                have = available.get(set_name)
                if have is None:
                    continue
                for counter, amount in counters:
                    if counter in have:
                        have[counter] -= amount
        negative = any(v < 0 for counters in available.values() for v in counters.values())
        cached = (available, negative)
        self.available_counters[key] = cached
        return cached

    def _take_counters(self, device: DeviceInfo) -> bool:
        key = self._counter_key(device)
        available, negative = self._pool_available(device, key)
        consumed = self.consumed_counters.setdefault(key, {})
        for set_name, counters in device.consumes:
            per_set = consumed.setdefault(set_name, {})
            for counter, amount in counters:
                per_set[counter] = per_set.get(counter, 0) + amount
        ok = not negative
        if ok:
            # Upstream compares every counter set of the entry with what is consumed from it.
            for set_name, have in available.items():
                per_set = consumed.get(set_name)
                if not per_set:
                    continue
                for counter, total in have.items():
                    if total < per_set.get(counter, 0):
                        ok = False
                        break
                if not ok:
                    break
        if not ok:
            self._release_counters(device)
        return ok

    def _release_counters(self, device: DeviceInfo) -> None:
        key = self._counter_key(device)
        consumed = self.consumed_counters.get(key)
        if consumed is None:
            return
        for set_name, counters in device.consumes:
            per_set = consumed.get(set_name)
            if per_set is None:
                continue
            for counter, amount in counters:
                per_set[counter] = per_set.get(counter, 0) - amount

