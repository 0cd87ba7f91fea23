"""Fragmentation Gradient Descent (FGD), the FGD paper's policy.

Score = sigmoid((F_before - F_after) / 1000) * 100, where F is the node's fragment amount
(:mod:`simulator.frag`) before and after the pod is placed. For a fractional pod every GPU
that fits is tried and the one that adds the least fragmentation is kept -- that GPU is also
the one the pod gets. Multi-GPU and whole-GPU pods take fully free GPUs (which ones does not
change F, which depends on the multiset of free milli).
"""

from __future__ import annotations

import math

from simulator.frag import pod_cpu
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

    def __init__(self) -> None:
        self._memo_of: object = None  # the FragModel the share memo was filled with
        self._memo: dict[tuple, tuple[int, frozenset[int]]] = {}

    def _best_share(self, node: NodeState, d: Demand, ctx: ScoringContext) -> tuple[int, int]:
        """(score, GPU) of a fractional pod: the eligible GPU whose free milli, less the pod's,
        adds the least fragmentation (the first eligible GPU among equals)."""
        free = node.gpu_free
        eligible = ctx.eligible(node, d)
        if not eligible:
            return -1, -1
        best_score, best_values = self._share_scores(node, d, ctx, eligible)
        for i in eligible:
            if free[i] in best_values:
                return best_score, i
        raise AssertionError("unreachable")  # pragma: no cover

    def _share_scores(self, node: NodeState, d: Demand, ctx: ScoringContext,
                      eligible: list[int]) -> tuple[int, frozenset[int]]:
        """The best score over the eligible GPUs and the free-milli values that reach it.

        Memoised: F reads the node through its model, the class of its free CPU
        (:meth:`FragModel.cpu_class`) and the multiset of free milli, so these with the pod's
        milli, its CPU class after placement and the eligible GPUs' distinct free values decide
        the answer; fractional nodes revisit the same states often (about half the calls on
        openb under DRA)."""
        frag = ctx.frag
        if self._memo_of is not frag:
            self._memo_of, self._memo = frag, {}
        free = node.gpu_free
        cpu_after = node.cpu_free - pod_cpu(d)
        values = tuple(sorted({free[i] for i in eligible}))  # the best is the same in any order
        key = (node.model, frag.cpu_class(node.cpu_free), frag.cpu_class(cpu_after), tuple(sorted(free)),
               values, d.milli)
        found = self._memo.get(key)
        if found is not None:
            return found
        before = frag.frag_of(node)
        scores = {}
        for value in values:
            after_gpus = list(free)
            after_gpus[free.index(value)] = value - d.milli
            after = frag.node_frag(node.model, cpu_after, after_gpus)
            scores[value] = int(_sigmoid((before - after) / 1000) * MAX_NODE_SCORE)
        best = max(scores.values())
        found = (best, frozenset(v for v, sc in scores.items() if sc == best))
        if len(self._memo) > 1_000_000:
            self._memo.clear()
        self._memo[key] = found
        return found

    def score_key(self, node: NodeState, d: Demand, ctx: ScoringContext) -> tuple[int, int]:  # type: ignore[override]
        """Besides the GPU state and the demand's GPU shape, F reads the free CPU before and
        after placing ``d`` only through which typical pods' CPU requests it covers."""
        cpu_class = ctx.frag.cpu_class
        return cpu_class(node.cpu_free), cpu_class(node.cpu_free - pod_cpu(d))

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
        after = ctx.frag.node_frag(node.model, node.cpu_free - pod_cpu(d), after_gpus)
        return int(_sigmoid((before - after) / 1000) * MAX_NODE_SCORE)

    def pick_gpus(self, node: NodeState, d: Demand, ctx: ScoringContext) -> tuple[int, ...]:
        if d.is_share:
            gpu = self._best_share(node, d, ctx)[1]
            return (gpu,) if gpu >= 0 else ()
        return super().pick_gpus(node, d, ctx)
