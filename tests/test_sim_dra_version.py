"""The DRA placements follow the selected Kubernetes version's allocator (``kubernetes_version``
and ``feature_gates`` placement options, default 1.37)."""

from __future__ import annotations

import pytest

from dra.errors import UserError
from simulator.engine import build_cluster
from simulator.fleet.model import Fleet, NodeSpec
from simulator.placement import PLACEMENTS, get_placement
from simulator.scoring import get_policy
from simulator.trace.model import Pod, Trace

FLEET = Fleet("f", [NodeSpec(f"n{i}", 64000, 1 << 20, 4, "H100-SXM5-80GB") for i in range(2)])
PODS = [Pod(f"p{i}", 100, 100, num_gpu=c, gpu_milli=m, nvlink=c > 1)
        for i, (c, m) in enumerate([(1, 300), (2, 1000), (1, 1000), (1, 500), (1, 250), (4, 1000), (1, 700)])]


def run(placement):
    cluster, _ = build_cluster(FLEET, Trace("t", PODS), placement, get_policy("bestfit"), 1)
    out = []
    for pod in PODS:
        b = cluster.schedule(pod, placement.demand(pod), 0.0)
        out.append(None if b is None else (b.node, tuple(sorted(b.gpus)), b.charged))
    node = cluster.nodes[0]
    return out, placement.allocator_for(node.extra).behaviour


@pytest.mark.parametrize("name", PLACEMENTS)
def test_every_placement_accepts_the_run_options(name: str) -> None:
    for gates in ({}, (("DRAConsumableCapacity", True),), {"DRAConsumableCapacity": True}):
        p = get_placement(name, kubernetes_version="1.37", feature_gates=gates)
        if hasattr(p, "version"):
            assert p.version.minor == "1.37"


def test_default_is_1_37_and_its_allocator() -> None:
    p = get_placement("dra", device_choice="allocator")
    assert p.version.minor == "1.37" and p.version.enabled("DRAExtendedResource")
    _, behaviour = run(p)
    assert (behaviour.minor, behaviour.variant, behaviour.ordered) == ("1.37", "incubating", True)


def test_each_version_runs_its_own_allocator_variant() -> None:
    seen = {}
    for minor, gates, mode in (("1.34", {}, "dra-whole"), ("1.35", {}, "dra-whole"),
                               ("1.35", {"DRAConsumableCapacity": True}, "dra"), ("1.36", {}, "dra")):
        out, behaviour = run(get_placement(mode, kubernetes_version=minor, feature_gates=gates,
                                           device_choice="allocator"))
        seen[(minor, mode)] = (behaviour.minor, behaviour.variant, behaviour.ordered, behaviour.start_location)
        assert all(b is not None for b in out[:4])
    assert seen[("1.35", "dra-whole")] == ("1.35", "incubating", False, False)
    assert seen[("1.36", "dra")] == ("1.36", "incubating", True, True)
    assert seen[("1.35", "dra")][:3] == ("1.35", "experimental", False)


def test_version_dependent_placements_sharing_needs_consumable_capacity() -> None:
    # 1.35 by default has no DRAConsumableCapacity: a share claim cannot be allocated there,
    # so the shared model is refused in one line; dra-whole gives each fraction a whole GPU.
    for minor in ("1.34", "1.35"):
        with pytest.raises(UserError) as err:
            get_placement("dra", kubernetes_version=minor)
        assert "DRAConsumableCapacity" in str(err.value) and "\n" not in str(err.value)
    whole_135, _ = run(get_placement("dra-whole", kubernetes_version="1.35", device_choice="allocator"))
    shared_136, _ = run(get_placement("dra", kubernetes_version="1.36", device_choice="allocator"))
    assert whole_135 != shared_136
    assert whole_135[0][2] == 1000 and shared_136[0][2] == 300  # the 0.3-GPU pod: a whole GPU vs its share
    # with the gate, 1.35 shares too, on the same devices as 1.36 here (one slice per node: the
    # 1.36 slice-name order and start location do not change the first fit on these shapes)
    shared_135, _ = run(get_placement("dra", kubernetes_version="1.35", device_choice="allocator",
                                      feature_gates={"DRAConsumableCapacity": True}))
    assert shared_135 == shared_136


def test_unknown_gate_or_version_is_one_clear_error() -> None:
    with pytest.raises(UserError, match="1.33"):
        get_placement("dra", kubernetes_version="1.33")
    with pytest.raises(UserError, match="NoSuchGate"):
        get_placement("dra-whole", feature_gates={"NoSuchGate": True})


def test_1_34_slice_recheck_is_mirrored_and_not_memoised_across_nodes() -> None:
    """1.34's alpha ConsumableCapacity re-checks a request's first device against the first
    device of its slice. A share pinned to gpu-1 is refused on a node whose gpu-0 is taken
    whole, and the index says so too; on a node of the same shape with gpu-0 free the same
    claim is placed -- the allocator memo must not carry the first node's refusal over (it
    keyed on the pinned device alone and turned 198 of 1,200 pods on modern-mix into failures)."""
    from simulator.state import Counters, NodeState

    spec = NodeSpec("n", 64000, 1 << 20, 4, "H100-SXM5-80GB")
    nodes = [NodeState(i, spec, 81559) for i in range(2)]
    place = get_placement("dra", kubernetes_version="1.34", feature_gates={"DRAConsumableCapacity": True})
    place.setup(nodes, Fleet("f", [spec, spec]), Counters())
    whole, share = Pod("w", 100, 100, num_gpu=1, gpu_milli=1000), Pod("s", 100, 100, num_gpu=1, gpu_milli=500)
    assert place.bind(nodes[0], whole, place.demand(whole), (0,), 0.0) is not None
    d = place.demand(share)
    assert place.eligible(nodes[0], d) == []  # gpu-1..3 pass their own checks, not gpu-0's
    assert place.bind(nodes[0], share, d, (1,), 0.0) is None  # the allocator agrees
    assert place.eligible(nodes[1], d) == [0, 1, 2, 3]
    assert place.bind(nodes[1], share, d, (1,), 0.0) is not None  # same shape, gpu-0 free
    # 1.35 has no such re-check: gpu-1 is fine beside a full gpu-0
    later = get_placement("dra", kubernetes_version="1.35", feature_gates={"DRAConsumableCapacity": True})
    fresh = [NodeState(i, spec, 81559) for i in range(2)]
    later.setup(fresh, Fleet("f", [spec, spec]), Counters())
    assert later.bind(fresh[0], whole, later.demand(whole), (0,), 0.0) is not None
    assert later.eligible(fresh[0], later.demand(share)) == [1, 2, 3]


def test_1_34_nodes_with_the_same_free_gpus_in_other_places_are_not_one_group() -> None:
    """The scheduler filters a group of nodes with equal keys once. On 1.34 a node whose gpu-0
    is taken refuses every share (the slice re-check) while one whose gpu-1 is taken does
    not, so their keys must differ although their free GPUs are the same multiset; on 1.37
    they are interchangeable and share a key."""
    from simulator.state import Counters, NodeState

    spec = NodeSpec("n", 64000, 1 << 20, 4, "H100-SXM5-80GB")
    whole, share = Pod("w", 100, 100, num_gpu=1, gpu_milli=1000), Pod("s", 100, 100, num_gpu=1, gpu_milli=500)
    for version, alike in (("1.34", False), ("1.37", True)):
        place = get_placement("dra", kubernetes_version=version, feature_gates={"DRAConsumableCapacity": True})
        a, b = NodeState(0, spec, 81559), NodeState(1, spec, 81559)
        place.setup([a, b], Fleet("f", [spec, spec]), Counters())
        assert place.bind(a, whole, place.demand(whole), (0,), 0.0) is not None
        assert place.bind(b, whole, place.demand(whole), (1,), 0.0) is not None
        d = place.demand(share)
        assert (place.eligible(a, d) == []) is not alike
        assert (place.node_key(a) == place.node_key(b)) is alike, version
