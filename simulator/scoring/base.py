"""The scoring-policy interface.

A policy scores one node for one demand (higher is better; an ``int`` like a kube-scheduler
Score plugin, so equal scores tie and the engine breaks ties uniformly at random, as
kube-scheduler's selectHost does) and picks which GPUs of the chosen node the pod gets.

Scores may depend only on the node's group key (model, capacities, free CPU/memory, the
multiset of free milli per GPU, and -- for policies with ``uses_tags`` -- the set of
GPU-affinity tags on the node), because the engine evaluates one node per group of
identical nodes and caches the result per (group, demand shape).

GPU choice (``gpu_select``):
- ``first``: the first eligible GPUs by index -- what kubelet's device manager and the DRA
  allocator do (no device scoring exists in kube-scheduler).
- ``random``: a fractional pod takes a uniformly random eligible GPU (the artifact's
  ``gpusel=random``, used with its Random policy).
- ``best``: a fractional pod takes the eligible GPU with the least free milli; a multi-GPU
  pod the first eligible ones (the FGD artifact's ``gpusel=best``).
- a policy may override :meth:`pick_gpus` (FGD picks the GPU that adds least fragmentation).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, ClassVar, Hashable

from simulator.frag import FragModel
from simulator.state import Demand, NodeState

MAX_NODE_SCORE = 100


@dataclass(slots=True)
class ScoringContext:
    rng: random.Random
    frag: FragModel
    eligible: Callable[[NodeState, Demand], list[int]]  # GPU indices able to take d's per-GPU part
    # kube-scheduler's DynamicResources score for (node, demand), normalised and weighted:
    # the placement's Placement.claim_score (0 without claims)
    claim_score: Callable[[NodeState, Demand], int] = lambda node, d: 0


class Policy:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    uses_tags: ClassVar[bool] = False
    uniform_ties: ClassVar[bool] = False  # draw among equal scores uniformly whatever the tie-break
    gpu_select: ClassVar[str] = "best"
    fleet_max: tuple[int, int] = (0, 0)  # (CPU milli, GPU milli) of the largest node, set by setup()
    # A policy whose score reads, besides the node's GPU key (Placement.gpu_key) and the
    # demand's GPU shape, only a little of the free CPU and memory and of the demand's CPU
    # and memory says which little: score_key(node, d, ctx) returns it (hashable), and the
    # scheduler then reuses a score across node groups equal in all three. None: the score
    # may read anything in the node's group key, and every group is scored on its own.
    score_key: ClassVar[Callable[..., Hashable] | None] = None

    def setup(self, nodes: list[NodeState]) -> None:
        """Called once with the fleet's nodes before the first score (policies that normalise
        by the largest node read it here). The engine calls it when it knows the hook; until
        then :func:`simulator.scoring.paper.normaliser` falls back to the node's own capacity."""
        self.fleet_max = (max((n.cpu_cap for n in nodes), default=0),
                          max((1000 * n.gpu_count for n in nodes), default=0))

    def score(self, node: NodeState, d: Demand, ctx: ScoringContext) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def pick_gpus(self, node: NodeState, d: Demand, ctx: ScoringContext) -> tuple[int, ...]:
        if d.count == 0:
            return ()
        eligible = ctx.eligible(node, d)
        if len(eligible) < d.count:
            return ()
        if self.gpu_select == "random" and d.count == 1 and d.milli < 1000:
            return (eligible[ctx.rng.randrange(len(eligible))],)
        if self.gpu_select == "best" and d.count == 1 and d.milli < 1000:
            best = eligible[0]
            for i in eligible:
                if node.gpu_free[i] < node.gpu_free[best]:
                    best = i
            return (best,)
        return tuple(eligible[: d.count])
