"""Why pods fail: per-pod failure reasons and pod classes that fit no node of the fleet.

kube-scheduler answers a failed pod with "0/N nodes are available: 3 Insufficient cpu, ...".
The simulator does the same against each node's *capacity* (what the node could offer
empty), which is cheap -- one check per distinct node shape and demand shape, cached -- and
separates the two failures a planner must tell apart:

- the pod's class fits **no node of the fleet even when empty** (a wrong fleet for this
  trace: no such model, too few GPUs per node, too little GPU memory, no NVLink domain big
  enough): the reason lists, per cause, how many nodes it ruled out, and
  :meth:`FailureLog.warnings` reports such classes once, before any result is read (and CPU-only
  pods asking for a NIC share on a fleet whose CPU nodes have no NICs);
- the class fits some empty node but **no node had room** when the pod came (the fleet was
  full or fragmented): the reason says on how many nodes it could have run.

The engine records each failed attempt (:meth:`FailureLog.record`) and puts
:meth:`FailureLog.to_dict` into the run's JSON.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from simulator.state import Demand, NodeState
from simulator.trace.model import Pod

NO_ROOM = "no room"


def _nvlink_group(node: NodeState) -> int:
    """GPUs of the node that can share one NVLink domain (the board topology of its model)."""
    from simulator.fleet.catalog import model as catalog_model

    spec = catalog_model(node.model) if node.model else None
    kind = spec.nvlink if spec else "none"
    if kind in ("switch", "mesh", "fabric"):
        return node.gpu_count
    if kind == "pairs":
        return min(2, node.gpu_count)
    return 1


def _device_plugin_node(node: NodeState) -> bool:
    """A node the ``dra-extended:F`` migration left on the device plugin."""
    return type(node.extra).__name__ == "DevicePluginNode"


def _keeps_extended_resource(d: Demand) -> bool:
    from simulator.placement.migration import is_extended

    return is_extended(d)


def static_reason(node: NodeState, d: Demand, nic_fleet: bool = False) -> str | None:
    """Why ``d`` could not run on ``node`` even if the node were empty (None: it could).
    ``nic_fleet``: the fleet has RDMA NICs, so a pod's NIC share must be placed on one."""
    if node.cpu_cap < d.cpu:
        return "Insufficient cpu"
    if node.mem_cap < d.mem:
        return "Insufficient memory"
    if not d.count:
        return _nic_reason(node, d, nic_fleet)
    if node.gpu_count == 0:
        return "no GPUs"
    if _device_plugin_node(node) and not _keeps_extended_resource(d):
        return "no DRA driver (device-plugin node)"
    if d.models and node.model not in d.models:
        return "GPU model not allowed"
    if d.gpu_mem and node.gpu_mem and node.gpu_mem < d.gpu_mem:
        return "GPU memory below the pod's floor"
    if node.gpu_count < d.count:
        return "too few GPUs"
    if d.nvlink and d.count > 1 and _nvlink_group(node) < d.count:
        return "no NVLink domain with enough GPUs"
    return _nic_reason(node, d, nic_fleet)


def _nic_reason(node: NodeState, d: Demand, nic_fleet: bool) -> str | None:
    if d.rdma_milli and nic_fleet and not node.spec.rdma_nics:
        return "no RDMA NIC"
    return None


def describe(d: Demand, pod: Pod | None = None) -> str:
    """A pod class in words: ``4 GPUs x 1000 milli (H100-SXM5-80GB), >= 81920 MiB, NVLink``."""
    if not d.count:
        return f"CPU-only {d.cpu}m" + (f", RDMA {d.rdma_milli} milli-NIC" if d.rdma_milli else "")
    parts = [f"{d.count} GPU{'s' if d.count > 1 else ''} x {d.milli} milli"]
    if d.models:
        parts.append("(" + "|".join(d.models) + ")")
    if d.gpu_mem:
        parts.append(f">= {d.gpu_mem} MiB")
    if d.mig:
        parts.append(f"MIG {d.mig}")
    if d.nvlink:
        parts.append("NVLink")
    parts.append(f"{d.cpu}m CPU")
    if d.rdma_milli:
        parts.append(f"RDMA {d.rdma_milli} milli-NIC")
    return ", ".join(parts)


class FailureLog:
    """Failure reasons of one run, cached per demand shape."""

    def __init__(self, nodes: list[NodeState]) -> None:
        self.nodes = nodes
        shapes: Counter[tuple] = Counter()
        self._rep: dict[tuple, NodeState] = {}
        self.nic_fleet = any(n.spec.rdma_nics for n in nodes)
        for n in nodes:
            key = (n.model, n.cpu_cap, n.mem_cap, n.gpu_count, n.gpu_mem, _device_plugin_node(n), bool(n.spec.rdma_nics))
            shapes[key] += 1
            self._rep.setdefault(key, n)
        self._shapes = shapes
        self._why: dict[tuple, tuple[str, bool]] = {}
        self.pods: dict[str, str] = {}
        self.by_reason: Counter[str] = Counter()
        self.unplaceable: dict[tuple, list[Any]] = {}  # shape -> [description, pods, reason]

    def explain(self, d: Demand) -> tuple[str, bool]:
        """(reason, fits some empty node)."""
        found = self._why.get(d.shape)
        if found is None:
            causes: Counter[str] = Counter()
            fits = 0
            for key, count in self._shapes.items():
                why = static_reason(self._rep[key], d, self.nic_fleet)
                if why is None:
                    fits += count
                else:
                    causes[why] += count
            total = len(self.nodes)
            if fits:
                found = (f"{NO_ROOM}: 0/{total} nodes had room; {fits} could run it when empty", True)
            else:
                listed = ", ".join(f"{n} {why}" for why, n in sorted(causes.items(), key=lambda kv: (-kv[1], kv[0])))
                found = (f"0/{total} nodes fit even when empty: {listed}", False)
            self._why[d.shape] = found
        return found

    def record(self, pod: Pod, d: Demand | None) -> str:
        if d is None:
            reason = "the placement model cannot express this pod"
            fits = False
        else:
            reason, fits = self.explain(d)
        self.pods[pod.name] = reason
        self.by_reason[reason] += 1
        if not fits and d is not None:
            entry = self.unplaceable.setdefault(d.shape, [describe(d, pod), 0, reason])
            entry[1] += 1
        return reason

    def classes_fitting_nowhere(self, demands: list[Demand | None]) -> list[str]:
        """One warning line per pod class of the trace that no node of the fleet can run."""
        seen: Counter[tuple] = Counter()
        first: dict[tuple, Demand] = {}
        for d in demands:
            if d is None:
                continue
            seen[d.shape] += 1
            first.setdefault(d.shape, d)
        lines = []
        for shape, n in seen.items():
            reason, fits = self.explain(first[shape])
            if not fits:
                lines.append(f"warning: {n} pod(s) of class [{describe(first[shape])}] fit no node of the fleet "
                             f"({reason})")
        return sorted(lines)

    def cpu_nodes_without_nics(self, demands: list[Demand | None]) -> list[str]:
        """A warning when CPU-only pods ask for an RDMA NIC share on a fleet with NICs, yet some
        CPU nodes have none: those pods then run only on nodes with NICs -- often the GPU nodes,
        whose NICs the GPU pods need under their PCIe roots. A fleet file that leaves out
        ``rdma_nics`` on its CPU nodes says so without meaning it (the DLRM trace's CPU-only
        instances all ask for a NIC share)."""
        if not self.nic_fleet:
            return []
        pods = sum(1 for d in demands if d is not None and not d.count and d.rdma_milli)
        bare = sum(1 for n in self.nodes if n.gpu_count == 0 and not n.spec.rdma_nics)
        if not pods or not bare:
            return []
        with_nics = sum(1 for n in self.nodes if n.spec.rdma_nics)
        return [f"warning: {pods} CPU-only pod(s) ask for an RDMA NIC share, but {bare} CPU node(s) of the fleet "
                f"have no NICs (rdma_nics: 0): those pods can run only on the {with_nics} node(s) with NICs"]

    def warnings(self, demands: list[Demand | None]) -> list[str]:
        """Every fleet/trace mismatch worth a line before any result is read."""
        return self.classes_fitting_nowhere(demands) + self.cpu_nodes_without_nics(demands)

    def to_dict(self) -> dict:
        return {
            "by_reason": dict(self.by_reason.most_common()),
            "fit_no_node": [{"class": c, "pods": n, "reason": r} for c, n, r in self.unplaceable.values()],
            "pods": self.pods,
        }
