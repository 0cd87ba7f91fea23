"""Gangs: the pods of one job placed all or none, optionally on one multi-node NVLink clique.

Kubernetes 1.37's gang scheduling (a ``Workload`` with a ``PodGroup`` of ``minCount`` = all its
pods) holds a group until every member exists, then binds it only if every member fits;
otherwise nothing of it is bound and it waits. That is :meth:`Gangs.place`: members are
scheduled one by one through the ordinary cycle (filter, score, pick, bind -- the placement
model's own ``bind``, so under DRA every member's claim is placed by the allocator), and if one
does not fit, the ones already bound are released (rollback) and the gang stays pending.

Clique: a gang with ``clique`` must sit in one NVLink clique -- the trays of one GB200 NVL72
rack (``NodeSpec.nvlink_domain``), a node outside a rack being a clique of its own. Under DRA
that is what NVIDIA's ComputeDomains schedule (every pod's claim matching one clique): the
gang is tried on one clique at a time, fullest clique that could hold it first (best fit keeps
whole racks free for big jobs), and for a rack every member's claim names that clique -- a
CEL selector on the ``cliqueId`` attribute the driver publishes on fabric GPUs
(``<clusterUUID>.<cliqueId>``, :mod:`dra.slices.attributes`) and ``matchAttribute:
gpu.nvidia.com/cliqueId`` over the claim's GPUs -- so the allocator itself refuses a member
anywhere else (:meth:`Gangs.clique_demand`); restricting the scan to the rack's nodes only
saves the scheduler filtering nodes the allocator would refuse. A device plugin has no clique in
its resource model: a pod can only carry node labels fixed in advance, so the same jobs are
placed all-or-nothing on any nodes, and a gang that lands on several cliques is counted
(``split_across_cliques``): its pods cannot talk over NVLink.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from simulator.scheduler import Cluster
from simulator.state import Binding, Demand
from simulator.trace.model import Pod, Trace

Member = tuple[Pod, Demand]


@dataclass
class GangStats:
    jobs: int = 0
    placed: int = 0
    attempts: int = 0
    rollbacks: int = 0
    split_across_cliques: int = 0
    waits: list[float] = field(default_factory=list)

    def to_dict(self, pending: int) -> dict:
        waits = sorted(self.waits)
        return {
            "jobs": self.jobs, "placed": self.placed, "pending": pending, "attempts": self.attempts,
            "rollbacks": self.rollbacks, "split_across_cliques": self.split_across_cliques,
            "wait_p50_s": waits[len(waits) // 2] if waits else None,
            "wait_max_s": waits[-1] if waits else None,
        }


class Gangs:
    """Gang bookkeeping for one replay: who belongs to which gang, cliques, placement."""

    def __init__(self, cluster: Cluster, trace: Trace, honor_clique: bool) -> None:
        self.cluster = cluster
        self.sizes = {g: n for g, n in trace.gang_sizes().items() if n > 1}
        self.honor_clique = honor_clique
        self.arrived: dict[str, list[Member]] = {}
        self.domain_of = [n.spec.nvlink_domain or f"node/{n.name}" for n in cluster.nodes]
        self.domains: dict[str, list[int]] = {}
        for node in cluster.nodes:
            if node.gpu_count:
                self.domains.setdefault(self.domain_of[node.idx], []).append(node.idx)
        self.stats = GangStats(jobs=len(self.sizes))

    def is_member(self, pod: Pod) -> bool:
        return bool(pod.gang) and pod.gang in self.sizes

    def arrive(self, pod: Pod, d: Demand) -> list[Member] | None:
        """Record a member; the whole gang once its last member has arrived."""
        members = self.arrived.setdefault(pod.gang, [])
        members.append((pod, d))
        if len(members) < self.sizes[pod.gang]:
            return None
        return self.arrived.pop(pod.gang)

    @staticmethod
    def clique_value(domain: str) -> str:
        """The ``cliqueId`` attribute the driver publishes on the GPUs of rack ``domain``: the
        simulator's DRA placement builds fabric nodes with ``nvl72_fabric(rack)``."""
        from dra.gpu.builtin import nvl72_fabric

        fabric = nvl72_fabric(domain)
        return f"{fabric.cluster_uuid}.{fabric.clique_id}"

    @staticmethod
    def clique_demand(d: Demand, clique: str) -> Demand:
        """A member's demand with its gang's clique (its claim then matches that clique)."""
        return replace(d, clique=clique) if d.count else d

    def _free_whole(self, nodes: list[int]) -> int:
        all_nodes = self.cluster.nodes
        return sum(1 for i in nodes for g in all_nodes[i].gpu_free if g == 1000)

    def place(self, members: list[Member], now: float) -> list[Binding] | None:
        """Bind every member or none (rollback); None when the gang does not fit now."""
        self.stats.attempts += 1
        clique = any(p.clique for p, _ in members)
        if clique and self.honor_clique:
            whole = all(d.milli >= 1000 or d.count == 0 for _, d in members)
            need = sum(d.count for _, d in members)
            candidates = []
            for name, nodes in self.domains.items():
                free = self._free_whole(nodes) if whole else need
                if free >= need:
                    candidates.append((free, name))
            for _, name in sorted(candidates):
                on_rack = members
                if not name.startswith("node/"):  # a rack: the clique goes into the claims
                    value = self.clique_value(name)
                    on_rack = [(p, self.clique_demand(d, value)) for p, d in members]
                placed = self._try(on_rack, now, set(self.domains[name]))
                if placed is not None:
                    return self._placed(placed, clique)
            return None
        placed = self._try(members, now, None)
        return None if placed is None else self._placed(placed, clique)

    def _try(self, members: list[Member], now: float, only: set[int] | None) -> list[Binding] | None:
        placed: list[Binding] = []
        for pod, d in members:
            b = self.cluster.schedule(pod, d, now, only=only)
            if b is None:
                if placed:
                    self.stats.rollbacks += 1
                for done in reversed(placed):
                    self.cluster.release(done)
                return None
            placed.append(b)
        return placed

    def _placed(self, placed: list[Binding], clique: bool) -> list[Binding]:
        self.stats.placed += 1
        if clique and len({self.domain_of[b.node] for b in placed}) > 1:
            self.stats.split_across_cliques += 1
        return placed

    def could_help(self, freed: int, members: list[Member]) -> bool:
        """Whether a departure on node ``freed`` may let this pending gang fit (cheap, conservative)."""
        return any(self.cluster.fits_node(freed, self.cluster.shape_id(d), d) for _, d in members)


def honors_clique(placement_name: str) -> bool:
    """DRA expresses the clique (claims matching one clique / a ComputeDomain); a device plugin cannot."""
    return placement_name.startswith("dra")
