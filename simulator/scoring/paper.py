"""The five baseline policies of the FGD paper (Weng et al., ATC'23), as its artifact scores them.

All scores are integers in [0, 100] computed on (free CPU, free milli per GPU) of the node;
see sim-anchors.md 1.2 for the definitions these follow.

- ``random``: every feasible node scores the same, so the engine's uniform tie-break picks
  one feasible node at random (the artifact's PreScore draws one node and gives it 100).
- ``dotprod``: Tetris' alignment, dimensions merged (CPU, total GPU) and normalised by the
  largest node spec: 100 * (1 - <free, req> / 2).
- ``gpu-clustering``: prefers nodes whose pods all carry the same GPU-affinity tag as this
  pod (share-gpu / N-gpu): bands 75-100 same tag only, 50-75 mixed incl. same, 25-50 idle
  node, 0-25 other tags; within a band, fuller nodes score higher.
- ``gpu-packing``: prefers (1) a partly used GPU, (2) a free GPU on a used node, (3) an
  empty node.
- ``bestfit``: minimises 0.5*(free_cpu - req_cpu)/max_cpu + 0.5*(free_gpu - req_gpu)/max_gpu.

"Largest node spec" (the artifact's ``norm=max``): the artifact hard-codes the openb fleet's
largest node, 128 CPUs and 8 GPUs. A fleet with bigger nodes (a DGX H100 has 224 CPUs) then
scored below zero and, since a negative score means "filtered out", nothing was placed. The
normaliser is therefore the fleet's largest node when the engine has called
:meth:`Policy.setup`, else the larger of the artifact's spec and the node's own capacity --
both equal the artifact's constants on openb (no node there exceeds 128 CPUs or 8 GPUs), so
the FGD reproduction does not move, and scores stay within [0, 100] on any fleet.
"""

from __future__ import annotations

from simulator.frag import pod_cpu
from simulator.scoring.base import MAX_NODE_SCORE, Policy, ScoringContext
from simulator.state import Demand, NodeState, affinity_tag

MAX_SPEC_CPU = 128000
MAX_SPEC_GPU = 8000


def normaliser(policy: Policy, node: NodeState) -> tuple[int, int]:
    """(CPU milli, GPU milli) that a free amount on ``node`` is divided by (see above)."""
    cpu, gpu = policy.fleet_max
    return (max(cpu or MAX_SPEC_CPU, node.cpu_cap), max(gpu or MAX_SPEC_GPU, 1000 * node.gpu_count))


class RandomPolicy(Policy):
    name = "random"
    description = "uniform over feasible nodes (FGD paper baseline)"
    uniform_ties = True
    gpu_select = "random"

    def score(self, node: NodeState, d: Demand, ctx: ScoringContext) -> int:
        return MAX_NODE_SCORE


class DotProd(Policy):
    name = "dotprod"
    description = "Tetris dot product, dims merged, normalised by max spec (FGD paper baseline)"

    def score(self, node: NodeState, d: Demand, ctx: ScoringContext) -> int:
        cpu = pod_cpu(d)
        max_cpu, max_gpu = normaliser(self, node)
        dot = (node.cpu_free / max_cpu) * (cpu / max_cpu) + (
            node.gpu_free_total() / max_gpu
        ) * (d.total_milli / max_gpu)
        return int(MAX_NODE_SCORE * (1 - dot / 2))


class GpuClustering(Policy):
    name = "gpu-clustering"
    description = "co-locate pods with the same GPU-affinity tag (FGD paper baseline)"
    uses_tags = True

    def score(self, node: NodeState, d: Demand, ctx: ScoringContext) -> int:
        tag = affinity_tag(d)
        if tag is None:
            return 0
        max_gpu = normaliser(self, node)[1]
        fill = (MAX_NODE_SCORE // 4) * (max_gpu - node.gpu_free_total()) // max_gpu
        present = [t for t, n in node.tags.items() if n > 0]
        if node.tags.get(tag, 0) > 0:
            return fill + (MAX_NODE_SCORE * 3 // 4 if len(present) == 1 else MAX_NODE_SCORE * 2 // 4)
        if not present:
            return fill + MAX_NODE_SCORE // 4
        return fill


class GpuPacking(Policy):
    name = "gpu-packing"
    description = "shared GPU > free GPU on a used node > empty node (FGD paper baseline)"

    def score(self, node: NodeState, d: Demand, ctx: ScoringContext) -> int:
        if d.count == 0 or d.milli == 0:
            return 0
        free = node.gpu_free
        fully_free = sum(1 for g in free if g == 1000)
        if fully_free == len(free):
            return max(MAX_NODE_SCORE // 3 - fully_free, fully_free)
        order = sorted(range(len(free)), key=lambda i: free[i])  # least free first (stable)
        need = d.count
        use_free = 0
        used: list[int] = []
        for i in order:
            if need == 0:
                break
            if d.milli <= free[i]:
                need -= 1
                used.append(i)
                if free[i] == 1000:
                    use_free += 1
        if need:
            return 0
        if use_free:
            return max(MAX_NODE_SCORE // 2 - use_free, MAX_NODE_SCORE // 3)
        ratio = sum(free[i] * 100 // 1000 for i in used)
        return max(MAX_NODE_SCORE - ratio // 10, MAX_NODE_SCORE // 2)


class BestFit(Policy):
    name = "bestfit"
    description = "minimise leftover CPU and GPU, 0.5 weight each (FGD paper baseline)"

    def score(self, node: NodeState, d: Demand, ctx: ScoringContext) -> int:
        max_cpu, max_gpu = normaliser(self, node)
        left = (node.cpu_free - pod_cpu(d)) / max_cpu * 0.5 + (
            node.gpu_free_total() - d.total_milli
        ) / max_gpu * 0.5
        return int((1.0 - left) * MAX_NODE_SCORE)
