"""The scheduler's caches against fresh evaluation (issue 13, item 6: speed without changing a
placement).

A group's cached score per demand shape, the shapes it marks blocked (inherited from the state
a bind came from: filters are monotone in free resources), and its cached GPU-filter answers per
GPU shape must all equal what filter and score say on the group's node right now -- after any
mix of binds and releases, with several placement models. A cache that went stale (a wrong
inheritance, a GPU shape that misses a field the filter reads) fails here.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.engine import build_cluster, demand_for
from simulator.fleet.model import Fleet, NodeSpec
from simulator.placement import get_placement
from simulator.scheduler import INFEASIBLE, Cluster, NoMemo
from simulator.scoring import get_policy
from simulator.trace.model import Pod, Trace


def check_caches(cluster: Cluster, demands: dict[int, object]) -> int:
    """Compare every cached answer of every live group with a fresh one; returns how many."""
    checked = 0
    for group in cluster.groups.values():
        for member in group.members:  # every member: a key that misses what a filter reads fails here
            node = cluster.nodes[member]
            for sid, d in demands.items():
                fresh_ok = cluster.feasible(node, d)  # type: ignore[arg-type]
                fresh = cluster.policy.score(node, d, cluster.ctx) if fresh_ok else INFEASIBLE  # type: ignore[arg-type]
                if sid in group.cache:
                    assert group.cache[sid] == fresh, (node, d, group.cache[sid], fresh)
                    checked += 1
                if sid in group.blocked:
                    assert not fresh_ok, (node, d)
                    checked += 1
                gsid = cluster._gpu_shape_of[sid]
                gpu_fresh = d.count == 0 or (  # type: ignore[attr-defined]
                    node.gpu_count > 0 and not (d.models and node.model not in d.models)  # type: ignore[attr-defined]
                    and cluster.placement.fits(node, d))  # type: ignore[arg-type]
                if d.count and gsid in group.gpu_ok:  # type: ignore[attr-defined]
                    assert group.gpu_ok[gsid] == gpu_fresh, (node, d)
                    checked += 1
                if d.count and gsid in group.gpu_blocked:  # type: ignore[attr-defined]
                    assert not gpu_fresh, (node, d)
    return checked


def check_change_logs(cluster: Cluster) -> None:
    """The change logs the selects read hold no emptied group (``Cluster._forget`` blanks its
    entries, so readers skip it without touching it), and every position a live group recorded
    still holds it."""
    for log in (cluster._log, *cluster._class_log):
        assert all(group is None or group.alive for group in log)
    for group in cluster.groups.values():
        log = cluster._log if cluster.tie_break == "order" else cluster._class_log[group.cls]
        assert all(log[position] is group for position in group.entries)


@settings(max_examples=20, deadline=None)
@given(
    placement=st.sampled_from(["device-plugin", "dra", "dra@1.34", "time-slicing", "mig-mixed"]),
    policy=st.sampled_from(["fgd", "bestfit", "gpu-packing", "kube-default"]),
    tie_break=st.sampled_from(["order", "random"]),
    seed=st.integers(0, 1000),
)
def test_cached_filter_and_scores_equal_fresh_evaluation(placement: str, policy: str, tie_break: str,
                                                         seed: int) -> None:
    rng = random.Random(seed)
    models = ["T4", "A100-SXM4-80GB", "H100-PCIE-80GB"]  # PCIe-only, NVSwitch, NVLink pairs
    fleet = Fleet("f", [NodeSpec(f"n{i}", rng.choice([8000, 16000]), 64 * 1024, rng.choice([1, 2, 4, 8]),
                                 models[i % 3]) for i in range(6)])
    pods = []
    for i in range(60):
        n = rng.choice([0, 1, 1, 1, 2, 4])
        pods.append(Pod(f"p{i}", rng.choice([500, 2000, 6000]), rng.choice([1024, 8192]), num_gpu=n,
                        gpu_milli=rng.choice([200, 500, 1000]) if n == 1 else (1000 if n else 0),
                        gpu_memory_mib=rng.choice([0, 0, 8000]) if n else 0,
                        gpu_models=tuple(rng.sample(models, 1)) if rng.random() < 0.2 else (),
                        nvlink=n > 1 and rng.random() < 0.5))
    trace = Trace("t", pods)
    if placement == "dra@1.34":  # 1.34's slice-position re-check: which GPU holds what matters
        place = get_placement("dra", kubernetes_version="1.34", feature_gates={"DRAConsumableCapacity": True})
    else:
        place = get_placement(placement)
    cluster, _ = build_cluster(fleet, trace, place, get_policy(policy), seed, tie_break)
    demands: dict[int, object] = {}
    live = []
    checked = 0
    for pod in pods:
        d = demand_for(place, pod)
        if d is None:
            continue
        demands[cluster.shape_id(d)] = d
        b = cluster.schedule(pod, d, 0.0)
        if b is not None:
            live.append(b)
        if live and rng.random() < 0.3:
            cluster.release(live.pop(rng.randrange(len(live))))
        checked += check_caches(cluster, demands)
        check_change_logs(cluster)
    assert checked > 0


def test_dra_allocator_memo_moves_answers_between_devices_of_a_class_without_changing_a_placement() -> None:
    """The memo answers a claim naming one device from an earlier answer on another device of
    the same class (same published attributes but for the ones naming its place). The replay
    with it must equal the replay that asks the allocator every time, device by device."""
    from simulator.engine import replay_time

    rng = random.Random(7)
    fleet = Fleet("f", [NodeSpec(f"n{i}", 64000, 512 * 1024, 8, "A100-SXM4-80GB") for i in range(3)]
                  + [NodeSpec("t", 16000, 64 * 1024, 2, "T4")])
    pods = [Pod(f"p{i}", 1000, 1024, num_gpu=1, gpu_milli=rng.choice([100, 250, 500, 1000]),
                gpu_memory_mib=rng.choice([0, 10_000]), arrival=i, duration=rng.choice([5, 50, 400]))
            for i in range(200)]
    trace = Trace("t", pods)
    runs = []
    for memo in (True, False):
        place = get_placement("dra")
        if not memo:
            place._outcomes = NoMemo()  # type: ignore[attr-defined]  # every bind asks the allocator
        r = replay_time(fleet, trace, place, get_policy("fgd"), 3)
        runs.append((r.to_dict(), r.counters["allocator_calls"]))
    (with_memo, calls_memo), (without, calls_plain) = runs
    for d in (with_memo, without):
        d.pop("wall_s"), d.pop("pods_per_s"), d["counters"].pop("allocator_calls")
    assert with_memo == without
    assert calls_memo < calls_plain / 2  # one answer serves the devices of a class


def test_a_state_seen_before_reuses_its_caches_without_changing_a_placement(monkeypatch) -> None:  # noqa: ANN001
    """Nodes that return to a state key they had before (a pod leaves, an identical one comes)
    get a new group that takes the old group's filter and score caches: fewer policy calls,
    the same replay as a scheduler that starts every new group empty."""
    rng = random.Random(11)
    fleet = Fleet("f", [NodeSpec(f"n{i}", 32000, 256 * 1024, 4, "A100-SXM4-80GB") for i in range(4)])
    pods = [Pod(f"p{i}", rng.choice([1000, 4000]), 1024, num_gpu=1, gpu_milli=rng.choice([250, 500, 1000]),
                arrival=i, duration=rng.choice([3, 30, 300])) for i in range(300)]
    trace = Trace("t", pods)
    runs = []
    monkeypatch.setattr(Cluster, "share_answers", False)  # scores shared between live groups would hide reuse
    for reuse in (True, False):
        if not reuse:
            monkeypatch.setattr(Cluster, "_revive", lambda self, key, group: None)
        runs.append(_replay_counting_scores(monkeypatch, get_placement("device-plugin"), fleet, trace, 5))
    (with_reuse, calls_reuse), (without, calls_plain) = runs
    assert with_reuse == without
    assert calls_reuse < calls_plain / 2, (calls_reuse, calls_plain)


@settings(max_examples=12, deadline=None)
@given(placement=st.sampled_from(["device-plugin", "dra", "dra@1.34", "time-slicing", "mig-mixed"]),
       seed=st.integers(0, 1000))
def test_answers_shared_between_groups_change_no_placement(placement: str, seed: int) -> None:
    """Groups whose nodes differ only in free CPU or memory share the GPU filter's answers and
    FGD's scores (FGD reads free CPU only through the typical pods' CPU cuts). The replay with
    the shared answers must equal the one where every group asks for itself, and ask the
    policy less."""
    rng = random.Random(seed)
    fleet = Fleet("f", [NodeSpec(f"n{i}", rng.choice([16000, 32000]), 128 * 1024, 4,
                                 ["A100-SXM4-80GB", "H100-PCIE-80GB"][i % 2]) for i in range(6)])
    pods = []
    for i in range(250):
        n = rng.choice([0, 1, 1, 1, 2])
        pods.append(Pod(f"p{i}", rng.choice([500, 1000, 2000, 3000, 6000]), rng.choice([1024, 4096]), num_gpu=n,
                        gpu_milli=rng.choice([250, 500, 1000]) if n == 1 else (1000 if n else 0),
                        nvlink=n > 1 and rng.random() < 0.5, arrival=i, duration=rng.choice([3, 30, 300])))
    trace = Trace("t", pods)
    runs = []
    for share in (True, False):
        with pytest.MonkeyPatch.context() as monkeypatch:
            monkeypatch.setattr(Cluster, "share_answers", share)
            if placement == "dra@1.34":
                place = get_placement("dra", kubernetes_version="1.34", feature_gates={"DRAConsumableCapacity": True})
            else:
                place = get_placement(placement)
            runs.append(_replay_counting_scores(monkeypatch, place, fleet, trace, seed))
    (shared, calls_shared), (alone, calls_alone) = runs
    assert shared == alone
    assert calls_shared < calls_alone, (calls_shared, calls_alone)


def _replay_counting_scores(monkeypatch: pytest.MonkeyPatch, place: object, fleet: Fleet, trace: Trace,
                            seed: int) -> tuple[dict, int]:
    """A time-based FGD replay (without its timings) and how many times it called the policy's score."""
    from simulator.engine import replay_time

    policy = get_policy("fgd")
    calls = [0]
    score = policy.score

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls[0] += 1
        return score(*args, **kwargs)

    monkeypatch.setattr(policy, "score", counted)
    r = replay_time(fleet, trace, place, policy, seed).to_dict()  # type: ignore[arg-type]
    r.pop("wall_s"), r.pop("pods_per_s")
    return r, calls[0]


@pytest.mark.parametrize("placement", ["device-plugin", "dra"])
def test_work_done_counts_the_distinct_states_a_run_made(placement: str) -> None:
    """``Cluster.work_done`` (what the placement-cost benchmark reports) against states
    counted from outside: every group ever made, every distinct GPU key the nodes took,
    and one fragmentation computation per distinct (model, CPU class, free GPUs) state."""
    rng = random.Random(5)
    fleet = Fleet("f", [NodeSpec(f"n{i}", 32000, 256 * 1024, 4, "A100-SXM4-80GB") for i in range(3)])
    pods = [Pod(f"p{i}", rng.choice([1000, 4000]), 1024, num_gpu=1, gpu_milli=rng.choice([250, 500, 1000]))
            for i in range(12)]
    cluster, demands = build_cluster(fleet, Trace("t", pods), get_placement(placement), get_policy("fgd"), 5, "order")
    gpu_keys = {cluster.placement.node_key(n)[2] for n in cluster.nodes}
    frag_states = {(n.model, cluster.frag.cpu_class(n.cpu_free), tuple(sorted(n.gpu_free))) for n in cluster.nodes}
    groups = {g.gid for g in cluster.groups.values()}
    before = cluster.work_done()
    assert before["node_states"] == len(groups)
    for pod, d in zip(pods, demands):
        cluster.schedule(pod, d, 0.0)  # type: ignore[arg-type]
        gpu_keys |= {cluster.placement.node_key(n)[2] for n in cluster.nodes}
        frag_states |= {(n.model, cluster.frag.cpu_class(n.cpu_free), tuple(sorted(n.gpu_free)))
                        for n in cluster.nodes}
        groups |= {g.gid for g in cluster.groups.values()}
    work = cluster.work_done()
    assert work["node_states"] == len(groups)
    assert work["gpu_states"] == len(gpu_keys)
    # FGD also computes F for states it only scores (the node after a placement it weighs)
    assert work["fragmentation_computations"] >= len(frag_states)
    assert work["node_states"] > before["node_states"]
