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
