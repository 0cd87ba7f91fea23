"""Device-plugin placement models: integer rounding, time-slicing isolation, static MIG slices."""

from __future__ import annotations

import pytest

from simulator.fleet.model import Fleet, NodeSpec
from simulator.placement import get_placement
from simulator.state import Counters, NodeState
from simulator.trace.model import Pod


def nodes_for(placement_name: str, *specs: NodeSpec, **options: object) -> tuple:
    placement = get_placement(placement_name, **options)
    nodes = [NodeState(i, s) for i, s in enumerate(specs)]
    counters = Counters()
    placement.setup(nodes, Fleet("f", list(specs)), counters)
    return placement, nodes, counters


def test_integer_device_plugin_rounds_fractions_up() -> None:
    placement, (n,), _ = nodes_for("device-plugin", NodeSpec("n", 64000, 1 << 20, 2, "T4"))
    pod = Pod("p", 1000, 1000, num_gpu=1, gpu_milli=300)
    d = placement.demand(pod)
    assert (d.count, d.milli, d.requested_milli) == (1, 1000, 300)
    b = placement.bind(n, pod, d, (0,), 0.0)
    assert b.charged == 1000 and n.gpu_free == [0, 1000]
    assert placement.eligible(n, d) == [1]
    placement.release(n, b)
    assert n.gpu_free == [1000, 1000]


def test_time_slicing_counts_pods_sharing_a_gpu() -> None:
    placement, (n,), counters = nodes_for("time-slicing", NodeSpec("n", 64000, 1 << 20, 1, "T4"), replicas=4)
    pods = [Pod(f"p{i}", 100, 100, num_gpu=1, gpu_milli=1000) for i in range(3)]
    for p in pods[:1]:
        placement.bind(n, p, placement.demand(p), (0,), 0.0)
    assert counters.isolation_violations == set()
    placement.bind(n, pods[1], placement.demand(pods[1]), (0,), 0.0)
    assert counters.isolation_violations == {"p0", "p1"}
    assert n.gpu_free == [500]


def test_time_slicing_rejects_bad_replica_counts() -> None:
    with pytest.raises(Exception, match="valid: 10, 2, 4, 5, 8"):
        get_placement("time-slicing", replicas=3)


def test_static_mig_mixed_serves_slices_and_keeps_whole_gpus_apart() -> None:
    specs = [NodeSpec("mig", 64000, 1 << 20, 2, "H100-SXM5-80GB"), NodeSpec("full", 64000, 1 << 20, 2, "H100-SXM5-80GB")]
    placement, (mig, full), _ = nodes_for("mig-mixed", *specs, mig_fraction=0.5)
    assert mig.extra is not None and full.extra is None  # every other H100 node is partitioned
    small = Pod("nb", 1000, 1000, num_gpu=1, gpu_milli=100, gpu_memory_mib=8 * 1024)
    d = placement.demand(small)
    assert d.mig == "1g.10gb"
    assert placement.eligible(mig, d) == [0, 1] and placement.eligible(full, d) == []
    before = mig.gpu_free[0]
    assert before == 428 + 285 + 142 + 142  # 3g + 2g + 1g + 1g of 7 compute slices
    b = placement.bind(mig, small, d, (0,), 0.0)
    assert b.charged == 142 and mig.gpu_free[0] == before - 142
    whole = placement.demand(Pod("t", 1000, 1000, num_gpu=2, gpu_milli=1000))
    assert placement.eligible(mig, whole) == [] and placement.eligible(full, whole) == [0, 1]
    placement.release(mig, b)
    assert placement.eligible(mig, d) == [0, 1]


# -- MIG arithmetic: every profile must fit its own slice (issue 13) ------------------------

def mig_pod(name: str, profile: str) -> Pod:
    """A MIG pod as the trace loaders write it: ceil(K*1000/7) milli and the nominal GiB."""
    k = int(profile.split("g", 1)[0])
    gib = int(profile.split(".")[1].removesuffix("gb"))
    return Pod(name, 1000, 1000, num_gpu=1, gpu_milli=-(-k * 1000 // 7), gpu_memory_mib=gib * 1024,
               mig_profile=profile)


def place_all(placement, node: NodeState, pods: list[Pod]) -> int:  # noqa: ANN001
    """Place pods one after the other on one node (first eligible GPU); how many went."""
    placed = 0
    for pod in pods:
        d = placement.demand(pod)
        gpus = placement.eligible(node, d)
        if len(gpus) < d.count:
            continue
        if placement.bind(node, pod, d, tuple(gpus[: d.count]), 0.0) is not None:
            placed += 1
    return placed


def test_profile_milli_is_exact_for_every_slice_count() -> None:
    from simulator.placement.profiles import profile_need, slice_holds, slice_milli

    for k in range(1, 8):
        assert slice_holds(k, 7, slice_milli(k)), k  # a K-slice holds a K-profile
        assert not slice_holds(k - 1, 7, slice_milli(k)), k  # a smaller one does not
    # any set of profiles whose slices add up to at most 7 fits in 1000 milli
    import itertools

    for combo in itertools.combinations_with_replacement(range(1, 8), 3):
        if sum(combo) <= 7:
            assert sum(slice_milli(k) for k in combo) <= 1000, combo
    assert profile_need("1g.10gb") == (142, 9728)  # the A100 80GB's 1g.10gb is the smallest
    assert profile_need("3g.40gb")[0] + profile_need("4g.40gb")[0] <= 1000


@pytest.mark.parametrize("profile", ["1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb"])
def test_mig_mixed_asks_for_the_profile_the_pod_names(profile: str) -> None:
    specs = [NodeSpec("mig", 64000, 1 << 20, 1, "H100-SXM5-80GB")]
    placement, _, _ = nodes_for("mig-mixed", *specs, mig_fraction=1.0)
    d = placement.demand(mig_pod("p", profile))
    offered = {s.profile for s in placement._profiles}
    assert offered == {"1g.10gb", "2g.20gb", "3g.40gb"}  # the balanced layout
    # ceil(K*1000/7) milli bumped 1g.10gb to 2g.20gb and 3g.40gb to nothing
    assert d.mig == (profile if profile in offered else None)


def test_mig_single_places_seven_1g_pods_on_one_h100() -> None:
    placement, (node,), _ = nodes_for("mig-single", NodeSpec("n", 64000, 1 << 20, 1, "H100-SXM5-80GB"),
                                      mig_fraction=1.0)
    pods = [mig_pod(f"p{i}", "1g.10gb") for i in range(8)]
    assert place_all(placement, node, pods) == 7  # 7 slices, the 8th pod finds none
    assert node.gpu_free == [0]  # the partitioned GPU offered 7 x 142 milli


@pytest.mark.parametrize("profiles, expected", [
    (["1g.10gb"] * 8, 7),
    (["4g.40gb", "3g.40gb"], 2),
    # real partitions, first fit in published order (what the allocator does): 3g takes
    # slices 0-3, where the only 4g placement starts, so the 4g pod finds no partition and
    # no share either (the GPU is in MIG use)
    (["3g.40gb", "4g.40gb"], 1),
    (["2g.20gb"] * 3 + ["1g.10gb"], 4),
    (["4g.40gb", "4g.40gb"], 1),
])
def test_dra_fits_a_full_gpu_of_mig_profiles(profiles: list[str], expected: int) -> None:
    from simulator.placement.dra import DraPlacement

    spec = NodeSpec("n", 64000, 1 << 20, 1, "H100-SXM5-80GB")
    node = NodeState(0, spec, 0)
    placement = DraPlacement(mode="shared")
    placement.setup([node], Fleet("f", [spec]), Counters())
    pods = [mig_pod(f"p{i}", p) for i, p in enumerate(profiles)]
    assert place_all(placement, node, pods) == expected


def test_wrong_model_is_counted_where_it_can_happen() -> None:
    from simulator.engine import replay_fgd
    from simulator.scoring import get_policy
    from simulator.trace.model import Trace

    fleet = Fleet("f", [NodeSpec("t4", 64000, 1 << 20, 4, "T4"), NodeSpec("h", 64000, 1 << 20, 4, "H100-SXM5-80GB")])
    pods = [Pod(f"p{i}", 1000, 100, num_gpu=1, gpu_milli=1000, gpu_models=("H100-SXM5-80GB",)) for i in range(4)]
    pods += [Pod(f"m{i}", 1000, 100, num_gpu=1, gpu_milli=1000, gpu_memory_mib=40 * 1024) for i in range(4)]
    counts = {}
    for name in ("device-plugin", "device-plugin-noaffinity", "dra"):
        r = replay_fgd(fleet, Trace("t", pods), get_placement(name), get_policy("kube-default"), 42, inflation=0)
        counts[name] = (r.scheduled, r.counters["wrong_model"])
    # with node affinity (or CEL) only the H100 node qualifies: 4 placed, never on a wrong model;
    # without it all 8 run and the 4 that landed on the T4 node (16 GB) are on a GPU they rule out
    assert counts["device-plugin"] == (4, 0) and counts["dra"] == (4, 0)
    assert counts["device-plugin-noaffinity"] == (8, 4)
