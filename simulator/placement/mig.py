"""Placement model (c): the device plugin with static MIG (``mig.strategy`` single or mixed).

A fixed share of the MIG-capable nodes (``mig_fraction``, every n-th node of each model, so
the choice is deterministic) is partitioned once with a fixed layout taken from
``dra.gpu`` (the same MIG tables the driver publishes):

- ``single``: every GPU cut into the smallest one-compute-slice profile (7x ``1g.10gb`` on an
  H100); the slices are advertised as ``nvidia.com/gpu``.
- ``mixed``: every GPU cut into the balanced layout (``3g`` + ``2g`` + ``1g`` + ``1g``); each
  profile is its own resource ``nvidia.com/mig-<profile>``.

A pod that wants less than a GPU (a fraction or a MIG profile) needs a slice offering at
least its compute share (slices/7) and its GPU memory. Under ``single`` it may take such a
slice or a whole non-MIG GPU (node affinity ORs both products); under ``mixed`` it asks for
one profile -- the smallest in the fleet's layouts that satisfies it -- so only slices of that
profile qualify (a whole GPU if no MIG node exists). Whole-GPU pods use non-MIG GPUs only.
The cluster is charged the slice's compute share (1g = 142 milli, see :mod:`simulator.placement.profiles`), or 1000 for a whole GPU.
"""

from __future__ import annotations

from dra.gpu.builtin import build_node

from simulator.errors import UnknownNameError
from simulator.fleet.catalog import model as catalog_model
from simulator.fleet.model import Fleet
from simulator.placement.base import Placement, whole_gpus_needed
from simulator.placement.isolation import EXCLUSIVE, MIG_SLICE
from simulator.placement.profiles import pod_gpu_need, slice_holds, slice_milli
from simulator.state import Binding, Counters, Demand, NodeState
from simulator.trace.model import Pod

STRATEGIES = ("single", "mixed")


class Slice:
    __slots__ = ("profile", "compute", "total", "memory_mib", "milli", "used")

    def __init__(self, profile: str, compute: int, total: int, memory_mib: int) -> None:
        self.profile = profile
        self.compute = compute
        self.total = total
        self.memory_mib = memory_mib
        self.milli = slice_milli(compute, total)
        self.used = False


class StaticMigDevicePlugin(Placement):
    name = "mig"
    description = "device plugin with static MIG (fixed layouts)"

    def __init__(self, strategy: str = "mixed", mig_fraction: float = 0.5) -> None:
        super().__init__()
        if strategy not in STRATEGIES:
            raise UnknownNameError("MIG strategy", strategy, STRATEGIES)
        self.strategy = strategy
        self.mig_fraction = mig_fraction
        self.name = f"mig-{strategy}"
        self._profiles: list[Slice] = []  # distinct (profile, compute, memory) on offer

    def setup(self, nodes: list[NodeState], fleet: Fleet, counters: Counters) -> None:
        super().setup(nodes, fleet, counters)
        seen: dict[str, int] = {}
        offered: dict[tuple[str, int, int], Slice] = {}
        for node in nodes:
            spec = catalog_model(node.model) if node.model else None
            if spec is None or not spec.mig_capable or node.gpu_count == 0:
                continue
            k = seen.get(node.model, 0)
            seen[node.model] = k + 1
            every = round(1 / self.mig_fraction) if self.mig_fraction > 0 else 0
            if not every or k % every:
                continue
            total = max(p.compute_slices for p in spec.mig_profiles)
            if self.strategy == "single":
                smallest = min((p for p in spec.mig_profiles if p.compute_slices == 1), key=lambda p: p.memory_bytes)
                layout = f"all-{smallest.name}"
            else:
                layout = "all-balanced"
            inventory = build_node(node.model, node.gpu_count, node.name, mig_layout=layout)
            gpus = []
            for gpu in inventory.gpus:
                slices = []
                for dev in gpu.mig_devices:
                    prof = next(p for p in spec.mig_profiles if p.name == dev.profile)
                    s = Slice(dev.profile, prof.compute_slices, total, dev.memory_bytes // (1024 * 1024))
                    slices.append(s)
                    offered.setdefault((s.profile, s.compute, s.memory_mib), s)
                gpus.append(sorted(slices, key=lambda s: (s.compute, s.memory_mib)))
            node.extra = gpus
            for i, slices in enumerate(gpus):
                node.gpu_free[i] = sum(s.milli for s in slices)
        self._profiles = sorted(offered.values(), key=lambda s: (s.compute / s.total, s.memory_mib))

    def _wanted_profile(self, milli: int, gpu_mem: int) -> str | None:
        for s in self._profiles:
            if slice_holds(s.compute, s.total, milli) and s.memory_mib >= gpu_mem:
                return s.profile
        return None

    def demand(self, pod: Pod) -> Demand | None:
        n = whole_gpus_needed(pod)
        milli, gpu_mem = pod_gpu_need(pod.mig_profile, pod.gpu_milli, pod.gpu_memory_mib)
        mig = None
        if n == 1 and milli < 1000 and self.strategy == "mixed":
            mig = self._wanted_profile(milli, gpu_mem)
        return Demand(
            cpu=pod.cpu_milli, mem=pod.memory_mib, count=n, milli=milli if n else 0, models=pod.gpu_models,
            gpu_mem=gpu_mem, mig=mig, nvlink=pod.nvlink, requested_milli=pod.gpu_milli if n else 0,
        )

    def gpu_key(self, node: NodeState) -> tuple:
        base = super().gpu_key(node)
        if node.extra is None:
            return base
        free = tuple(sorted(tuple(s.profile for s in slices if not s.used) for slices in node.extra))
        return base + (free,)

    def _slice_for(self, slices: list[Slice], d: Demand) -> Slice | None:
        for s in slices:  # smallest first
            if s.used:
                continue
            if d.mig is not None:
                if s.profile == d.mig:
                    return s
                continue
            if slice_holds(s.compute, s.total, d.milli) and s.memory_mib >= d.gpu_mem:
                return s
        return None

    def eligible(self, node: NodeState, d: Demand) -> list[int]:
        partial = d.count == 1 and d.milli < 1000
        whole_ok = not (partial and d.mig is not None) and not (d.gpu_mem and node.gpu_mem and node.gpu_mem < d.gpu_mem)
        out = []
        for i, free in enumerate(node.gpu_free):
            if node.extra is not None:  # a partitioned GPU: only its slices
                if partial and self._slice_for(node.extra[i], d) is not None:
                    out.append(i)
            elif whole_ok and free == 1000:
                out.append(i)
        return out

    def bind(self, node: NodeState, pod: Pod, d: Demand, gpus: tuple[int, ...], now: float) -> Binding | None:
        charged = 0
        detail = []
        for i in gpus:
            if node.extra is not None:
                s = self._slice_for(node.extra[i], d)
                if s is None:
                    return None
                s.used = True
                node.gpu_free[i] -= s.milli
                charged += s.milli
                detail.append(s)
            else:
                node.gpu_free[i] -= 1000
                charged += 1000
                detail.append(None)
        if gpus:  # a MIG slice is a hardware partition; a whole GPU is used alone
            self.isolation.bind(node.idx, gpus, pod.name, MIG_SLICE if detail[0] is not None else EXCLUSIVE)
        self.take_nic(node, pod, d, gpus)
        return Binding(pod, node.idx, gpus, d.milli, now, detail=detail, charged=charged)

    def release(self, node: NodeState, binding: Binding) -> None:
        for i, s in zip(binding.gpus, binding.detail):
            if s is None:
                node.gpu_free[i] += 1000
            else:
                s.used = False
                node.gpu_free[i] += s.milli
        # MIG slices and whole GPUs have no co-tenants, so this only keeps the books symmetric
        # with bind (every model releases what it bound)
        self.isolation.release(node.idx, binding.gpus, binding.pod.name)
        self.give_nic(binding)

