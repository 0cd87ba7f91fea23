"""Migration from the device plugin to DRA (``dra-extended[:F]``, KEP-5004): whole-GPU pods keep
``nvidia.com/gpu: N``; converted nodes serve it through the scheduler-made extended-resource
claim placed by the allocator, the others through the integer device-plugin model; pods with
native claims only run on converted nodes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dra.allocator.extended import ANNOTATION, claim_dict_for_pod, class_for_resources
from dra.errors import UserError
from simulator.engine import replay_fgd, replay_time
from simulator.fleet.model import Fleet, NodeSpec
from simulator.placement import PLACEMENTS, get_placement
from simulator.placement.dra import device_classes
from simulator.placement.migration import DraMigrationPlacement, converted_nodes, pod_object
from simulator.run import RunOptions, canonical_inputs, check_names, run_one
from simulator.scoring import get_policy
from simulator.state import NodeState
from simulator.trace.model import Pod, Trace

H100, A100 = "H100-SXM5-80GB", "A100-SXM4-80GB"


def fleet(n: int = 4, gpus: int = 4) -> Fleet:
    nodes = [NodeSpec(f"n{i}", 64000, 1 << 20, gpus, H100 if i % 2 else A100) for i in range(n)]
    nodes.append(NodeSpec("cpu", 64000, 1 << 20, 0, ""))
    return Fleet("f", nodes)


def whole_pods(draw_counts: list[int]) -> list[Pod]:
    return [Pod(f"p{i}", 1000, 1024, num_gpu=c, gpu_milli=1000, arrival=float(i), duration=5.0 + i % 7)
            for i, c in enumerate(draw_counts)]


def placements_of(result) -> list:
    return [(b["pod"], b["node"], tuple(b["gpus"])) for b in result.extra.get("bindings", [])]


def bindings(placement, fl: Fleet, pods: list[Pod], policy: str = "bestfit") -> list[tuple]:
    """(pod, node, gpus) of every pod bound, in order (FGD replay over an engine we can inspect)."""
    from simulator.engine import build_cluster

    cluster, _ = build_cluster(fl, Trace("t", pods), placement, get_policy(policy), 7)
    out = []
    for pod in pods:
        b = cluster.schedule(pod, placement.demand(pod), 0.0)
        out.append(None if b is None else (pod.name, b.node, tuple(sorted(b.gpus))))
    return out


def test_the_name_and_fraction_spelling() -> None:
    assert "dra-extended" in PLACEMENTS
    assert get_placement("dra-extended").fraction == 1.0
    p = get_placement("dra-extended:0.25")
    assert p.fraction == 0.25 and p.name == "dra-extended:0.25"
    assert get_placement("dra-extended", dra_node_fraction=0.5).fraction == 0.5
    for bad in ("dra-extended:x", "dra-extended:1.5", "dra-extended:-0.1"):
        with pytest.raises(UserError, match="dra-extended"):
            get_placement(bad)
    check_names(["dra-extended:0.5"], ["fgd"], "fgd")


def test_refused_where_dra_extended_resource_is_off() -> None:
    for minor in ("1.34", "1.35"):
        with pytest.raises(UserError) as err:
            get_placement("dra-extended", kubernetes_version=minor)
        assert "\n" not in str(err.value) and minor in str(err.value)
    # 1.35 with the gates given runs it
    p = get_placement("dra-extended", kubernetes_version="1.35",
                      feature_gates=(("DRAExtendedResource", True), ("DRAConsumableCapacity", True)))
    assert p.version.minor == "1.35" and p.version.enabled("DRAExtendedResource")
    assert get_placement("dra-extended", kubernetes_version="1.36").version.minor == "1.36"


@settings(max_examples=25, deadline=None)
@given(fraction=st.floats(0, 1), n=st.integers(0, 12))
def test_converted_nodes_spread_per_model_and_grow_with_the_fraction(fraction: float, n: int) -> None:
    fl = fleet(n)
    nodes = [NodeState(i, s, 0) for i, s in enumerate(fl.nodes)]
    chosen = converted_nodes(nodes, fraction)
    for model in (H100, A100):
        of_model = [x.idx for x in nodes if x.model == model]
        k = len([i for i in of_model if i in chosen])
        assert k == int(len(of_model) * fraction + 1e-9)
    assert all(nodes[i].gpu_count for i in chosen)
    assert chosen <= converted_nodes(nodes, min(1.0, fraction + 0.1))
    assert converted_nodes(nodes, 0.0) == set()
    assert converted_nodes(nodes, 1.0) == {x.idx for x in nodes if x.gpu_count}


def test_the_claim_is_the_one_the_1_37_scheduler_makes() -> None:
    p = get_placement("dra-extended", device_choice="allocator")
    p.setup([], fleet(0), p.counters)
    mapping = class_for_resources(list(device_classes()))
    assert mapping["nvidia.com/gpu"] == "gpu.nvidia.com"
    built = claim_dict_for_pod(pod_object(Pod("x", 1, 1, 2, 1000), 2), mapping)
    claim = p.extended_claim_dict(2)
    assert claim == built
    assert claim["metadata"]["annotations"] == {ANNOTATION: "true"}
    # request index = position of nvidia.com/gpu among the container's sorted requests (cpu, memory, ...)
    assert claim["spec"]["devices"]["requests"] == [
        {"name": "container-0-request-2",
         "exactly": {"deviceClassName": "gpu.nvidia.com", "allocationMode": "ExactCount", "count": 2}}]
    pinned = p.extended_claim_dict(2, (1, 3))
    assert pinned["spec"]["devices"]["requests"][0]["exactly"]["selectors"]


@settings(max_examples=15, deadline=None)
@given(counts=st.lists(st.sampled_from([1, 1, 2, 4]), min_size=1, max_size=24),
       policy=st.sampled_from(["bestfit", "fgd", "kube-default"]))
def test_fraction_zero_is_the_device_plugin(counts: list[int], policy: str) -> None:
    fl = fleet(4)
    pods = whole_pods(counts)
    assert bindings(get_placement("dra-extended:0"), fl, pods, policy) == \
        bindings(get_placement("device-plugin"), fl, pods, policy)


@settings(max_examples=10, deadline=None)
@given(counts=st.lists(st.sampled_from([1, 2, 4]), min_size=1, max_size=16))
def test_fraction_one_serves_every_whole_gpu_pod_through_a_claim(counts: list[int]) -> None:
    fl = fleet(4)
    pods = whole_pods(counts)
    p = get_placement("dra-extended:1")
    got = bindings(p, fl, pods)
    placed = [b for b in got if b is not None]
    assert p.extended_claims == len(placed) and p.device_plugin_pods == 0
    assert p.counters.allocator_calls >= 1
    # the same pods fit as under the device plugin: a claim for N whole GPUs is N whole GPUs
    assert len(placed) == len([b for b in bindings(get_placement("device-plugin"), fl, pods) if b is not None])


def test_native_claims_only_on_converted_nodes_and_share_gpus_with_extended_pods() -> None:
    fl = Fleet("f", [NodeSpec("a", 64000, 1 << 20, 2, H100), NodeSpec("b", 64000, 1 << 20, 2, H100)])
    p = DraMigrationPlacement(fraction=0.5)
    share = Pod("share", 100, 100, num_gpu=1, gpu_milli=300)
    mig = Pod("mig", 100, 100, num_gpu=1, gpu_milli=1000, mig_profile="3g.40gb")
    whole = [Pod(f"w{i}", 100, 100, num_gpu=1, gpu_milli=1000) for i in range(3)]
    got = bindings(p, fl, [share, mig, *whole])
    assert p.dra_nodes == {0}  # half of the model's nodes, the first in van der Corput order
    dra_idx = 0
    assert got[0][1] == dra_idx and got[1][1] == dra_idx  # native claims: the DRA node only
    placed_whole = [b for b in got[2:] if b is not None]
    # the DRA node has one or two GPUs taken by shares; whole pods fill the rest of both nodes
    assert len(placed_whole) == 2 + (2 - len({got[0][2], got[1][2]}))
    assert p.device_plugin_pods == 2 and p.extended_claims == len(placed_whole) - 2
    # with no converted node, a native claim has nowhere to go
    p0 = DraMigrationPlacement(fraction=0.0)
    assert bindings(p0, fl, [share]) == [None]


def test_end_to_end_through_run_one() -> None:
    fl, trace = canonical_inputs(fleet(6, 8), Trace("t", [
        Pod(f"p{i}", 2000, 4096, num_gpu=(1, 2, 1, 1, 4)[i % 5], gpu_milli=(1000, 1000, 250, 500, 1000)[i % 5],
            arrival=float(i), duration=30.0 + (i * 7) % 50)
        for i in range(120)]))
    results = {}
    for name in ("device-plugin", "dra", "dra-extended:0", "dra-extended:0.5", "dra-extended"):
        results[name] = run_one(fl, trace, name, "bestfit", 3, RunOptions(method="time"))
    for name, r in results.items():
        assert r.placement == name and 0 < r.scheduled <= r.pods, name
        assert r.counters["index_disagreements"] == 0, name
    # fractions (native claims) cannot run at 0, with no DRA node: exactly those fail
    shares = sum(1 for p in trace.pods if p.gpu_milli < 1000)
    assert results["dra-extended:0"].failed == shares == 48
    assert results["dra-extended:0.5"].failed < shares
    assert results["dra-extended"].failed == results["dra"].failed
    fgd = run_one(fl, trace, "dra-extended:0.5", "fgd", 3, RunOptions())
    assert fgd.scheduled > 0 and fgd.counters["index_disagreements"] == 0


def test_failure_reason_names_the_missing_dra_driver() -> None:
    from simulator.engine import build_cluster
    from simulator.placement.diagnose import FailureLog

    fl = Fleet("f", [NodeSpec("a", 64000, 1 << 20, 2, H100), NodeSpec("b", 64000, 1 << 20, 2, H100)])
    share = Pod("share", 100, 100, num_gpu=1, gpu_milli=300)
    whole = Pod("whole", 100, 100, num_gpu=1, gpu_milli=1000)
    for fraction, fits in ((0.0, False), (0.5, True)):
        p = DraMigrationPlacement(fraction=fraction)
        cluster, _ = build_cluster(fl, Trace("t", [share]), p, get_policy("bestfit"), 1)
        log = FailureLog(cluster.nodes)
        reason, ok = log.explain(p.demand(share))
        assert ok is fits
        if not fits:
            assert "2 no DRA driver (device-plugin node)" in reason
        assert log.explain(p.demand(whole))[1]  # nvidia.com/gpu runs on either kind of node
