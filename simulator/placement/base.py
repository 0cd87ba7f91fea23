"""The placement-model interface: how a trace pod becomes a scheduling demand, which GPUs of a
node can take it, and what binding it there does to the node.

The engine owns CPU, host memory and the GPU-affinity tags of a node; a placement model owns
the GPU side (``NodeState.gpu_free`` in its own currency and anything in ``NodeState.extra``).
"""

from __future__ import annotations

from typing import ClassVar

from simulator.fleet.model import Fleet
from simulator.placement.isolation import EXCLUSIVE, Isolation
from simulator.placement.nics import NicCounts, gpu_pcie_roots, nic_roots
from simulator.state import Binding, Counters, Demand, NodeState
from simulator.trace.model import Pod


class Placement:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def __init__(self) -> None:
        self.counters = Counters()
        self.fleet: Fleet | None = None
        self.isolation = Isolation(self.counters)

    # Whether RDMA NICs are counted the device-plugin way (a node total, no PCIe alignment);
    # DRA places them as devices in the claim instead.
    nic_counts_model: ClassVar[bool] = True

    def setup(self, nodes: list[NodeState], fleet: Fleet, counters: Counters) -> None:
        self.counters = counters
        self.fleet = fleet
        self.isolation = Isolation(counters)
        self.nic_counts: NicCounts | None = None
        # RDMA NIC shares placed: GPU pods with a NIC under their GPU's PCIe root or not, and
        # CPU-only pods (any NIC of the node)
        self.rdma = {"aligned": 0, "unaligned": 0, "cpu_only": 0}
        self._nic_taken: dict[str, tuple[int, list[tuple[int, int]]]] = {}
        if self.nic_counts_model and fleet.has_nics:
            self.nic_counts = count_nics(nodes)

    # Whether pods carry the node affinity that expresses their allowed GPU models and GPU-memory
    # floor (device-plugin models only; DRA expresses both in the claim's CEL selectors).
    node_affinity: bool = True

    def constraints(self, pod: Pod) -> tuple[tuple[str, ...], int]:
        """(allowed models, GPU-memory floor) the scheduler sees for ``pod`` in this model."""
        if self.node_affinity:
            return pod.gpu_models, pod.gpu_memory_mib
        return (), 0

    def count_wrong_model(self, node: NodeState, pod: Pod) -> None:
        """Wrong-model: a GPU pod placed on a GPU its trace rules out (a model outside its allowed
        list, or less GPU memory than it states). It can only happen when the constraint is not
        expressed (pods without node affinity); with affinity or CEL the filter prevents it."""
        if self.node_affinity or not pod.is_gpu:
            return
        if (pod.gpu_models and node.model not in pod.gpu_models) or (
                pod.gpu_memory_mib and node.gpu_mem and node.gpu_mem < pod.gpu_memory_mib):
            self.counters.wrong_model += 1

    def accounting(self) -> dict:
        """What this model measured beyond the shared counters, flat, for the run's ``counters``:
        placed GPU pods per isolation class (:mod:`simulator.placement.isolation`) as
        ``isolation_guaranteed``, ``isolation_shared_mps``, ``isolation_shared_unlimited``."""
        out = {"isolation_" + k.replace("-", "_"): v for k, v in self.isolation.summary().items()}
        out["mig_partition_pods"] = len(self.isolation.mig)  # of the guaranteed: on a MIG partition
        if self.fleet is not None and self.fleet.has_nics:  # pods given an RDMA NIC share
            out.update({f"rdma_{k}": v for k, v in self.rdma.items()})
        return out

    def demand(self, pod: Pod) -> Demand | None:  # pragma: no cover - interface
        raise NotImplementedError

    def check_rdma(self, pod: Pod) -> None:
        """Refuse (``dra.errors.UserError``) a pod whose RDMA NIC share this model cannot
        express; a device plugin counts NIC units on every version, so this one never does."""

    def node_key(self, node: NodeState) -> tuple:
        """Everything a filter or a score may read; nodes with equal keys are interchangeable:
        (free CPU, free memory, :meth:`gpu_key`)."""
        return (node.cpu_free, node.mem_free, self.gpu_key(node))

    def gpu_key(self, node: NodeState) -> tuple:
        """The node's state as this model's GPU side reads it (:meth:`fits`, :meth:`eligible`,
        :meth:`claim_score`): model, capacities, the multiset of free milli per GPU and whatever
        the model keeps beside it -- not the free CPU or memory. Nodes with equal GPU keys pass
        or fail every GPU shape alike, so the scheduler shares the GPU filter's answers between
        node groups that differ only in free CPU or memory (tests/test_sim_dra_keys.py)."""
        key = (node.model, node.cpu_cap, node.mem_cap, tuple(sorted(node.gpu_free)))
        if self.nic_counts is not None:
            key += (self.nic_counts.total_free(node.idx),)
        return key

    def eligible(self, node: NodeState, d: Demand) -> list[int]:  # pragma: no cover - interface
        raise NotImplementedError

    def claim_score(self, node: NodeState, d: Demand) -> int:
        """What kube-scheduler's DynamicResources Score plugin adds for ``d`` on ``node``, already
        normalised and weighted; 0 where the model has no claims (device plugins)."""
        return 0

    def fits(self, node: NodeState, d: Demand) -> bool:
        if d.rdma_milli and self.nic_counts is not None and not self.nic_counts.fits(node.idx, d.rdma_milli):
            return False
        return d.count == 0 or len(self.eligible(node, d)) >= d.count

    def take_nic(self, node: NodeState, pod: Pod, d: Demand, gpus: tuple[int, ...]) -> None:
        """The device plugin's NIC share: units off the node's count; a GPU pod's counted as
        aligned with its first GPU's PCIe root or not, a CPU-only pod's as such."""
        if d.rdma_milli and self.nic_counts is not None:
            taken, aligned = self.nic_counts.take(node.idx, d.rdma_milli, gpus)
            self._nic_taken[pod.name] = (node.idx, taken)
            self.rdma[("aligned" if aligned else "unaligned") if gpus else "cpu_only"] += 1

    def give_nic(self, binding: Binding) -> None:
        found = self._nic_taken.pop(binding.pod.name, None) if self._nic_taken else None
        if found is not None:
            self.nic_counts.give(*found)  # type: ignore[union-attr]

    def bind(self, node: NodeState, pod: Pod, d: Demand, gpus: tuple[int, ...], now: float) -> Binding | None:
        for i in gpus:
            node.gpu_free[i] -= d.milli
        if gpus:
            self.isolation.bind(node.idx, gpus, pod.name, EXCLUSIVE)
            self.count_wrong_model(node, pod)
        self.take_nic(node, pod, d, gpus)
        return Binding(pod, node.idx, gpus, d.milli, now)

    def release(self, node: NodeState, binding: Binding) -> None:
        for i in binding.gpus:
            node.gpu_free[i] += binding.milli
        self.give_nic(binding)


def count_nics(nodes: list[NodeState]) -> NicCounts:
    """The device plugin's NIC units on ``nodes`` (those with RDMA NICs)."""
    counts = NicCounts()
    for node in nodes:
        if node.spec.rdma_nics:
            roots = gpu_pcie_roots(node.spec)
            counts.add_node(node.idx, nic_roots(roots, node.spec.rdma_nics), roots)
    return counts


def whole_gpus_needed(pod: Pod) -> int:
    return pod.num_gpu if pod.gpu_milli > 0 or pod.mig_profile else 0
