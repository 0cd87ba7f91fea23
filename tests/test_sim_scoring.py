"""Fragmentation measure and node-scoring policies, checked against hand-computed values."""

from __future__ import annotations

import random

import pytest

from dra.errors import UserError
from simulator.fleet.model import NodeSpec
from simulator.frag import FragModel, TypicalPod, typical_pods
from simulator.scoring import POLICIES, get_policy
from simulator.scoring.base import ScoringContext
from simulator.state import Demand, NodeState


def node(gpu_free: list[int], cpu_free: int = 96000, model: str = "G2", cpu_cap: int = 96000) -> NodeState:
    n = NodeState(0, NodeSpec("n", cpu_cap, 393216, len(gpu_free), model))
    n.gpu_free = list(gpu_free)
    n.cpu_free = cpu_free
    return n


def ctx(frag: FragModel | None = None) -> ScoringContext:
    return ScoringContext(
        rng=random.Random(1), frag=frag or FragModel([]),
        eligible=lambda n, d: [i for i, g in enumerate(n.gpu_free) if g >= d.milli],
    )


def share(milli: int, cpu: int = 4000) -> Demand:
    return Demand(cpu=cpu, mem=0, count=1, milli=milli)


def test_typical_pods_cover_95_percent_and_renormalise() -> None:
    demands = [share(500)] * 90 + [share(250)] * 6 + [Demand(1000, 0, 0, 0)] * 3 + [share(100)]
    tp = typical_pods(demands)
    assert [(t.milli, t.count) for t in tp] == [(500, 1), (250, 1)]  # 96% >= 95%: stop
    assert sum(t.freq for t in tp) == pytest.approx(1.0)
    assert tp[0].freq == pytest.approx(90 / 96)


def test_node_fragment_amount() -> None:
    # Typical pods: half want 600 milli, half are CPU-only.
    fm = FragModel([TypicalPod(1000, 600, 1, (), 0.5), TypicalPod(1000, 0, 0, (), 0.5)])
    # GPUs free [1000, 400]: the 600-pod fits on GPU 0, so only GPU 1's 400 is its fragment;
    # the CPU-only pod sees all 1400 idle milli as fragment.
    assert fm.node_frag("G2", 96000, [1000, 400]) == pytest.approx(0.5 * 400 + 0.5 * 1400)
    # Not enough CPU for the 600-pod: all idle milli counts for it too.
    assert fm.node_frag("G2", 500, [1000, 400]) == pytest.approx(1400)
    # A model the pod does not accept: no access, all idle counts.
    fm2 = FragModel([TypicalPod(1000, 600, 1, ("T4",), 1.0)])
    assert fm2.node_frag("G2", 96000, [1000]) == pytest.approx(1000)
    assert fm2.node_frag("T4", 96000, [1000]) == 0


def test_fgd_prefers_the_gpu_that_adds_least_fragment() -> None:
    fm = FragModel([TypicalPod(1000, 500, 1, (), 1.0)])
    fgd = get_policy("fgd")
    n = node([1000, 700])
    # 300 on GPU 1 leaves [1000, 400]: frag 400; on GPU 0 leaves [700, 700]: frag 0 -> GPU 0.
    assert fgd.pick_gpus(n, share(300), ctx(fm)) == (0,)
    # score = int(sigmoid((before - after) / 1000) * 100); before 200? no: [1000, 700] -> 0
    assert fgd.score(n, share(300), ctx(fm)) == 50


def test_bestfit_dotprod_packing_clustering_values() -> None:
    n = node([1000, 1000, 500, 0], cpu_free=64000)
    d = share(300, cpu=32000)
    # BestFit: 1 - (0.5*(64000-32000)/128000 + 0.5*(2500-300)/8000) = 0.7375 -> 73
    assert get_policy("bestfit").score(n, d, ctx()) == 73
    # DotProd: 1 - (64000/128k*32000/128k + 2500/8000*300/8000)/2 -> 93
    assert get_policy("dotprod").score(n, d, ctx()) == 93
    # Packing: a shared GPU (500 free) can host it: 100 - (50)/10 = 95
    assert get_policy("gpu-packing").score(n, d, ctx()) == 95
    assert get_policy("gpu-packing").score(node([1000] * 4), d, ctx()) == 29  # empty node: 33 - 4
    clustering = get_policy("gpu-clustering")
    n.tags = {"share-gpu": 2}
    assert clustering.score(n, d, ctx()) == 25 * (8000 - 2500) // 8000 + 75
    n.tags = {"share-gpu": 1, "1-gpu": 1}
    assert clustering.score(n, d, ctx()) == 25 * (8000 - 2500) // 8000 + 50
    # GPU choice "best": the tightest GPU that fits
    assert get_policy("bestfit").pick_gpus(n, d, ctx()) == (2,)
    assert get_policy("kube-default").pick_gpus(n, d, ctx()) == (0,)


def test_unknown_policy_lists_valid_names() -> None:
    with pytest.raises(UserError) as err:
        get_policy("fgdd")
    for name in POLICIES:
        assert name in str(err.value)


def test_bestfit_and_dotprod_score_big_nodes_within_range() -> None:
    # A DGX H100 (224 CPUs) used to score below zero with the artifact's 128-CPU normaliser,
    # i.e. "infeasible": every pod failed on dgx-h100-32.
    big = node([1000] * 8, cpu_free=224000, model="H100-SXM5-80GB", cpu_cap=224000)
    d = share(300, cpu=1000)
    for name in ("bestfit", "dotprod", "gpu-clustering"):
        assert 0 <= get_policy(name).score(big, d, ctx()) <= 100, name
    # once the engine hands the fleet over, the fleet's largest node normalises every node
    small = node([1000] * 2, cpu_free=64000, cpu_cap=64000)
    policy = get_policy("bestfit")
    policy.setup([big, small])
    assert policy.fleet_max == (224000, 8000)
    assert policy.score(small, d, ctx()) == int((1 - (0.5 * 63000 / 224000 + 0.5 * 1700 / 8000)) * 100)


def test_bestfit_places_pods_on_the_dgx_fleet() -> None:
    from simulator.engine import replay_fgd
    from simulator.placement import get_placement
    from simulator.run import load_inputs
    from simulator.trace.model import Pod, Trace

    fleet, _ = load_inputs("dgx-h100-32", "synthetic:10:42")
    pods = [Pod(f"p{i}", 8000, 1024, num_gpu=1 + i % 2, gpu_milli=1000) for i in range(40)]
    for policy in ("bestfit", "dotprod"):
        result = replay_fgd(fleet, Trace("t", pods), get_placement("device-plugin"), get_policy(policy), 42,
                            inflation=0)
        assert (result.scheduled, result.failed) == (40, 0), policy


def test_trace_typical_pods_are_the_same_for_every_placement() -> None:
    from simulator.frag import trace_typical_pods
    from simulator.placement import get_placement
    from simulator.trace.model import Pod

    pods = [Pod(f"s{i}", 4000, 100, num_gpu=1, gpu_milli=300) for i in range(3)] + [Pod("w", 8000, 100, 2, 1000)]
    typical = trace_typical_pods(pods)
    assert [(t.milli, t.count) for t in typical] == [(300, 1), (1000, 2)]
    # what each placement makes of them differs (a 0.3-GPU pod takes 1000 milli on the integer plugin)
    dp = typical_pods(get_placement("device-plugin").demand(p) for p in pods)
    assert [(t.milli, t.count) for t in dp] == [(1000, 1), (1000, 2)]


def test_fragment_amount_is_bit_identical_to_the_definition() -> None:
    import random

    from simulator.frag import TypicalPod

    rng = random.Random(7)
    for _ in range(100):
        typical = [TypicalPod(rng.choice([100, 8000, 64000]), rng.choice([0, 100, 250, 500, 1000]),
                              rng.choice([1, 2, 4, 8]), rng.choice([(), ("A",), ("B",)]), rng.random())
                   for _ in range(rng.randint(1, 25))]
        fm = FragModel(typical)
        for _ in range(10):
            model, cpu = rng.choice(["A", "B"]), rng.choice([0, 1000, 8000, 100000])
            gpus = tuple(sorted(rng.choice([0, 100, 300, 500, 750, 1000]) for _ in range(rng.choice([1, 2, 8]))))
            idle, ref = sum(gpus), 0.0
            if idle:
                for t in typical:  # the definition, term by term in the same order
                    if t.milli == 0 or (t.models and model not in t.models) or cpu < t.cpu:
                        ref += t.freq * idle
                        continue
                    fitting = sum(1 for g in gpus if g >= t.milli)
                    below = sum(g for g in gpus if g < t.milli)
                    ref += t.freq * (below if fitting >= t.count else idle)
            assert fm.node_frag(model, cpu, gpus) == ref
