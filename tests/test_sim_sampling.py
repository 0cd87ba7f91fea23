"""kube-scheduler's node sampling (``--percentage-of-nodes-to-score``, simulator.sampling).

The count of feasible nodes a cycle looks for is upstream's ``numFeasibleNodesToFind`` (its own
unit-test table, plus the two fleets the README uses); the walk is checked against a plain
reference that filters and scores node by node with no cache, on fleets large enough to be
sampled, through binds and departures; and the start of the walk moves as upstream's
``TestFairEvaluationForNodes`` requires. tests/real/test_real_sampling.py asks the real
kube-scheduler the same question.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.engine import build_cluster, demand_for, replay_fgd
from simulator.fleet.model import Fleet, NodeSpec
from simulator.placement import get_placement
from simulator.sampling import num_feasible_nodes_to_find
from simulator.scheduler import Cluster
from simulator.scoring import get_policy
from simulator.trace.model import Pod, Trace


@pytest.mark.parametrize(("percentage", "nodes", "want"), [
    # upstream TestNumFeasibleNodesToFind (pkg/scheduler/schedule_one_test.go, 1.37)
    (0, 10, 10), (40, 10, 10), (0, 1000, 420), (40, 1000, 400), (0, 6000, 300), (40, 6000, 2400),
    # the edges: under 100 nodes every node; at least 100; the 5% floor; every node at 100%
    (0, 99, 99), (0, 100, 100), (10, 500, 100), (0, 20000, 1000), (100, 1213, 1213),
    # openb's fleet (1,213 nodes: 41%) and the spot-GPU-2026 fleet (4,278 nodes: 16%)
    (0, 1213, 497), (0, 4278, 684),
])
def test_feasible_nodes_to_find_is_upstreams(percentage: int, nodes: int, want: int) -> None:
    assert num_feasible_nodes_to_find(percentage, nodes) == want


def reference_select(cluster: Cluster, d, rng: random.Random) -> tuple[int | None, int]:  # noqa: ANN001
    """The sampled cycle as upstream runs it with parallelism 1, node by node, every filter and
    score asked afresh: (chosen node or None, the next cycle's start)."""
    n = len(cluster.nodes)
    start, want = cluster.next_start, cluster.nodes_to_find
    kept: list[tuple[int, int]] = []
    processed = n
    for offset in range(n):
        node = cluster.nodes[cluster.node_list[(start + offset) % n]]
        if not cluster.feasible(node, d):
            continue
        if len(kept) == want:
            processed = offset
            break
        kept.append((node.idx, cluster.policy.score(node, d, cluster.ctx)))
    next_start = (start + processed) % n
    if not kept:
        return None, next_start
    best = max(score for _, score in kept)
    ties = [idx for idx, score in kept if score == best]
    if cluster.tie_break == "order" and not cluster.policy.uniform_ties:
        return min(ties, key=cluster.rank.__getitem__), next_start
    return (ties[rng.randrange(len(ties))] if len(ties) > 1 else ties[0]), next_start


@settings(max_examples=12, deadline=None)
@given(
    placement=st.sampled_from(["device-plugin", "dra", "time-slicing"]),
    policy=st.sampled_from(["fgd", "kube-default", "bestfit", "random"]),
    tie_break=st.sampled_from(["order", "random"]),
    percentage=st.sampled_from([0, 10, 60]),
    seed=st.integers(0, 1000),
)
def test_sampled_cycle_equals_the_node_by_node_reference(placement: str, policy: str, tie_break: str,
                                                         percentage: int, seed: int) -> None:
    rng = random.Random(seed)
    models = ["T4", "A100-SXM4-80GB", "H100-PCIE-80GB"]
    fleet = Fleet("f", [NodeSpec(f"n{i:03d}", rng.choice([8000, 16000]), 64 * 1024, rng.choice([1, 2, 4, 8]),
                                 models[i % 3]) for i in range(rng.choice([120, 180, 260]))])
    pods = []
    for i in range(400):
        k = rng.choice([0, 1, 1, 1, 2, 4])
        pods.append(Pod(f"p{i}", rng.choice([500, 2000, 6000]), rng.choice([1024, 8192]), num_gpu=k,
                        gpu_milli=rng.choice([200, 500, 1000]) if k == 1 else (1000 if k else 0),
                        gpu_models=tuple(rng.sample(models, 1)) if rng.random() < 0.2 else ()))
    place = get_placement(placement)
    cluster, _ = build_cluster(fleet, Trace("t", pods), place, get_policy(policy), seed, tie_break, percentage)
    assert cluster.nodes_to_find < len(cluster.nodes)
    live, cut_short, placed = [], 0, 0
    for pod in pods:
        d = demand_for(place, pod)
        if d is None:
            continue
        twin = random.Random()
        twin.setstate(cluster.rng.getstate())
        want_node, want_start = reference_select(cluster, d, twin)
        start = cluster.next_start
        b = cluster.schedule(pod, d, 0.0)
        assert (b.node if b is not None else None) == want_node, (pod, start)
        assert cluster.next_start == want_start
        cut_short += want_start != start
        placed += b is not None
        if b is not None:
            live.append(b)
        if live and rng.random() < 0.4:
            cluster.release(live.pop(rng.randrange(len(live))))
    assert placed and cut_short  # the walk was cut short (sampling happened), and pods were placed


def test_start_moves_by_the_nodes_kept_when_every_node_fits() -> None:
    """Upstream TestFairEvaluationForNodes: 500 nodes, 30% -> 150 nodes a cycle; every node
    feasible, so each cycle starts 150 nodes further on, wrapping round."""
    fleet = Fleet("f", [NodeSpec(f"n{i}", 1_000_000, 1 << 30, 0, "") for i in range(500)])
    pods = [Pod(f"p{i}", 1, 1) for i in range(12)]
    place = get_placement("device-plugin")
    cluster, _ = build_cluster(fleet, Trace("t", pods), place, get_policy("kube-default"), 1, "random", 30)
    assert cluster.nodes_to_find == 150
    for i, pod in enumerate(pods):
        window = {cluster.node_list[(cluster.next_start + k) % 500] for k in range(150)}
        b = cluster.schedule(pod, demand_for(place, pod), 0.0)
        assert b is not None and b.node in window
        assert cluster.next_start == (i + 1) * 150 % 500


def test_a_node_past_the_window_is_not_seen_until_the_window_reaches_it() -> None:
    """150 CPU-only nodes, the last in the scheduler's node list much larger (LeastAllocated
    prefers it). With every node scored the first pod goes there; with sampling (100 nodes a
    cycle) the first cycle does not reach it, the second does."""
    nodes = [NodeSpec(f"n{i:03d}", 8000, 32 * 1024, 0, "") for i in range(149)]
    nodes.append(NodeSpec("n149", 128000, 512 * 1024, 0, ""))
    fleet = Fleet("f", nodes)
    pods = [Pod(f"p{i}", 1000, 1024) for i in range(2)]
    for percentage, first, second in ((100, 149, None), (0, None, 149)):
        place = get_placement("device-plugin")
        cluster, _ = build_cluster(fleet, Trace("t", pods), place, get_policy("kube-default"), 1, "random",
                                   percentage, node_list=list(range(150)))
        b1 = cluster.schedule(pods[0], demand_for(place, pods[0]), 0.0)
        b2 = cluster.schedule(pods[1], demand_for(place, pods[1]), 0.0)
        if first is not None:
            assert b1.node == first
        else:
            assert b1.node < 100 and b2.node == second


def test_replay_records_the_setting_and_every_node_is_the_default() -> None:
    rng = random.Random(3)
    fleet = Fleet("f", [NodeSpec(f"n{i}", 16000, 64 * 1024, 4, "T4") for i in range(130)])
    pods = [Pod(f"p{i}", 1000, 1024, num_gpu=1, gpu_milli=rng.choice([250, 500, 1000])) for i in range(300)]
    trace = Trace("t", pods)
    default = replay_fgd(fleet, trace, get_placement("dra"), get_policy("fgd"), 5, tie_break="random")
    every = replay_fgd(fleet, trace, get_placement("dra"), get_policy("fgd"), 5, tie_break="random",
                       percentage_of_nodes_to_score=100)
    assert default.curves == every.curves  # 100 (every node) is the default


def test_cli_takes_the_setting_and_refuses_a_bad_one(tmp_path, capsys) -> None:  # noqa: ANN001
    from dra.cli import main

    out = tmp_path / "r.json"
    base = ["sim", "replay", "--nodes", "dgx-h100-32", "-f", "synthetic:300:1", "--policy", "kube-default",
            "--placement", "dra", "--no-progress"]
    assert main(base + ["--percentage-of-nodes-to-score", "0", "-o", str(out)]) == 0
    result = json.loads(out.read_text())["runs"][0]
    assert result["percentage_of_nodes_to_score"] == 0
    assert result["feasible_nodes_to_find"] == 32  # under 100 nodes: every node
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(base + ["--percentage-of-nodes-to-score", "101"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--percentage-of-nodes-to-score" in err and "0 to 100" in err


def test_node_list_is_a_seeded_permutation_drawn_only_when_sampling() -> None:
    """kube-scheduler's node list is in its informer's order, not the fleet's: a permutation
    from the run's seed (the same every run of a seed), from a stream of its own (the sampled
    run replays the same pods in the same order), and none when every node is scored."""
    fleet = Fleet("f", [NodeSpec(f"n{i}", 8000, 32 * 1024, 0, "") for i in range(200)])
    trace = Trace("t", [Pod("p", 1000, 1024)])
    place = get_placement("device-plugin")
    lists = [build_cluster(fleet, trace, place, get_policy("kube-default"), seed, "random", 0)[0].node_list
             for seed in (1, 1, 2)]
    assert lists[0] == lists[1] != lists[2]
    assert sorted(lists[0]) == list(range(200)) and lists[0] != list(range(200))
    assert build_cluster(fleet, trace, place, get_policy("kube-default"), 1, "random")[0].node_list is None
    states = [build_cluster(fleet, trace, place, get_policy("kube-default"), 1, "random", pct)[0].rng.getstate()
              for pct in (100, 0)]
    assert states[0] == states[1]  # the replay's own draws (pod order, inflation, ties) start alike
    with pytest.raises(ValueError, match="permutation"):
        build_cluster(fleet, trace, place, get_policy("kube-default"), 1, "random", 0, node_list=[0] * 200)
