"""Fragmentation Gradient Descent (FGD), the FGD paper's policy.

Score = sigmoid((F_before - F_after) / 1000) * 100, where F is the node's fragment amount
(:mod:`simulator.frag`) before and after the pod is placed. For a fractional pod every GPU
that fits is tried and the one that adds the least fragmentation is kept -- that GPU is also
the one the pod gets. Multi-GPU and whole-GPU pods take fully free GPUs (which ones does not
change F, which depends on the multiset of free milli).
"""

from __future__ import annotations

import math

from simulator.scoring.base import MAX_NODE_SCORE, Policy, ScoringContext
from simulator.state import Demand, NodeState


def _sigmoid(x: float) -> float:
    if x < -700:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))


class FGD(Policy):
    name = "fgd"
    description = "fragmentation gradient descent (FGD paper)"
    gpu_select = "fgd"

    def _best_share(self, node: NodeState, d: Demand, ctx: ScoringContext) -> tuple[int, int]:
        before = ctx.frag.frag_of(node)
        cpu_after = node.cpu_free - (d.cpu if d.cpu > 0 else 100)
        free = node.gpu_free
        best_score, best_gpu = -1, -1
        tried: dict[int, int] = {}
        for i in ctx.eligible(node, d):
            value = free[i]
            score = tried.get(value)
            if score is None:
                after_gpus = list(free)
                after_gpus[i] = value - d.milli
                after = ctx.frag.node_frag(node.model, cpu_after, after_gpus)
                score = int(_sigmoid((before - after) / 1000) * MAX_NODE_SCORE)
                tried[value] = score
            if best_gpu < 0 or score > best_score:
                best_score, best_gpu = score, i
        return best_score, best_gpu

    def score(self, node: NodeState, d: Demand, ctx: ScoringContext) -> int:
        if d.is_share:
            return self._best_share(node, d, ctx)[0]
        before = ctx.frag.frag_of(node)
        after_gpus = list(node.gpu_free)
        if d.count:
            taken = 0
            for i in sorted(range(len(after_gpus)), key=lambda k: after_gpus[k]):
                if taken == d.count:
                    break
                if after_gpus[i] >= d.milli:
                    after_gpus[i] -= d.milli
                    taken += 1
        after = ctx.frag.node_frag(node.model, node.cpu_free - (d.cpu if d.cpu > 0 else 100), after_gpus)
        return int(_sigmoid((before - after) / 1000) * MAX_NODE_SCORE)

    def pick_gpus(self, node: NodeState, d: Demand, ctx: ScoringContext) -> tuple[int, ...]:
        if d.is_share:
            gpu = self._best_share(node, d, ctx)[1]
            return (gpu,) if gpu >= 0 else ()
        return super().pick_gpus(node, d, ctx)
