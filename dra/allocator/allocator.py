"""The structured allocator: kube-scheduler semantics per version, pure and deterministic.

Usage::

    alloc = Allocator.for_version(KubernetesVersion.of("1.37"), classes, slices)
    results = alloc.allocate(node, claims)   # list[AllocationResult], or None

(``Allocator(features, classes, slices)`` without a version behaves as 1.35 does.)

``allocate`` returns one ``AllocationResult`` per claim in claim order, or ``None`` when
the claims do not fit on this node (the scheduler's "unschedulable"). Problems with the
input raise :class:`AllocationError`, whose message carries upstream's wording.

Reuse is cheap: the slices are converted once (:mod:`dra.allocator.model`), the pools a
node can see are gathered once per node, CEL selectors are compiled once per expression
and their verdicts are memoized per (expression, device). What is in use can change from
call to call (``allocate(..., allocated=state)``); nothing else is recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from dra.allocator.capacity import CapacityNotRepresentable, UnknownCapacity, capacity_fits
from dra.allocator.errors import AllocationError
from dra.allocator.features import Features
from dra.allocator.model import DeviceInfo, Number, build_slice_infos, device_id_str, num
from dra.allocator.nodes import NodeView
from dra.allocator.pools import GatheredPools, gather_pools
from dra.allocator.requests import ClaimPlan, Preparer, RequestData
from dra.allocator.results import result_dict
from dra.allocator.search import Search
from dra.allocator.state import AllocatedState
from dra.allocator.variants import EXPERIMENTAL, STABLE, Behaviour, NoVariant, choose_variant, features_for_gates
from dra.versions import KubernetesVersion


@dataclass
class AllocationStats:
    """Work done by the last attempt (for benchmarks and explanations)."""

    steps: int = 0  # upstream numAllocateOneInvocations
    examined: int = 0  # candidate devices looked at


class Allocator:
    def __init__(
        self,
        features: Features,
        classes: Sequence[Any],
        slices: Sequence[Any],
        allocated: AllocatedState | None = None,
        *,
        max_steps: int | None = None,
        behaviour: Behaviour | None = None,
        cel_gates: Mapping[str, bool] | None = None,
    ) -> None:
        self.features = features
        if behaviour is None:
            # Without a version: 1.35, the variant its NewAllocator picks for these features.
            try:
                behaviour = Behaviour.of("1.35", features)
            except NoVariant:
                behaviour = Behaviour.of("1.37", features)
        self.behaviour = behaviour
        # The scheduler's CEL cache takes its own features from the gates (in 1.36 the
        # DRAListTypeAttributes gate reaches CEL but not the allocator), so selectors are
        # compiled in the environment of this minor with those two gates.
        if cel_gates is None:
            cel_gates = {"DRAConsumableCapacity": features.consumable_capacity,
                         "DRAListTypeAttributes": features.list_type_attributes}
        self._cel_version = KubernetesVersion(minor=behaviour.minor, gates={
            gate: bool(cel_gates.get(gate, False)) for gate in ("DRAConsumableCapacity", "DRAListTypeAttributes")})
        self.classes: dict[str, Any] = {}
        for c in classes:
            name = getattr(getattr(c, "metadata", None), "name", None)
            if name and name not in self.classes:
                self.classes[name] = c
        self.slices = list(slices)
        self._slice_infos, self.devices = build_slice_infos(self.slices)
        self._indices_of: dict[Any, list[int]] = {}
        for d in self.devices:
            self._indices_of.setdefault(d.id, []).append(d.index)
        self.allocated = allocated if allocated is not None else AllocatedState()
        self.max_steps = max_steps
        self._pools: dict[Any, GatheredPools] = {}
        self._compiled: dict[str, Any] = {}
        self._verdicts: dict[str, dict[int, Any]] = {}
        self._plans: dict[int, tuple[Any, ClaimPlan]] = {}
        self.last_stats = AllocationStats()

    @classmethod
    def for_version(
        cls,
        version: Any,
        classes: Sequence[Any],
        slices: Sequence[Any],
        allocated: AllocatedState | None = None,
        *,
        max_steps: int | None = None,
        variant: str | None = None,
    ) -> "Allocator":
        """The allocator kube-scheduler ``version`` runs (a :class:`dra.versions.KubernetesVersion`).

        Its gates become ``Features`` as the scheduler's ``AllocatorFeatures`` maps them, and
        the variant is the one upstream ``NewAllocator`` picks for them (``variant`` forces
        one, as upstream's testing hook ``EnableAllocators`` does).
        """
        features = features_for_gates(version.minor, version.gates)
        behaviour = Behaviour(version.minor, variant or choose_variant(version.minor, features))
        return cls(features, classes, slices, allocated, max_steps=max_steps, behaviour=behaviour,
                   cel_gates=version.gates)

    # ------------------------------------------------------------------ API
    def allocate(
        self,
        node: Any | None,
        claims: Sequence[Any],
        *,
        allocated: AllocatedState | None = None,
    ) -> list[Any] | None:
        """Allocate all claims on ``node``; None when they cannot all fit there."""
        raw = self.allocate_dicts(node, claims, allocated=allocated)
        if raw is None:
            return None
        from dra.api import AllocationResult

        return [AllocationResult.from_dict(r) for r in raw]

    def allocate_dicts(
        self,
        node: Any | None,
        claims: Sequence[Any],
        *,
        allocated: AllocatedState | None = None,
    ) -> list[dict[str, Any]] | None:
        """Like :meth:`allocate` but returns Kubernetes-JSON dicts (cheaper)."""
        attempt = self.attempt(node, claims, allocated=allocated)
        if not attempt.search.run():
            self.last_stats = AllocationStats(attempt.search.steps, attempt.search.examined)
            if attempt.pools.any_invalid and self.behaviour.minor != "1.34":
                raise AllocationError("invalid resource pools were encountered", node_local=True)
            return None
        search = attempt.search
        self.last_stats = AllocationStats(search.steps, search.examined)
        node_name = attempt.node.name if attempt.node is not None else ""
        binding = self.features.device_binding_and_status
        return [
            result_dict(plan, search.results[plan.index], search.selected_sub, node_name, binding,
                        compact_config=self.behaviour.minor >= "1.37",
                        skip_node_operations=(self.behaviour.minor >= "1.37"
                                              and self.behaviour.variant == EXPERIMENTAL),
                        tolerations=self.behaviour.minor >= "1.35")
            for plan in attempt.plans
        ]

    # ------------------------------------------------------------ internals
    def attempt(
        self, node: Any | None, claims: Sequence[Any], *, allocated: AllocatedState | None = None
    ) -> "Attempt":
        """Gather pools and prepare claims; the returned search has not run yet."""
        state = allocated if allocated is not None else self.allocated
        view = NodeView.of(node)
        pools = self.pools_for(view)
        allocated_idx: set[int] = set()
        for dev_id in state.devices:
            allocated_idx.update(self._indices_of.get(dev_id, ()))
        allocated_cap: dict[int, dict[str, Number]] = {}
        for dev_id, caps in state.capacity.items():
            converted = {name: num(q) for name, q in caps.items()}
            for i in self._indices_of.get(dev_id, ()):
                allocated_cap[i] = converted
        memo = pools.selectable_memo

        def selectable(rd: RequestData, device: DeviceInfo) -> bool:
            key = (rd.signature, device.index)
            hit = memo.get(key)
            if hit is None:
                hit = self._selectable(rd, device, pools)
                memo[key] = hit
            return hit

        # 1.37 (k/k #140769): "All" collects devices by static capacity only, so a device
        # whose remaining capacity is short stays in the list and the request fails.
        static_all = self.behaviour.minor >= "1.37"
        fractional = self.features.fractional_capacity_range
        experimental_137 = self.behaviour.minor >= "1.37" and self.behaviour.variant == EXPERIMENTAL

        def capacity_ok(rd: RequestData, device: DeviceInfo) -> bool:
            try:
                in_use = None if static_all else allocated_cap.get(device.index)
                return capacity_fits(device, rd.capacity, in_use, None, fractional)
            except UnknownCapacity:
                return False
            except CapacityNotRepresentable as err:
                raise AllocationError(f"claim {rd.claim_key}, request {rd.name}: checking capacity for device "
                                      f"{device.name}: {err}") from None

        preparer = Preparer(
            features=self.features,
            classes=self.classes,
            pools=pools,
            selectable=selectable,
            capacity_ok=capacity_ok,
            cache=self._plans,
            derived_field=self.behaviour.minor >= "1.37",
        )
        plans = preparer.prepare(claims)
        search = Search(
            features=self.features,
            plans=plans,
            pools=pools,
            allocated_indices=allocated_idx,
            allocated_capacity=allocated_cap,
            holding_counters=self._holding_counters(state),
            selectable=selectable,
            max_steps=self.max_steps,
            use_start_location=self.behaviour.start_location,
            counters_key=self.behaviour.counters_key,
            step_format=self.behaviour.minor >= "1.37",
            rollback=self.behaviour.minor >= "1.36",
            distinct_per_device=self.behaviour.minor >= "1.37",
            legacy_1_34=self.behaviour.minor == "1.34",
            derive=self._derive,
            skip_node_operations=experimental_137,
            node_optional_operations=view is not None and "DRAOptionalNodeOperations" in view.declared_features,
        )
        return Attempt(view, pools, plans, search, selectable)

    def _holding_counters(self, state: AllocatedState) -> list[DeviceInfo]:
        """Devices whose counters are consumed by earlier allocations, in slice order.

        Upstream 1.34 and 1.35 (every variant), and the stable variant of later releases,
        count the dedicated devices only (``AllocatedDevices``): a device that only carries
        shares holds no counters there, so a partition can still be cut from a GPU whose
        shared device is in use (seen on the real 1.35.4 scheduler, tests/real/
        test_real_scoring.py). From 1.36 the incubating and experimental variants ask
        ``IsDeviceAllocated``: dedicated, shared (``AllocatedSharedDeviceIDs``) or with
        consumed capacity.
        """
        ids = set(state.devices)
        if self.behaviour.minor >= "1.36" and self.behaviour.variant != STABLE:
            ids.update(state.shared_devices)
            ids.update(state.capacity)
        found = [i for dev_id in ids for i in self._indices_of.get(dev_id, ())]
        return [self.devices[i] for i in sorted(found)]

    def pools_for(self, view: NodeView | None) -> GatheredPools:
        key = view.key() if view is not None else None
        pools = self._pools.get(key)
        if pools is None:
            pools = gather_pools(self._slice_infos, view, self.features, self.behaviour)
            self._pools[key] = pools
        return pools

    def _selectable(self, rd: RequestData, device: DeviceInfo, pools: GatheredPools) -> bool:
        if device.binding_conditions and not self.features.device_binding_and_status:
            return False
        for i, expr in enumerate(rd.class_selectors):
            if not self._matches(expr, device, i, rd, from_class=True):
                return False
        for i, expr in enumerate(rd.selectors):
            if not self._matches(expr, device, i, rd, from_class=False):
                return False
        if device.slice.per_device and device.index in pools.node_excluded:
            error = pools.node_errors.get(device.index)
            if error is not None:
                raise AllocationError(error)
            return False
        return True

    def _derive(self, name: str, expression: str, device: DeviceInfo) -> Any:
        """A request's derived attribute on ``device`` (1.37, upstream ``lookupAttribute``):
        evaluated once per (device, expression); compile and runtime errors abort allocation."""
        from dra.cel import CelCompileError, CelRuntimeError
        from dra.cel.derived import compile_derived, derived_attribute

        key = ("derived", expression)
        hit = device.attr_cache.get(key)
        if hit is None:
            try:
                hit = derived_attribute(compile_derived(expression, self._cel_version), device.cel())
            except (CelCompileError, CelRuntimeError) as err:
                hit = err
            device.attr_cache[key] = hit
        if isinstance(hit, CelCompileError):
            raise AllocationError(f"compile derived attribute {name} failed: {hit}")
        if isinstance(hit, CelRuntimeError):
            raise AllocationError(
                f"evaluate derived attribute {name} on device {device_id_str(device.id)} failed: {hit}")
        return hit

    def _matches(self, expr: str | None, device: DeviceInfo, i: int, rd: RequestData, *, from_class: bool) -> bool:
        from dra.cel import CelCompileError, CelRuntimeError, compile_selector

        claim = rd.claim_key
        where = f"class {rd.class_name}" if from_class else f"claim {claim}"
        suffix = "" if from_class else f" (request {rd.full_name})"
        prefix = f"claim {claim}, request {rd.full_name}: " if from_class else ""
        if expr is None:
            raise AllocationError(
                f"{prefix}{where}: selector #{i}: CEL expression empty (unsupported selector type?){suffix}"
            )
        verdicts = self._verdicts.get(expr)
        if verdicts is None:
            verdicts = self._verdicts[expr] = {}
        verdict = verdicts.get(device.index)
        if verdict is None:
            compiled = self._compiled.get(expr)
            if compiled is None:
                try:
                    compiled = compile_selector(expr, env_type="stored", version=self._cel_version)
                except CelCompileError as err:
                    compiled = err
                self._compiled[expr] = compiled
            if isinstance(compiled, CelCompileError):
                raise AllocationError(
                    f"{prefix}{where}: selector #{i}: CEL compile error: {compiled}{suffix}"
                )
            try:
                verdict = bool(compiled.matches(device.cel()))
            except CelRuntimeError as err:
                verdict = err
            verdicts[device.index] = verdict
        if isinstance(verdict, Exception):
            raise AllocationError(
                f"{prefix}{where}: selector #{i} on device {device_id_str(device.id)}: "
                f"CEL runtime error: {verdict}{suffix}"
            )
        return verdict


@dataclass
class Attempt:
    node: NodeView | None
    pools: GatheredPools
    plans: list[ClaimPlan]
    search: Search
    selectable: Any
