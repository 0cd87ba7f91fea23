"""DRA placement: real ResourceClaims through dra.allocator. The fast index must agree with the
allocator (property test), claims carry the right CEL and constraints, and a slice of the
openb fleet replays with no disagreement."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.engine import replay_fgd
from simulator.fleet.model import Fleet, NodeSpec
from simulator.placement.dra import DraPlacement
from simulator.run import canonical_inputs
from simulator.scoring import get_policy
from simulator.state import Counters, NodeState
from simulator.trace.model import Pod, Trace

MODELS = ["T4", "H100-SXM5-80GB", "L4", "ALIBABA-G2"]


def setup(model: str, gpus: int, mode: str = "shared", version: str = "1.37") -> tuple[DraPlacement, NodeState]:
    spec = NodeSpec("node-a", 64000, 1 << 20, gpus, model)
    node = NodeState(0, spec, 0)
    # 1.34 and 1.35 share GPUs only with the alpha gate on (the placement refuses otherwise)
    placement = DraPlacement(mode=mode, kubernetes_version=version,
                             feature_gates={"DRAConsumableCapacity": True} if mode == "shared" else {})
    placement.setup([node], Fleet("f", [spec]), Counters())
    return placement, node


pod_strategy = st.builds(
    lambda milli, num, models, mem, nvlink: Pod(
        "p", 1000, 100, num_gpu=1 if milli < 1000 else num, gpu_milli=milli, gpu_models=models,
        gpu_memory_mib=mem, nvlink=nvlink),
    milli=st.sampled_from([100, 250, 300, 500, 810, 1000]),
    num=st.sampled_from([1, 2, 4]),
    models=st.sampled_from([(), ("T4",), ("H100-SXM5-80GB", "L4")]),
    mem=st.sampled_from([0, 0, 8 * 1024, 20 * 1024, 40 * 1024]),
    nvlink=st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(model=st.sampled_from(MODELS), gpus=st.sampled_from([1, 2, 4]), mode=st.sampled_from(["shared", "whole"]),
       version=st.sampled_from(["1.34", "1.35", "1.36", "1.37"]),
       before=st.lists(pod_strategy, max_size=6), probe=pod_strategy)
def test_index_agrees_with_the_allocator(model: str, gpus: int, mode: str, version: str, before: list[Pod],
                                         probe: Pod) -> None:
    placement, node = setup(model, gpus, mode, version)
    for k, pod in enumerate(before):
        pod = Pod(f"b{k}", pod.cpu_milli, pod.memory_mib, pod.num_gpu, pod.gpu_milli, pod.gpu_models,
                  pod.gpu_memory_mib, nvlink=pod.nvlink)
        d = placement.demand(pod)
        eligible = placement.eligible(node, d)
        if len(eligible) >= d.count and (not d.models or model in d.models):
            assert placement.bind(node, pod, d, tuple(eligible[: d.count]), 0.0) is not None
    d = placement.demand(probe)
    index_says = (not d.models or model in d.models) and len(placement.eligible(node, d)) >= d.count
    claim = placement.claim_for(d, None)  # no pinning: the allocator's own first fit
    allocator_says = placement.allocator_for(node.extra).allocate_dicts(
        node.extra.node_obj, [claim], allocated=node.extra.state) is not None
    assert index_says == allocator_says


def test_claims_carry_cel_selectors_capacity_and_nvlink_constraint() -> None:
    placement, _ = setup("H100-SXM5-80GB", 8)
    share = placement.demand(Pod("s", 1000, 1, num_gpu=1, gpu_milli=250, gpu_models=("H100-SXM5-80GB",),
                                 gpu_memory_mib=20 * 1024))
    claim = placement.claim_dict(share)
    req = claim["spec"]["devices"]["requests"][0]["exactly"]
    assert req["deviceClassName"] == "shared.gpu.nvidia.com"
    assert req["capacity"]["requests"] == {"compute": "250", "memory": "20480Mi"}
    exprs = [s["cel"]["expression"] for s in req["selectors"]]
    assert "productName in ['NVIDIA H100 80GB HBM3']" in exprs[0]
    assert "memory.compareTo(quantity('20480Mi')) >= 0" in exprs[1]
    gang = placement.demand(Pod("g", 1000, 1, num_gpu=4, gpu_milli=1000, nvlink=True))
    spec = placement.claim_dict(gang)["spec"]["devices"]
    assert spec["requests"][0]["exactly"]["count"] == 4
    assert spec["constraints"] == [{"requests": ["gpu"], "matchAttribute": "gpu.nvidia.com/nvlinkDomain"}]


def test_nvlink_gang_is_refused_on_pcie_only_gpus() -> None:
    placement, node = setup("T4", 4)
    gang = placement.demand(Pod("g", 1000, 1, num_gpu=2, gpu_milli=1000, nvlink=True))
    assert placement.eligible(node, gang) == []
    result = placement.allocator_for(node.extra).allocate_dicts(
        node.extra.node_obj, [placement.claim_for(gang, None)], allocated=node.extra.state)
    assert result is None


def test_openb_slice_replays_through_the_allocator(shared_dir: Path) -> None:
    from simulator.fleet.openb import load_openb_nodes
    from simulator.trace.openb import load_openb_pods

    base = shared_dir / "traces/alibaba-openb"
    fleet = load_openb_nodes(base / "openb_node_list_gpu_node.csv")
    trace = load_openb_pods(base / "openb_pod_list_default.csv")
    fleet, trace = canonical_inputs(Fleet(fleet.name, fleet.nodes[:60]), Trace(trace.name, trace.pods[:400]))
    r = replay_fgd(fleet, trace, DraPlacement(), get_policy("fgd"), 42)
    assert r.counters["index_disagreements"] == 0
    gpu_pods = sum(1 for p in trace.pods if p.is_gpu)
    assert 0 < r.counters["allocator_calls"] <= r.scheduled  # every placed GPU pod went through it
    assert gpu_pods > 0
    assert r.scheduled > 0 and r.extra["unallocated_pct_at_arrived_100"] is not None


def test_index_only_model_places_as_the_allocator_checked_one() -> None:
    """``verify=False`` (the FGD paper's share model: the index alone, benchmarks' "index only"
    row) binds through its own path; on a mixed fleet with shares, MIG profiles and NVLink gangs
    it must place every pod where the allocator-checked model does."""
    from simulator.fleet.builtin import builtin_fleet
    from simulator.trace.synthetic import generate

    fleet, trace = canonical_inputs(builtin_fleet("modern-mix"), generate(400, 7))
    checked = replay_fgd(fleet, trace, DraPlacement(), get_policy("fgd"), 42)
    index_only = DraPlacement()
    index_only.verify = False
    unchecked = replay_fgd(fleet, trace, index_only, get_policy("fgd"), 42)
    assert checked.counters["allocator_calls"] > 0 and unchecked.counters["allocator_calls"] == 0
    assert (unchecked.scheduled, unchecked.curves) == (checked.scheduled, checked.curves)


def test_time_replay_releases_shares_back_to_an_empty_node() -> None:
    from simulator.engine import build_cluster, replay_time

    fleet = Fleet("f", [NodeSpec("node-a", 64000, 1 << 20, 2, "T4")])
    pods = [Pod(f"p{i}", 1000, 100, num_gpu=1, gpu_milli=m, arrival=i, duration=10 + i)
            for i, m in enumerate([460, 300, 810, 1000, 250, 500])]
    r = replay_time(fleet, Trace("t", pods), DraPlacement(), get_policy("fgd"), 1)
    assert r.scheduled == 6 and r.counters["index_disagreements"] == 0
    # a second replay on a cluster we can inspect: everything bound, then everything released
    placement = DraPlacement()
    cluster, _ = build_cluster(fleet, Trace("t", pods), placement, get_policy("bestfit"), 1)
    bindings = [cluster.schedule(p, placement.demand(p), 0.0) for p in pods[:3]]
    assert all(b is not None for b in bindings)
    for b in bindings:
        cluster.release(b)
    node = cluster.nodes[0]
    assert node.gpu_free == [1000, 1000] and not node.extra.state.capacity and not node.extra.state.shared_devices
