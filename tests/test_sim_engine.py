"""The replays: the FGD method's order and inflation, determinism, the heap selection against a
full scan, and the time-based replay's pending queue."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.engine import build_cluster, fgd_order, replay_fgd, replay_time
from simulator.fleet.model import Fleet, NodeSpec
from simulator.placement import get_placement
from simulator.scoring import get_policy
from simulator.trace.model import Pod, Trace


def pods(n: int, milli: int = 500, num: int = 1) -> list[Pod]:
    return [Pod(f"p{i:03d}", 1000, 1000, num_gpu=num, gpu_milli=milli) for i in range(n)]


def test_fgd_order_shuffles_then_appends_clones_up_to_the_target() -> None:
    original = pods(10, milli=1000)  # 10 GPUs requested
    order = fgd_order(original, random.Random(3), capacity_milli=10_000, inflation=1.3)
    assert sorted(p.name for p in order[:10]) == [p.name for p in original]
    assert order[:10] != original  # shuffled
    clones = order[10:]
    assert len(clones) == 3 and all("-clone-" in p.name for p in clones)  # 13 GPUs = 1.3 x 10
    assert sum(p.total_gpu_milli for p in order) <= 13_000


def test_fgd_order_clone_check_uses_per_gpu_milli() -> None:
    # The artifact compares total + the clone's *per-GPU* milli with the target, so a 4-GPU
    # clone may pass the target by up to 3 GPUs.
    original = [Pod("big", 1000, 1000, num_gpu=4, gpu_milli=1000)]
    order = fgd_order(original, random.Random(0), capacity_milli=10_000, inflation=1.3)
    assert sum(p.total_gpu_milli for p in order) == 16_000


def test_fgd_order_removes_pods_when_above_target() -> None:
    order = fgd_order(pods(30, milli=1000), random.Random(1), capacity_milli=10_000, inflation=1.3)
    assert sum(p.total_gpu_milli for p in order) <= 13_000 and len(order) == 13


def small_fleet(n: int = 6) -> Fleet:
    return Fleet("f", [NodeSpec(f"n{i}", 32000, 1 << 20, 1 + i % 4 * 2 - (i % 4 == 3), "T4") for i in range(n)])


def test_replay_is_deterministic_per_seed_and_bins_by_arrived() -> None:
    trace = Trace("t", pods(40, 300) + pods(10, 1000, 2)[:10])
    fleet = small_fleet()
    a = replay_fgd(fleet, trace, get_placement("device-plugin"), get_policy("bestfit"), 5)
    b = replay_fgd(fleet, trace, get_placement("device-plugin"), get_policy("bestfit"), 5)
    assert a.to_dict()["curves"] == b.to_dict()["curves"] and a.failed == b.failed
    curve = a.curves["allocated_pct"]
    assert len(curve) == 131
    assert a.extra["unallocated_pct_at_arrived_100"] is not None


@settings(max_examples=25, deadline=None)
@given(
    caps=st.lists(st.sampled_from([1, 2, 4, 8]), min_size=2, max_size=7),
    shapes=st.lists(st.tuples(st.sampled_from([100, 250, 500, 1000]), st.sampled_from([1000, 4000, 9000])),
                    min_size=1, max_size=40),
    policy=st.sampled_from(["fgd", "bestfit", "gpu-packing", "dotprod", "kube-default"]),
    seed=st.integers(0, 5),
)
def test_heap_selection_equals_full_scan(caps: list[int], shapes: list[tuple[int, int]], policy: str, seed: int) -> None:
    fleet = Fleet("f", [NodeSpec(f"n{i}", 16000, 1 << 20, c, "T4") for i, c in enumerate(caps)])
    trace = Trace("t", [Pod(f"p{i}", cpu, 100, num_gpu=1, gpu_milli=m) for i, (m, cpu) in enumerate(shapes)])
    placement = get_placement("device-plugin" if seed % 2 else "time-slicing")
    cluster, _ = build_cluster(fleet, trace, placement, get_policy(policy), seed, tie_break="order")
    for pod in trace.pods:
        d = placement.demand(pod)
        scanned = cluster.select_scan(d)
        chosen = cluster.select(d)
        assert (scanned is None) == (chosen is None)
        if chosen is not None:
            assert chosen.idx == scanned.idx
            cluster.schedule(pod, d, 0.0)


def test_time_replay_queues_until_a_departure() -> None:
    fleet = Fleet("f", [NodeSpec("n0", 8000, 1 << 20, 1, "T4")])
    trace = Trace("t", [
        Pod("a", 1000, 100, num_gpu=1, gpu_milli=1000, arrival=0, duration=100),
        Pod("b", 1000, 100, num_gpu=1, gpu_milli=1000, arrival=10, duration=50),
        Pod("c", 1000, 100, arrival=20, duration=5),  # CPU-only: does not wait behind b
    ])
    r = replay_time(fleet, trace, get_placement("device-plugin"), get_policy("kube-default"), 1)
    assert r.scheduled == 3 and r.pending == 0
    q = r.extra["queueing_delay_s"]
    assert q["max"] == 90.0  # b waits from 10 until a leaves at 100
    assert round(r.extra["gpu_hours_allocated"], 6) == round(150 / 3600, 6)
