"""kube-scheduler's own node scoring: NodeResourcesFit (LeastAllocated or MostAllocated) plus
NodeResourcesBalancedAllocation, with the default weights (1 and 1).

- ``kube-default``: LeastAllocated over cpu and memory (the default scoringStrategy) -- it
  spreads pods; GPUs are not scored (extended resources are not in the default strategy).
- ``most-allocated``: MostAllocated over cpu, memory and GPU (the usual bin-packing setup
  that adds ``nvidia.com/gpu`` to scoringStrategy.resources).

Per-resource scores follow upstream integer arithmetic ((cap - req) * 100 / cap); balanced
allocation is (1 - std of the requested fractions) * 100. Under DRA both add the
DynamicResources plugin's score (weight 2, 1.35+): a claim with ``firstAvailable`` alternatives
scores higher on nodes where an earlier alternative fits (a MIG-profile pod prefers a node with
a free partition of its profile to one where only its share fits); see
``DraPlacement.claim_score``. GPU choice inside the node is
``first``: kubelet's device manager and the DRA allocator take the first fitting devices.
"""

from __future__ import annotations

from simulator.scoring.base import MAX_NODE_SCORE, Policy, ScoringContext
from simulator.state import Demand, NodeState


def _fractions(node: NodeState, d: Demand) -> tuple[float, float, int, int]:
    cpu_req = node.cpu_cap - node.cpu_free + d.cpu
    mem_req = node.mem_cap - node.mem_free + d.mem
    return cpu_req, mem_req, node.cpu_cap, node.mem_cap


def _balanced(node: NodeState, d: Demand) -> int:
    cpu_req, mem_req, cpu_cap, mem_cap = _fractions(node, d)
    fc = min(1.0, cpu_req / cpu_cap) if cpu_cap else 0.0
    fm = min(1.0, mem_req / mem_cap) if mem_cap else 0.0
    std = abs(fc - fm) / 2
    return int((1 - std) * MAX_NODE_SCORE)


class KubeDefault(Policy):
    name = "kube-default"
    description = "kube-scheduler default: LeastAllocated(cpu, memory) + BalancedAllocation"
    gpu_select = "first"

    def score(self, node: NodeState, d: Demand, ctx: ScoringContext) -> int:
        cpu_req, mem_req, cpu_cap, mem_cap = _fractions(node, d)
        s_cpu = (cpu_cap - cpu_req) * MAX_NODE_SCORE // cpu_cap if cpu_cap else 0
        s_mem = (mem_cap - mem_req) * MAX_NODE_SCORE // mem_cap if mem_cap else 0
        return int((s_cpu + s_mem) // 2) + _balanced(node, d) + ctx.claim_score(node, d)


class MostAllocated(Policy):
    name = "most-allocated"
    description = "NodeResourcesFit MostAllocated(cpu, memory, gpu) + BalancedAllocation"
    gpu_select = "first"

    def score(self, node: NodeState, d: Demand, ctx: ScoringContext) -> int:
        cpu_req, mem_req, cpu_cap, mem_cap = _fractions(node, d)
        parts = []
        if cpu_cap:
            parts.append(min(cpu_req, cpu_cap) * MAX_NODE_SCORE // cpu_cap)
        if mem_cap:
            parts.append(min(mem_req, mem_cap) * MAX_NODE_SCORE // mem_cap)
        gpu_cap = 1000 * node.gpu_count
        if gpu_cap:
            used = gpu_cap - node.gpu_free_total() + d.total_milli
            parts.append(min(used, gpu_cap) * MAX_NODE_SCORE // gpu_cap)
        return int(sum(parts) // max(1, len(parts))) + _balanced(node, d) + ctx.claim_score(node, d)
