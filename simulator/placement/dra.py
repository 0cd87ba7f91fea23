"""Placement model (d): DRA. Each pod becomes a real ``ResourceClaim`` placed by ``dra.allocator``.

Devices: every node's inventory is built by ``dra.gpu`` (``build_node`` from its model and
GPU count, or its built-in shape) and published by ``dra.slices.build_slices`` --
``shared`` mode by default (consumable capacity: ``compute`` 1000 milli-GPU and ``memory``
per GPU), ``whole`` for the exclusive-GPU variant. DeviceClasses are the project's
``manifests/deviceclasses.yaml``, read through ``dra.data`` (package data, so a
wheel install finds them too).

Claims (one request ``gpu``; built by :mod:`simulator.placement.dra_claims`):

- fraction ``f`` of a GPU: class ``shared.gpu.nvidia.com``, ``capacity.requests``
  ``compute: f*1000`` and, when the pod states its GPU memory, ``memory``;
- whole GPUs: class ``gpu.nvidia.com`` with ``count: N`` (on shared devices the default
  ``compute`` request, 1000, takes the device whole);
- allowed models: a CEL selector on ``productName``; a GPU-memory floor: a CEL selector on
  ``capacity.memory``; a MIG profile: the profile's compute share and memory on a shared GPU;
- multi-GPU pods that need NVLink: ``constraints: matchAttribute: gpu.nvidia.com/nvlinkDomain``.

Share claims also carry the opaque ``GpuConfig`` the driver applies (``dra/plugin/config.py``'s
schema, written here as data): MPS with the pod's compute share as active-thread percentage
and its stated GPU memory as pinned-memory limit (default), or time-slicing
(``sharing="time-slicing"``); pods that really shared a GPU are counted per isolation class
(:mod:`simulator.placement.isolation`).

MIG-profile pods: the claim's ``firstAvailable`` asks for a MIG device of the profile first,
then the same share of a shared GPU. In shared mode Hopper and Blackwell GPUs also publish
their dynamic-MIG partitions, with the shared GPU consuming the whole counter set
(:mod:`simulator.placement.dra_mig`), so a MIG pod gets a real partition where one is free
(the allocator's first fit in published order) and an MPS share of exactly its profile's
compute and memory (:mod:`simulator.placement.profiles`) only where none is; a GPU is either
partitioned or shared, never both, because the counters say so.

Placement: a per-node index (free compute and memory per device, exclusive use, NVLink
domain) answers the scheduler's filter fast; the policy scores and picks devices; then the
allocator checks the claim on the chosen node. With ``device_choice="policy"`` the claim
carries one more selector naming the devices the policy picked (the FGD paper's GPU choice;
kube-scheduler has no device scoring), with ``"allocator"`` the allocator's first fit
decides. The index is updated from the allocator's result -- never from the index's own
guess -- and a refusal (index said yes, allocator no) is counted.

Speed without changing a placement (benchmarks/bench_sim_placement.py): nodes of one shape
publish the same devices, so slices and an allocator are built once per shape
(:class:`ShapePool`) and each node is asked with its own allocations translated into that
pool (:attr:`DraNode.state`, rebuilt from the index, which mirrors the allocator's results
exactly); and since the allocator is a pure function of (devices, allocations, claim), its
answers are memoised per (shape, state of the devices the claim can match, claim).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable, Mapping

from simulator.errors import UnknownNameError
from simulator.fleet.model import Fleet
from simulator.placement.base import Placement, whole_gpus_needed
from simulator.placement.dra_index import DraNode, ShapePool
from simulator.placement.isolation import EXCLUSIVE, MIG_SLICE, MPS, TIME_SLICING
from simulator.placement.dra_claims import claim_dict
from simulator.placement.nics import NIC_DRIVER, NIC_UNITS
from simulator.placement.profiles import pod_gpu_need
from simulator.state import Binding, Counters, Demand, NodeState
from simulator.trace.model import Pod

MIB = 1024 * 1024
DEVICE_CHOICES = ("policy", "allocator")
SHARINGS = ("mps", "time-slicing")
_MISSING = object()
MIG_PARTITION = "mig"  # a binding detail's capacity slot for a MIG partition (vs None: exclusive)
NIC_SHARE = "nic"  # ... for the pod's share of an RDMA NIC (GPU index -1)
# kube-scheduler's DynamicResources score (see DraPlacement.claim_score): fwk.MaxNodeScore,
# resourceapi.FirstAvailableDeviceRequestMaxSize, and the plugin's weight in the default profile
MAX_NODE_SCORE = 100
FIRST_AVAILABLE_MAX = 8
CLAIM_SCORE_WEIGHT = 2


@lru_cache(maxsize=1)
def device_classes() -> tuple[Any, ...]:
    from dra.api import DeviceClass
    from dra.api.io import load_objects
    from dra.data import deviceclasses_path

    return tuple(obj for obj in load_objects(deviceclasses_path()) if isinstance(obj, DeviceClass))


def _one_nvlink_domain(x: DraNode, out: list[int], d: Demand) -> list[int]:
    """Of the free devices ``out``, those of the first NVLink domain holding the whole demand
    (all of ``out`` when the demand needs no NVLink)."""
    if d.nvlink and d.count > 1 and len(out) >= d.count:
        by_domain: dict[Any, list[int]] = {}
        for i in out:
            by_domain.setdefault(x.domains[i] or f"solo-{i}", []).append(i)
        fitting = [g for g in by_domain.values() if len(g) >= d.count]
        return fitting[0] if fitting else []
    return out


# Device attributes that name a device's place on its node, not what it offers: devices equal
# in everything else are interchangeable for a claim that names one device and no constraint.
PLACE_ATTRIBUTES = frozenset({"uuid", "index", "minor", "resource.kubernetes.io/pciBusID",
                              "resource.kubernetes.io/pcieRoot", "resource.kubernetes.io/numaNode", "nvlinkDomain"})


def device_classes_of(devices: list[Any]) -> tuple[int, ...]:
    """Per device, the first device with the same published attributes and capacities once
    the attributes in :data:`PLACE_ATTRIBUTES` are left out (its class)."""
    import json

    first: dict[str, int] = {}
    out = []
    for i, dev in enumerate(devices):
        data = dev.to_dict()
        data.pop("name", None)
        data["attributes"] = {k: v for k, v in (data.get("attributes") or {}).items()
                              if k.rsplit("/", 1)[-1] not in PLACE_ATTRIBUTES and k not in PLACE_ATTRIBUTES}
        out.append(first.setdefault(json.dumps(data, sort_keys=True, default=str), i))
    return tuple(out)


class DraPlacement(Placement):
    name = "dra"
    description = "DRA ResourceClaims (CEL selectors, consumable capacity) placed by dra.allocator"
    nic_counts_model = False  # NICs are devices in the claim (simulator.placement.nics)

    def __init__(self, mode: str = "shared", device_choice: str = "policy", verify: bool = True,
                 sharing: str = "mps", kubernetes_version: str = "1.37",
                 feature_gates: Mapping[str, bool] | Iterable[tuple[str, bool]] = ()) -> None:
        super().__init__()
        from dra.versions import KubernetesVersion

        # The kube-scheduler whose allocator places the claims (variant, pool/slice order,
        # start location, fixes): its gates at their defaults plus the overrides.
        self.version = KubernetesVersion.of(str(kubernetes_version), dict(feature_gates))
        # Whether a device carrying shares holds its shared counters (every minor but 1.35,
        # see Allocator._holding_counters and _mig_parts)
        self._shares_hold_counters = self.version.minor != "1.35"
        # 1.34's alpha ConsumableCapacity re-checks the n-th device of a request against the
        # n-th device of its slice (dra.allocator.search, _recheck_target; an upstream quirk our
        # oracle regressions pin): a claim for gpu-1 is refused while gpu-0 has no room, so
        # the answer for one device depends on another's state. The index asks the allocator
        # about that part (_slice_recheck_filter) and the allocator memo keys on the whole node.
        self._slice_recheck = self.version.minor == "1.34" and self.version.enabled("DRAConsumableCapacity")
        # DynamicResources scores firstAvailable alternatives from 1.35 (see claim_score)
        self._scores_alternatives = self.version.at_least("1.35") and self.version.enabled("DRAPrioritizedList")
        if mode == "shared" and not self.version.enabled("DRAConsumableCapacity"):
            # Share claims ask capacity (compute, memory) of devices that allow multiple
            # allocations; that allocator would refuse every one of them.
            from dra.errors import UserError

            raise UserError(
                f"placement {'dra' if type(self) is DraPlacement else 'dra-extended'}: shared GPUs need the "
                f"DRAConsumableCapacity feature gate, off in Kubernetes {self.version.minor} (use "
                "--feature-gates DRAConsumableCapacity=true, --kubernetes-version 1.36+, or placement dra-whole)"
            )
        if sharing not in SHARINGS:
            raise UnknownNameError("DRA sharing strategy", sharing, SHARINGS)
        self.sharing = sharing
        if mode not in ("shared", "whole"):
            raise UnknownNameError("DRA slice mode", mode, ["shared", "whole"])
        if device_choice not in DEVICE_CHOICES:
            raise UnknownNameError("device choice", device_choice, DEVICE_CHOICES)
        self.mode = mode
        self.name = "dra" if mode == "shared" else "dra-whole"
        self.device_choice = device_choice
        self.verify = verify
        self.features: Any = None
        self._claims: dict[tuple, Any] = {}
        self._outcomes: dict[tuple, Any] = {}  # (node shape, device state, claim) -> outcome
        self.driver = "gpu.nvidia.com"

    # -- devices ------------------------------------------------------------------------
    def setup(self, nodes: list[NodeState], fleet: Fleet, counters: Counters) -> None:
        super().setup(nodes, fleet, counters)
        from dra.allocator import Allocator
        from dra.api import Node
        from dra.gpu.builtin import build_node, load_profile, nvl72_fabric
        from dra.slices import DRIVER_NAME, build_slices

        self.driver = DRIVER_NAME
        from simulator.placement.dra_mig import MigState, MigTable, build_shared_mig_slices
        from simulator.placement.nics import NicState, build_nic_slices, nic_device_class, nic_roots

        # Shared mode publishes the dynamic-MIG partitions beside each shared GPU where the
        # allocator can allocate devices that consume counters (simulator.placement.dra_mig).
        partitions = self.mode == "shared" and self.version.enabled("DRAPartitionableDevices")
        minor = self.version.minor

        def publish(inv: Any) -> Any:
            if partitions:
                return build_shared_mig_slices(inv, minor)
            return build_slices(inv, mode=self.mode, k8s_version=minor)

        def inventory(node: NodeState) -> Any:
            spec = node.spec
            if spec.nvlink_domain is not None:
                return build_node(node.model, node.gpu_count, node.name, fabric=nvl72_fabric(spec.nvlink_domain))
            if spec.profile:
                return load_profile(spec.profile, node.name)
            return build_node(node.model, node.gpu_count, node.name)

        # What the index needs (device names, memory, NVLink grouping, product) is the same on
        # every node of one shape, so the inventory and slices are built once per shape here;
        # a node's own slices (its pool) are built only when the allocator first runs on it
        # (:meth:`allocator_for`), which on a large fleet of identical nodes is rarely.
        shapes: dict[tuple, tuple] = {}
        cpu_shapes: dict[int, DraNode] = {}  # NICs on a node without GPUs, by NIC count
        for node in nodes:
            if node.gpu_count == 0:
                if node.spec.rdma_nics:  # a CPU node's NICs: the network driver's pool alone
                    roots = nic_roots([], node.spec.rdma_nics)
                    proto = cpu_shapes.get(node.spec.rdma_nics)
                    if proto is None:
                        rep = ShapePool(node.name, lambda node=node, roots=roots: build_nic_slices(node.name, roots))
                        proto = cpu_shapes[node.spec.rdma_nics] = DraNode([], [], [], "", [], rep, DRIVER_NAME)
                    x = proto.like(node.gpu_free)
                    x.nics = NicState(roots, [])
                    x.pool = node.name
                    node.extra = x
                continue
            spec = node.spec
            # the rack is part of the shape: its GPUs publish its own cliqueId and nvlinkDomain
            shape_key = (node.model, node.gpu_count, spec.profile, spec.nvlink_domain, spec.rdma_nics)
            found = shapes.get(shape_key)
            if found is None:
                inv = inventory(node)
                if any(g.mig_devices for g in inv.gpus):
                    from simulator.errors import FleetError

                    raise FleetError(
                        f"node {node.name}: profile {spec.profile!r} has MIG devices; the DRA placement model "
                        "publishes shared GPUs (use a profile without a MIG layout)"
                    )
                slices = publish(inv)
                devices = {d.name: d for s in slices for d in (s.spec.devices or [])}
                names, mem, domains = [], [], []
                for gpu in inv.gpus:
                    name = f"gpu-{gpu.minor}"
                    dev = devices[name]
                    cap = (dev.capacity or {}).get("memory")
                    mem.append(int(cap.value.value()) // MIB if cap is not None else gpu.memory_bytes // MIB)
                    names.append(name)
                    domains.append(gpu.nvlink_domain)
                # RDMA NICs: the network driver's pool on the same node (simulator.placement.nics)
                gpu_roots = [g.pcie_root for g in inv.gpus]
                roots = nic_roots(gpu_roots, spec.rdma_nics) if spec.rdma_nics else []
                rep = ShapePool(node.name, lambda node=node, roots=roots: publish(inventory(node)) + (
                    build_nic_slices(node.name, roots) if roots else []))
                table = MigTable(inv) if partitions else None
                proto = DraNode(names, mem, domains, inv.gpus[0].product_name, [1000] * len(names), rep, DRIVER_NAME)
                proto.dev_class = device_classes_of([devices[n] for n in names])
                # the profile and model decide attributes the claim's CEL may read
                proto.shape = shape_key + proto.shape
                found = shapes[shape_key] = (proto, table or None, (roots, gpu_roots))
            proto, table, (roots, gpu_roots) = found
            x = proto.like(node.gpu_free)
            if table is not None:
                x.mig = MigState(table)
            if roots:
                x.nics = NicState(roots, gpu_roots)
            x.pool = node.name  # build_slices names the pool after the node
            node.extra = x
        self._node_obj = lambda name: Node.from_dict({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
        version = self.version
        self.features = Allocator.for_version(version, [], []).features
        self.nic_fleet = fleet.has_nics  # GPU pods asking for RDMA get a NIC in their claim
        classes = list(device_classes()) + ([nic_device_class()] if self.nic_fleet else [])
        self._make_allocator = lambda slices: Allocator.for_version(version, classes, slices)

    def allocator_for(self, x: "DraNode") -> Any:
        # One allocator per node shape, holding only the pool of the shape's first node: the
        # allocator gathers the pools a node sees by scanning its slices, so a fleet-wide
        # allocator would pay O(fleet) per node; per-shape ones keep their CEL verdicts and
        # plans between pods, and nodes of the shape are asked with their state translated
        # into that pool (DraNode.state).
        rep = x.rep
        if rep.allocator is None:
            rep.slices = rep.build()
            if rep.slices and rep.slices[0].spec.pool.name != rep.pool:
                raise AssertionError(f"pool {rep.slices[0].spec.pool.name!r} is not named after node {rep.pool!r}")
            rep.node_obj = self._node_obj(rep.pool)
            rep.allocator = self._make_allocator(rep.slices)
        return rep.allocator

    # -- demands and claims --------------------------------------------------------------
    def demand(self, pod: Pod) -> Demand:
        n = whole_gpus_needed(pod)
        milli, gpu_mem = pod_gpu_need(pod.mig_profile, pod.gpu_milli, pod.gpu_memory_mib)
        mem_request = 0
        profile = pod.mig_profile if self.mode == "shared" else None
        if self.mode == "whole" and n:
            milli = 1000
        if n == 1 and 0 < milli < 1000 and gpu_mem:
            mem_request = gpu_mem
        return Demand(
            cpu=pod.cpu_milli, mem=pod.memory_mib, count=n, milli=milli if n else 0, models=pod.gpu_models,
            gpu_mem=gpu_mem, mig=profile, nvlink=pod.nvlink and n > 1,
            requested_milli=pod.gpu_milli if n else 0, mem_request=mem_request,
        )

    @staticmethod
    def claim_key(d: Demand, pins: tuple[int, ...] | None) -> tuple:
        return (d.count, d.milli, d.models, d.gpu_mem, d.mig, d.nvlink, d.mem_request, d.clique, d.rdma_milli, pins)

    def claim_for(self, d: Demand, pins: tuple[int, ...] | None) -> Any:
        key = self.claim_key(d, pins)
        claim = self._claims.get(key)
        if claim is None:
            from dra.api import ResourceClaim

            claim = ResourceClaim.from_dict(self.claim_dict(d, pins, name=f"c{len(self._claims)}"))
            self._claims[key] = claim
        return claim

    def claim_dict(self, d: Demand, pins: tuple[int, ...] | None = None, name: str = "pod-gpu") -> dict:
        """The ResourceClaim a pod with demand ``d`` gets (``pins``: the GPU indices the policy
        chose, as one more selector); see :func:`simulator.placement.dra_claims.claim_dict`."""
        return claim_dict(d, driver=self.driver, sharing=self.sharing, with_nic=self.wants_nic(d), pins=pins,
                          name=name)

    def check_rdma(self, pod: Pod) -> None:
        """A NIC share is a capacity request on a device that allows multiple allocations:
        without DRAConsumableCapacity the allocator refuses every such claim, so a run on a
        fleet with NICs stops before it starts, naming the first pod (on a fleet without NICs
        the share is only recorded)."""
        if getattr(self, "nic_fleet", False) and not self.version.enabled("DRAConsumableCapacity"):
            from dra.errors import UserError

            raise UserError(
                f"pod {pod.name}: its RDMA NIC share needs the DRAConsumableCapacity feature gate, off in "
                f"Kubernetes {self.version.minor} (use --feature-gates DRAConsumableCapacity=true or "
                "--kubernetes-version 1.36+)")

    def pairs_nic(self, d: Demand) -> bool:
        """Whether a GPU pod's NIC share is a request of its GPU claim, on a NIC under the GPUs'
        PCIe root (the claim's matchAttribute): always here; the migration model's pods that keep
        ``nvidia.com/gpu`` carry it in a claim of their own, on any NIC of the node."""
        return True

    def claims_for(self, d: Demand, pins: tuple[int, ...] | None) -> list[Any]:
        """The claims a pod with demand ``d`` brings to the allocator: one here."""
        return [self.claim_for(d, pins)]

    def wants_nic(self, d: Demand) -> bool:
        """A pod asking for RDMA on a fleet with NICs (elsewhere the share is only recorded): a
        GPU pod's NIC under its GPU's PCIe root, a CPU-only pod's on any NIC of the node."""
        return bool(d.rdma_milli and getattr(self, "nic_fleet", False))

    # -- the index -----------------------------------------------------------------------
    def gpu_key(self, node: NodeState) -> tuple:
        base = super().gpu_key(node)
        x: DraNode | None = node.extra
        if x is None:
            return base
        # A device with nothing free (taken whole, or its compute shared out) can take no
        # demand whatever its memory or exclusive flag, and a device with everything free has
        # no memory reserved either: only partly shared devices need their free memory in the
        # key. Fewer distinct keys = fewer groups for the scheduler to filter and score.
        free, mem_free = node.gpu_free, x.mem_free
        if self._slice_recheck:  # 1.34: which device holds what matters (see __init__), not only the multiset
            key = base + (tuple(zip(free, mem_free, x.exclusive)),)
            if x.mig is not None:
                key += (tuple(x.mig.used),)
            if x.nics is not None:
                key += (tuple(x.nics.free),)
            return key
        pairs = list(zip(free, mem_free))  # (free compute, free memory) per GPU
        # The sorted per-GPU state is only a fair summary where every GPU stands in the same
        # place. Where NVLink joins some GPUs and not others (bridged pairs) or NICs sit under
        # some GPUs' PCIe roots, which GPU is free matters (tests/test_sim_dra_keys.py): the key
        # then says it per NVLink domain, or per GPU while a NIC is partly taken. The
        # per-domain state holds every GPU's, so it stands in for the partly shared devices'.
        groups = x.domain_groups
        if groups is None:
            key = base + (tuple(sorted([p for p in pairs if 0 < p[0] < 1000])),)
        elif x.domains_solo:  # every GPU its own domain: per domain is per GPU, in sorted order
            key = base + (tuple(sorted(pairs)),)
        else:
            key = base + (tuple(sorted([tuple(sorted([pairs[i] for i in g])) for g in groups])),)
        if x.mig is not None:  # which memory slices each partitioned GPU has in use
            key += (tuple(sorted(u for u in x.mig.used if u)),)
        if x.nics is not None:
            key += (tuple(x.nics.free),)
            if any(f < NIC_UNITS for f in x.nics.free):
                key += (tuple(pairs),)
        return key

    def eligible(self, node: NodeState, d: Demand) -> list[int]:
        out = self._eligible(node, d)
        if out and self.wants_nic(d) and self.pairs_nic(d):
            out = self._nic_aligned(node.extra, out, d)
        if out and self._slice_recheck:
            return self._slice_recheck_filter(node, d, out)
        return out

    def _slice_recheck_filter(self, node: NodeState, d: Demand, out: list[int]) -> list[int]:
        """1.34 only: of the devices ``out`` that pass their own checks, those the allocator also
        lets through its re-check against the same position of their slice (which device that
        is depends on the candidate: slices hold one or two GPUs with their partitions). One
        device: each is asked as bind will ask (the same memoised question). Several: the
        allocator's own pick, so the policy pins exactly what the allocator would take."""
        if d.count == 1 and self.device_choice == "policy":
            return [i for i in out if self._allocation(node, d, (i,)) is not None]
        outcome = self._allocation(node, d, None)
        if outcome is None:
            return []
        return sorted({r[0] for r in outcome if r[0] >= 0})

    @staticmethod
    def _nic_aligned(x: DraNode, out: list[int], d: Demand) -> list[int]:
        """Of the GPUs ``out``, those of the first PCIe root whose NICs hold the pod's share and
        which has all the GPUs it needs (the claim's matchAttribute on pcieRoot)."""
        nics = x.nics
        if nics is None:
            return []
        by_root: dict[tuple[int, ...], list[int]] = {}
        for i in out:
            if nics.gpu_ok(i, d.rdma_milli):
                by_root.setdefault(nics.of_gpu[i], []).append(i)
        fitting = [g for g in by_root.values() if len(g) >= d.count]
        return [i for g in fitting for i in g] if d.count == 1 else (fitting[0] if fitting else [])

    def _eligible(self, node: NodeState, d: Demand) -> list[int]:
        x: DraNode | None = node.extra
        if x is None or not d.count:
            return []
        gpu_mem = d.gpu_mem
        mem_total = x.mem_total
        if gpu_mem and mem_total and x.mem_max < gpu_mem:
            return []
        free, mem_free, exclusive = node.gpu_free, x.mem_free, x.exclusive
        n = len(free)
        if x.mig is not None:
            return self._eligible_mig(x, free, d)
        if d.count == 1 and d.milli < 1000:  # a share
            milli, mem = d.milli, d.mem_request
            if gpu_mem:
                return [i for i in range(n) if free[i] >= milli and not exclusive[i] and mem_free[i] >= mem
                        and mem_total[i] >= gpu_mem]
            return [i for i in range(n) if free[i] >= milli and not exclusive[i] and mem_free[i] >= mem]
        # whole devices: untouched (a device with all compute free has no memory reserved either)
        out = [i for i in range(n) if free[i] == 1000 and not exclusive[i] and mem_free[i] == mem_total[i]
               and (not gpu_mem or mem_total[i] >= gpu_mem)]
        return _one_nvlink_domain(x, out, d)

    def _eligible_mig(self, x: DraNode, free: list[int], d: Demand) -> list[int]:
        """:meth:`eligible` on a node whose GPUs also offer MIG partitions: a GPU holding a
        partition takes no share and no whole claim (the shared GPU's counters are held), a
        GPU holding a share takes no partition; a MIG-profile pod fits where a partition of
        its profile is free and, only if the node has none, where its share fits -- the claim's
        ``firstAvailable`` order, which the allocator applies over all of the node's devices."""
        mig, mem_free, mem_total, exclusive = x.mig, x.mem_free, x.mem_total, x.exclusive
        used, gpu_mem, n = mig.used, d.gpu_mem, len(free)
        if d.count == 1 and d.milli < 1000:  # a share, or a MIG profile first
            milli, mem = d.milli, d.mem_request
            if d.mig:
                parts = self._mig_parts(x, free, d)
                if parts:
                    return parts
            return [i for i in range(n) if not exclusive[i] and not used[i] and free[i] >= milli
                    and mem_free[i] >= mem and mem_total[i] >= gpu_mem]
        out = [i for i in range(n) if free[i] == 1000 and not exclusive[i] and not used[i]
               and mem_free[i] == mem_total[i] and (not gpu_mem or mem_total[i] >= gpu_mem)]
        return _one_nvlink_domain(x, out, d)

    def _mig_parts(self, x: DraNode, free: list[int], d: Demand) -> list[int]:
        """The GPUs where a partition of ``d``'s MIG profile is free or can be made: partitioned
        already, or wholly free (no share, no exclusive use). On 1.35 a GPU carrying shares
        counts as free for partitions too: that allocator holds counters for dedicated devices
        only (``AllocatedDevices``), so it cuts a partition from a GPU in MPS use, which real
        hardware would refuse at prepare time (the simulator follows the scheduler)."""
        mig, mem_free, mem_total, exclusive = x.mig, x.mem_free, x.mem_total, x.exclusive
        used = mig.used
        shares_hold = self._shares_hold_counters
        return [i for i in range(len(free)) if not exclusive[i]
                and (used[i] or not shares_hold or (free[i] == 1000 and mem_free[i] == mem_total[i]))
                and mig.free_device(i, d.mig, d.gpu_mem) is not None]

    def claim_score(self, node: NodeState, d: Demand) -> int:
        """kube-scheduler's DynamicResources score (1.35+, pkg/scheduler/framework/plugins/
        dynamicresources, computeScore): per firstAvailable request, 8 minus the index of the
        alternative the allocator took on the node; normalised by the best node (x100 / max)
        and weighted 2 in the default profile. A MIG-profile pod's claim lists its partition
        first and a share second: a node with a partition of the profile free scores 200, a
        node where only the share fits 2 * (100 * 7 // 8) = 174. Where no node has the
        partition, upstream gives every node 200 and this 174: the same offset everywhere, so
        the same ranking (scores are per node here, as the engine caches them per node group)."""
        if not self._scores_alternatives or not d.mig or d.count != 1 or d.milli >= 1000:
            return 0
        x: DraNode | None = node.extra
        first = x is not None and x.mig is not None and bool(self._mig_parts(x, node.gpu_free, d))
        taken = 0 if first else 1
        return CLAIM_SCORE_WEIGHT * (MAX_NODE_SCORE * (FIRST_AVAILABLE_MAX - taken) // FIRST_AVAILABLE_MAX)

    def fits(self, node: NodeState, d: Demand) -> bool:
        if d.count == 1 and d.milli < 1000 and not d.gpu_mem and not d.mem_request and not d.mig \
                and not d.rdma_milli and not self._slice_recheck:
            # the scheduler's filter on the commonest demand: any device with enough compute
            x: DraNode | None = node.extra
            if x is None:
                return False
            milli, exclusive = d.milli, x.exclusive
            used = x.mig.used if x.mig is not None else None
            for i, f in enumerate(node.gpu_free):
                if f >= milli and not exclusive[i] and not (used and used[i]):
                    return True
            return False
        if d.count == 0:  # a CPU-only pod: only its NIC share, if any, needs a device
            if not self.wants_nic(d):
                return True
            return self._any_nic_with_room(node, d)
        if len(self.eligible(node, d)) < d.count:
            return False
        if self.wants_nic(d) and not self.pairs_nic(d):  # the NIC claim of its own: any NIC
            return self._any_nic_with_room(node, d)
        return True

    @staticmethod
    def _any_nic_with_room(node: NodeState, d: Demand) -> bool:
        x: DraNode | None = node.extra
        return x is not None and x.nics is not None and x.nics.with_room(d.rdma_milli) is not None

    # -- bind through the allocator ----------------------------------------------------
    def bind(self, node: NodeState, pod: Pod, d: Demand, gpus: tuple[int, ...], now: float) -> Binding | None:
        if d.count == 0 and not self.wants_nic(d):  # a CPU-only pod without RDMA has no claim
            return Binding(pod, node.idx, (), 0, now, detail=[], charged=0)
        if not self.verify:
            return self._apply_index(node, pod, d, gpus, now)
        pins = tuple(sorted(gpus)) if self.device_choice == "policy" else None
        outcome = self._allocation(node, d, pins)
        if outcome is None:
            return None
        return self._apply_outcome(node, pod, d, outcome, now)

    def _allocation(self, node: NodeState, d: Demand, pins: tuple[int, ...] | None) -> tuple | None:
        """The allocator's answer for ``d``'s claim (pinned to ``pins``, if any) on ``node`` now,
        as an outcome (see :meth:`_outcome`), or None when it refuses; memoised."""
        x: DraNode = node.extra
        # The allocator is a pure function of (the node's devices, what is allocated on them,
        # the claim); the index mirrors "what is allocated" exactly (free compute, free memory,
        # exclusive use per device), so an answer found once for a node shape in one state is
        # the answer on every node of that shape in that state. Memoising it removes most
        # allocator runs on large fleets of identical nodes without changing any placement.
        # With pins (the policy's devices named in a selector) no other device can match, so
        # only the pinned devices' state is part of the question.
        free, mem_free, exclusive = node.gpu_free, x.mem_free, x.exclusive
        # (not MIG-profile claims: their firstAvailable MIG branch names no device index)
        # the pinned devices' state alone answers, except on 1.34 where others' matters too (see __init__)
        pins_only = None if self._slice_recheck else pins
        single = pins_only is not None and len(pins_only) == 1 and d.count == 1 and not d.rdma_milli \
            and d.mig is None
        if single:
            # A claim for one named device with no constraint: the answer depends only on that
            # device's attributes, capacities and allocations, and devices of one class differ
            # only in attributes that name their place, which no selector here reads (the
            # claim's: productName, capacity.memory, index, profile; the DeviceClasses':
            # driver, type, allowMultipleAllocations). So the answer for one device of a class
            # in a state is the answer for every device of the class in that state, moved
            # onto it (an 8-GPU node asks the allocator once, not once per GPU).
            i = pins[0]
            state: tuple = (x.dev_class[i], (free[i], mem_free[i], exclusive[i]))
        elif pins_only is not None:
            state = tuple((free[i], mem_free[i], exclusive[i]) for i in pins_only)
        else:
            state = tuple(zip(free, mem_free, exclusive))
        if x.mig is not None:  # and the memory slices the partitions hold
            used = x.mig.used
            state += (tuple(used[i] for i in pins_only) if pins_only is not None else tuple(used),)
        if x.nics is not None and self.wants_nic(d):  # and what the NICs have left
            state += (tuple(x.nics.free),)
        # the shape's pool stands for the shape (one per shape; hashed by identity, where the
        # shape tuple would be hashed element by element on every bind)
        key = (x.rep, state, self.claim_key(d, (-1,) if single else pins))
        outcome = self._outcomes.get(key, _MISSING)
        if outcome is _MISSING:
            claims = self.claims_for(d, pins)
            self.counters.allocator_calls += 1
            allocator = self.allocator_for(x)  # builds the shape's slices and Node on first use
            results = allocator.allocate_dicts(x.node_obj, claims, allocated=x.state)
            outcome = None if results is None else tuple(r for result in results for r in self._outcome(x, result))
            if single and outcome is not None and [r[0] for r in outcome] != [pins[0]]:
                raise AssertionError(f"node {node.name}: a claim pinned to device {pins[0]} got {outcome}")
            if len(self._outcomes) > 500_000:
                self._outcomes.clear()
            self._outcomes[key] = outcome
        if outcome is not None and single and outcome[0][0] != pins[0]:  # found for another device of the class
            i = pins[0]
            outcome = tuple((i, x.names[i]) + r[2:] for r in outcome)
        return outcome

    @staticmethod
    def _outcome(x: "DraNode", result: dict) -> tuple:
        """An allocation result without its node: per device (index, name, compute milli,
        memory MiB, consumed capacities as Quantities -- None for exclusive use)."""
        from dra.api import Quantity

        out = []
        for r in (result.get("devices") or {}).get("results") or []:
            if r.get("driver") == NIC_DRIVER:  # the pod's NIC share
                rdma = Quantity(str((r.get("consumedCapacity") or {}).get("rdma", NIC_UNITS))).value()
                out.append((-1, r["device"], rdma, 0, NIC_SHARE))
                continue
            if x.mig is not None and r["device"] in x.mig.table.devices:  # a MIG partition
                i, _mask, milli, _mem, _profile = x.mig.table.devices[r["device"]]
                out.append((i, r["device"], milli, 0, MIG_PARTITION))
                continue
            i = x.index_of[r["device"]]
            consumed = r.get("consumedCapacity")
            if r.get("shareID") is not None or consumed:
                caps = tuple((name, Quantity(str(text))) for name, text in (consumed or {}).items())
                caps = tuple((name, q) for name, q in caps if q.sign() != 0)
                compute = next((q.value() for name, q in caps if name == "compute"), 0)
                memory = next((q.value() for name, q in caps if name == "memory"), 0) // MIB
                out.append((i, r["device"], compute, memory, caps))
            else:
                out.append((i, r["device"], 1000, 0, None))
        return tuple(out)

    def _apply_result(self, node: NodeState, pod: Pod, d: Demand, result: dict, now: float) -> Binding:
        return self._apply_outcome(node, pod, d, self._outcome(node.extra, result), now)

    def _apply_outcome(self, node: NodeState, pod: Pod, d: Demand, outcome: tuple, now: float) -> Binding:
        x: DraNode = node.extra
        taken = []
        charged = 0
        share_mode = TIME_SLICING if self.sharing == "time-slicing" else MPS
        first_gpu = next((r[0] for r in outcome if r[4] is not NIC_SHARE), None)
        for i, device, compute, memory, caps in outcome:
            if caps is NIC_SHARE:  # under the GPU's PCIe root when the GPU claim holds it, if any
                x.nics.take(device, compute)
                taken.append((i, device, compute, 0, NIC_SHARE))
                self.rdma[x.nics.alignment(x.nics.index_of[device], first_gpu)] += 1
            elif caps is MIG_PARTITION:  # a hardware partition: its own memory and compute
                x.mig.take(device)
                node.gpu_free[i] -= compute
                taken.append((i, device, compute, 0, MIG_PARTITION))
                charged += compute
                self.isolation.bind(node.idx, (i,), pod.name, MIG_SLICE)
            elif caps is not None:
                node.gpu_free[i] -= compute
                x.mem_free[i] -= memory
                taken.append((i, device, compute, memory, caps))
                charged += compute
                self.isolation.bind(node.idx, (i,), pod.name, share_mode)
            else:
                x.exclusive[i] = True
                node.gpu_free[i] -= 1000
                taken.append((i, device, 1000, 0, None))
                charged += 1000
                self.isolation.bind(node.idx, (i,), pod.name, EXCLUSIVE)
        gpus = tuple(t[0] for t in taken if t[4] is not NIC_SHARE)
        return Binding(pod, node.idx, gpus, d.milli, now, detail=taken, charged=charged)

    def _apply_index(self, node: NodeState, pod: Pod, d: Demand, gpus: tuple[int, ...], now: float) -> Binding:
        x: DraNode = node.extra
        taken = []
        share = d.count == 1 and d.milli < 1000
        mem = d.mem_request
        mode = (TIME_SLICING if self.sharing == "time-slicing" else MPS) if share else EXCLUSIVE
        for i in gpus:
            name = x.mig.free_device(i, d.mig, d.gpu_mem) if share and d.mig and x.mig is not None \
                and (x.mig.used[i] or node.gpu_free[i] == 1000) else None
            if name is not None:  # the claim's first choice, as the allocator would take it
                _, milli = x.mig.take(name)
                node.gpu_free[i] -= milli
                taken.append((i, name, milli, 0, MIG_PARTITION))
                self.isolation.bind(node.idx, (i,), pod.name, MIG_SLICE)
                return Binding(pod, node.idx, gpus, d.milli, now, detail=taken, charged=milli)
            if share:
                node.gpu_free[i] -= d.milli
                x.mem_free[i] -= mem
                taken.append((i, None, d.milli, mem, ()))
            else:
                x.exclusive[i] = True
                node.gpu_free[i] -= 1000
                taken.append((i, None, 1000, 0, None))
        if gpus:
            self.isolation.bind(node.idx, gpus, pod.name, mode)
        charged = sum(t[2] for t in taken)
        if self.wants_nic(d) and x.nics is not None:  # the first NIC with room (under the GPU's root)
            # fits() found a NIC with room (under the GPU's root when the GPU claim holds the
            # NIC request), so there is one
            root_of = gpus[0] if gpus and self.pairs_nic(d) else None
            k: int = x.nics.with_room(d.rdma_milli, root_of)  # type: ignore[assignment]
            x.nics.take(x.nics.names[k], d.rdma_milli)
            taken.append((-1, x.nics.names[k], d.rdma_milli, 0, NIC_SHARE))
            self.rdma[x.nics.alignment(k, gpus[0] if gpus else None)] += 1
        return Binding(pod, node.idx, gpus, d.milli, now, detail=taken, charged=charged)

    def release(self, node: NodeState, binding: Binding) -> None:
        x: DraNode = node.extra
        self.isolation.release(node.idx, binding.gpus, binding.pod.name)
        for i, device, compute, memory, consumed in binding.detail:
            if consumed is NIC_SHARE:
                x.nics.give(device, compute)
                continue
            node.gpu_free[i] += compute
            if consumed is MIG_PARTITION:
                x.mig.give(device)
            elif consumed is None:
                x.exclusive[i] = False
            else:
                x.mem_free[i] += memory
