"""RDMA NICs as devices (issue 13, DLRM-2025): a GPU pod asking for RDMA gets a claim with a GPU
request and a NIC request aligned on ``resource.kubernetes.io/pcieRoot`` where the fleet has
NICs, a CPU-only pod (the trace's ``CN`` instances) a claim with the NIC request alone; the
device plugin has node counts only. Before, the NIC share was recorded, not placed (CPU-only
pods' until later still)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.engine import demand_for, replay_time
from simulator.errors import FleetError
from simulator.fleet.builtin import builtin_fleet
from simulator.fleet.load import load_fleet
from simulator.fleet.model import Fleet, NodeSpec
from simulator.placement import get_placement
from simulator.placement.nics import PCIE_ROOT
from simulator.run import canonical_inputs
from simulator.scoring import get_policy
from simulator.state import Counters, NodeState
from simulator.trace.model import Pod, Trace

H100 = "H100-SXM5-80GB"


def one_node(name: str, nics: int = 4):  # noqa: ANN201
    spec = NodeSpec("n", 224000, 1 << 21, 8, H100, rdma_nics=nics)
    node = NodeState(0, spec, 0)
    placement = get_placement(name)
    placement.setup([node], Fleet("f", [spec]), Counters())
    return placement, node


def rdma_pod(name: str, rdma: int = 600) -> Pod:
    return Pod(name, 1000, 1024, num_gpu=1, gpu_milli=1000, rdma_milli=rdma)


def place(placement, node: NodeState, pod: Pod):  # noqa: ANN001, ANN201
    d = demand_for(placement, pod)
    gpus = placement.eligible(node, d)
    if len(gpus) < d.count or not placement.fits(node, d):
        return None
    return placement.bind(node, pod, d, tuple(gpus[: d.count]), 0.0)


def test_dra_claims_pair_each_gpu_with_a_nic_under_its_pcie_root() -> None:
    placement, node = one_node("dra")
    d = demand_for(placement, rdma_pod("p"))
    devices = placement.claim_dict(d)["spec"]["devices"]
    assert [r["name"] for r in devices["requests"]] == ["gpu", "nic"]
    assert devices["requests"][1]["exactly"]["capacity"] == {"requests": {"rdma": "600"}}
    assert {"requests": ["gpu", "nic"], "matchAttribute": PCIE_ROOT} in devices["constraints"]
    # 4 NICs, one per PCIe root (two GPUs each): a 600-milli share each, so 4 pods and no more
    placed = [place(placement, node, rdma_pod(f"p{k}")) for k in range(6)]
    assert [b is not None for b in placed] == [True] * 4 + [False] * 2
    slices = placement.allocator_for(node.extra) and node.extra.rep.slices
    attrs = {(s.spec.driver, d.name): d.attributes[PCIE_ROOT].string
             for s in slices for d in (s.spec.devices or []) if d.attributes and PCIE_ROOT in d.attributes}
    for b in placed[:4]:
        (gpu,) = b.gpus
        nic = next(t[1] for t in b.detail if t[0] == -1)
        assert attrs[("gpu.nvidia.com", f"gpu-{gpu}")] == attrs[("dra.net", nic)]
    acc = placement.accounting()  # DRA: every NIC share is aligned (the allocator enforces it)
    assert acc["rdma_aligned"] == 4 and acc["rdma_unaligned"] == 0
    placement.release(node, placed[0])
    assert place(placement, node, rdma_pod("again")) is not None


def test_the_device_plugin_counts_nic_units_and_misses_alignment() -> None:
    placement, node = one_node("device-plugin")
    placed = [place(placement, node, rdma_pod(f"p{k}")) for k in range(8)]
    assert sum(b is not None for b in placed) == 6  # 4,000 units on the node: 6 x 600
    acc = placement.accounting()
    assert acc["rdma_aligned"] + acc["rdma_unaligned"] == 6 and acc["rdma_unaligned"] > 0
    for b in placed:
        if b is not None:
            placement.release(node, b)
    assert placement.nic_counts.total_free(0) == 4000


def test_without_nics_in_the_fleet_the_share_is_only_recorded() -> None:
    spec = NodeSpec("n", 224000, 1 << 21, 8, H100)
    node = NodeState(0, spec, 0)
    placement = get_placement("dra")
    placement.setup([node], Fleet("f", [spec]), Counters())
    d = demand_for(placement, rdma_pod("p"))
    assert [r["name"] for r in placement.claim_dict(d)["spec"]["devices"]["requests"]] == ["gpu"]
    assert place(placement, node, rdma_pod("p")) is not None


def test_a_time_replay_places_rdma_pods_with_their_nics() -> None:
    pods = [Pod(f"p{k}", 1000, 1024, num_gpu=1, gpu_milli=1000, rdma_milli=250, arrival=float(k), duration=50.0)
            for k in range(40)]
    fleet, trace = canonical_inputs(builtin_fleet("dgx-h100-32"), Trace("t", pods))
    fleet = Fleet(fleet.name, fleet.nodes[:2])
    for name in ("dra", "device-plugin"):
        r = replay_time(fleet, trace, get_placement(name), get_policy("bestfit"), 1)
        assert r.scheduled == 40 and r.counters["index_disagreements"] == 0
        if name == "device-plugin":  # counts only: some NIC shares land off the GPU's PCIe root
            assert r.counters["rdma_aligned"] + r.counters["rdma_unaligned"] == 40


def test_yaml_fleet_rdma_nics(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("nodes:\n- {shape: dgx-h100, count: 2, rdma_nics: 8}\n- {model: L4, gpus: 4}\n")
    fleet = load_fleet(path)
    assert [n.rdma_nics for n in fleet.nodes] == [8, 8, 0] and fleet.has_nics
    path.write_text("nodes:\n- {shape: dgx-h100, rdma_nics: many}\n")
    with pytest.raises(FleetError, match=r"nodes\[0\]\.rdma_nics"):
        load_fleet(path)
    assert all(n.rdma_nics == 8 for n in builtin_fleet("dgx-h100-32").nodes)


def cpu_pod(name: str, rdma: int = 600) -> Pod:
    return Pod(name, 1000, 1024, rdma_milli=rdma)


def test_cpu_only_pods_take_a_nic_share_on_any_nic() -> None:
    placement, node = one_node("dra", nics=2)
    d = demand_for(placement, cpu_pod("c"))
    devices = placement.claim_dict(d)["spec"]["devices"]
    assert [r["name"] for r in devices["requests"]] == ["nic"] and "constraints" not in devices
    assert "config" not in devices  # no GPU, nothing to share
    placed = [place(placement, node, cpu_pod(f"c{k}")) for k in range(3)]  # 600 of 1000 on each of 2 NICs
    assert [b is not None for b in placed] == [True, True, False]
    assert sorted(next(t[1] for t in b.detail if t[0] == -1) for b in placed[:2]) == ["nic-0", "nic-1"]
    assert all(b.gpus == () and b.charged == 0 for b in placed[:2])
    acc = placement.accounting()
    assert acc["rdma_cpu_only"] == 2 and acc["rdma_aligned"] == acc["rdma_unaligned"] == 0
    assert node.gpu_free == [1000] * 8  # GPUs untouched
    placement.release(node, placed[0])
    assert place(placement, node, cpu_pod("again")) is not None

    placement, node = one_node("device-plugin", nics=2)  # 2,000 units, no NIC boundaries
    placed = [place(placement, node, cpu_pod(f"c{k}")) for k in range(4)]
    assert [b is not None for b in placed] == [True, True, True, False]
    acc = placement.accounting()
    assert acc["rdma_cpu_only"] == 3 and acc["rdma_aligned"] + acc["rdma_unaligned"] == 0
    for b in placed[:3]:
        placement.release(node, b)
    assert placement.nic_counts.total_free(0) == 2000


def test_a_cpu_node_publishes_its_nics_alone() -> None:
    """A node without GPUs but with NICs (a DLRM CPU node) is a pool of the network driver only:
    CPU-only RDMA pods get NIC shares there through the allocator, GPU pods never go there."""
    fleet = Fleet("f", [NodeSpec("cpu-0", 192000, 1 << 20, 0, "L4", rdma_nics=2)])
    pods = [Pod(f"c{k}", 1000, 1024, rdma_milli=600, arrival=float(k), duration=10.0) for k in range(3)]
    pods.append(Pod("g", 1000, 1024, num_gpu=1, gpu_milli=1000, arrival=0.5, duration=10.0))
    for name, placed_at_once in (("dra", 2), ("device-plugin", 3)):  # per NIC / node units
        r = replay_time(fleet, Trace("t", pods), get_placement(name), get_policy("kube-default"), 1)
        assert r.scheduled == 3 and r.pending == 1 and r.counters["rdma_cpu_only"] == 3, name
        assert r.extra["queueing_delay_s"]["max"] == (0.0 if placed_at_once == 3 else 8.0), name
        if name == "dra":
            assert r.counters["allocator_calls"] > 0 and r.counters["index_disagreements"] == 0


def test_nic_shares_without_consumable_capacity_stop_the_run_naming_the_pod() -> None:
    """1.34 and 1.35 have DRAConsumableCapacity off: no claim can ask a share of a NIC. A run
    on a fleet with NICs says so before placing anything (it used to fail mid-replay, naming
    an internal claim); on a fleet without NICs the share is only recorded and the run goes on."""
    from dra.errors import UserError

    dgx = builtin_fleet("dgx-h100-32").nodes[0]
    pods = [Pod("hn-0", 1000, 1024, num_gpu=1, gpu_milli=1000), cpu_pod("cn-0")]
    for version in ("1.34", "1.35"):
        placement = get_placement("dra-whole", kubernetes_version=version)
        with pytest.raises(UserError, match=rf"^pod cn-0: its RDMA NIC share needs the DRAConsumableCapacity "
                                            rf"feature gate, off in Kubernetes {version}"):
            replay_time(Fleet("f", [dgx]), Trace("t", pods[1:]), placement, get_policy("kube-default"), 1)
        plain = NodeSpec("n", 224000, 1 << 21, 8, H100)  # no NICs anywhere: recorded only
        r = replay_time(Fleet("g", [plain]), Trace("t", pods), get_placement("dra-whole", kubernetes_version=version),
                        get_policy("kube-default"), 1)
        assert r.scheduled == 2


def test_cpu_only_rdma_pods_go_only_where_a_nic_has_room() -> None:
    """On a fleet with NICs, a CPU-only pod asking for RDMA skips the nodes without one; the
    failure reason says why a node never could."""
    from simulator.placement.diagnose import FailureLog

    spec = builtin_fleet("dgx-h100-32").nodes[0]
    fleet = Fleet("f", [NodeSpec("cpu-0", 192000, 1 << 20, 0, "L4"), spec,
                        NodeSpec("cpu-1", 192000, 1 << 20, 0, "L4")])
    pods = [Pod(f"c{k}", 1000, 1024, rdma_milli=500, arrival=float(k), duration=100.0) for k in range(20)]
    pods += [Pod(f"plain{k}", 1000, 1024, arrival=float(k), duration=100.0) for k in range(4)]
    for name in ("dra", "device-plugin", "time-slicing"):
        r = replay_time(fleet, Trace("t", pods), get_placement(name), get_policy("kube-default"), 3)
        # 8 NICs x 1000 on the DGX node: 16 shares of 500 at once, the other 4 wait for departures
        assert r.scheduled == 24 and r.counters["rdma_cpu_only"] == 20, name
        assert r.counters["index_disagreements"] == 0
    log = FailureLog([NodeState(i, n, 0) for i, n in enumerate(fleet.nodes)])
    reason, fits = log.explain(demand_for(get_placement("device-plugin"), cpu_pod("c")))
    assert fits and "1 could run it when empty" in reason
    # 240 cores: more than the DGX node's 224; the 256-core CPU node has them but no NIC
    nodes = [NodeState(0, NodeSpec("cpu-big", 256000, 1 << 20, 0, "L4"), 0), NodeState(1, spec, 0)]
    assert FailureLog(nodes).explain(demand_for(get_placement("dra"), Pod("big", 240000, 1024, rdma_milli=10)))[0] \
        == "0/2 nodes fit even when empty: 1 Insufficient cpu, 1 no RDMA NIC"


def test_cpu_nodes_without_nics_are_warned_about() -> None:
    """CPU-only pods asking for a NIC share on a fleet whose CPU nodes have no NICs are told, once,
    that they can only use the nodes with NICs; the warning goes when the CPU nodes get NICs, and
    on a fleet without NICs (shares only recorded) or without such pods there is none."""
    dgx = builtin_fleet("dgx-h100-32").nodes[0]
    pods = [Pod(f"c{k}", 1000, 1024, rdma_milli=500, arrival=float(k), duration=10.0) for k in range(3)]
    pods += [Pod("plain", 1000, 1024, arrival=0.0, duration=10.0)]

    def warnings(nodes: list[NodeSpec], trace: list[Pod]) -> list[str]:
        r = replay_time(Fleet("f", nodes), Trace("t", trace), get_placement("dra"), get_policy("kube-default"), 3)
        return r.extra["warnings"]

    bare = [NodeSpec("cpu-0", 192000, 1 << 20, 0, "L4"), NodeSpec("cpu-1", 192000, 1 << 20, 0, "L4")]
    assert warnings([dgx, *bare], pods) == [
        "warning: 3 CPU-only pod(s) ask for an RDMA NIC share, but 2 CPU node(s) of the fleet have no NICs "
        "(rdma_nics: 0): those pods can run only on the 1 node(s) with NICs"]
    with_nics = [dataclasses.replace(n, rdma_nics=2) for n in bare]
    assert warnings([dgx, *with_nics], pods) == []
    assert warnings([dgx, *bare], pods[3:]) == []
    assert warnings([dataclasses.replace(dgx, rdma_nics=0), *bare], pods) == []


def _nic_fleet_and_pods() -> tuple[Fleet, Trace]:
    dgx = builtin_fleet("dgx-h100-32").nodes[:4]
    fleet = Fleet("f", [*dgx, NodeSpec("cpu-0", 192000, 1 << 20, 0, "L4", rdma_nics=2)])
    pods = [Pod(f"g{k}", 1000, 1024, num_gpu=1 + k % 2, gpu_milli=1000, rdma_milli=500, arrival=float(k),
                duration=100.0) for k in range(24)]
    pods += [Pod(f"c{k}", 1000, 1024, rdma_milli=500, arrival=float(k), duration=100.0) for k in range(10)]
    return fleet, Trace("t", pods)


def test_the_migration_counts_nics_on_nodes_left_on_the_device_plugin() -> None:
    """``dra-extended:0`` is the device-plugin placement, NICs included: GPU nodes not converted
    and CPU nodes count NIC units as ``device-plugin`` does (before, they counted none)."""
    fleet, trace = _nic_fleet_and_pods()
    runs = {name: replay_time(fleet, trace, get_placement(name), get_policy("kube-default"), 3)
            for name in ("device-plugin", "dra-extended:0")}
    rdma = {name: {k: v for k, v in r.counters.items() if k.startswith("rdma_")} for name, r in runs.items()}
    assert rdma["dra-extended:0"] == rdma["device-plugin"]
    assert rdma["device-plugin"]["rdma_cpu_only"] == 10 and rdma["device-plugin"]["rdma_aligned"] > 0
    assert runs["dra-extended:0"].scheduled == runs["device-plugin"].scheduled == 34


def test_pods_keeping_the_extended_resource_claim_their_nic_apart() -> None:
    """On converted nodes a pod keeping ``nvidia.com/gpu`` brings two claims to the allocator: the
    scheduler's for its GPUs and its own for the NIC share, which no constraint ties to the GPUs'
    PCIe root. Every GPU and CPU-only pod gets its share, the index agrees with the allocator,
    and alignment is counted from where the NIC actually sits."""
    from simulator.placement.dra import NIC_SHARE

    fleet, trace = _nic_fleet_and_pods()
    for name in ("dra-extended", "dra-extended:0.5"):
        r = replay_time(fleet, trace, get_placement(name), get_policy("kube-default"), 3)
        c = r.counters
        assert r.scheduled == 34 and c["index_disagreements"] == 0, name
        assert c["rdma_aligned"] + c["rdma_unaligned"] == 24 and c["rdma_cpu_only"] == 10, name
    placement = get_placement("dra-extended")
    node = NodeState(0, fleet.nodes[0], 0)
    placement.setup([node], Fleet("f", [fleet.nodes[0]]), Counters())
    d = demand_for(placement, trace.pods[1])  # two whole GPUs and half a NIC
    assert len(placement.claims_for(d, None)) == 2
    b = placement.bind(node, trace.pods[1], d, tuple(placement.eligible(node, d)[:2]), 0.0)
    assert b is not None and [t[4] for t in b.detail].count(NIC_SHARE) == 1 and len(b.gpus) == 2
    assert sum(node.extra.nics.free) == 8 * 1000 - 500


@settings(max_examples=30, deadline=None)
@given(nics=st.sampled_from([1, 2, 4, 8]),
       before=st.lists(st.tuples(st.sampled_from([0, 1, 2]), st.sampled_from([0, 100, 250, 600, 1000])), max_size=10),
       probe=st.tuples(st.sampled_from([0, 1, 2]), st.sampled_from([100, 250, 600, 1000])),
       model=st.sampled_from(["dra", "dra-extended"]))
def test_the_nic_index_agrees_with_the_allocator(nics: int, before: list[tuple[int, int]],
                                                 probe: tuple[int, int], model: str) -> None:
    """``dra``: one claim, the NIC under the GPUs' root; ``dra-extended``: the extended-resource
    claim and a NIC claim of its own, any NIC."""
    placement, node = one_node(model, nics=nics)
    for k, (gpus, rdma) in enumerate(before):  # 0 GPUs: a CPU-only pod, its NIC share alone
        place(placement, node, Pod(f"b{k}", 100, 10, num_gpu=gpus, gpu_milli=1000 if gpus else 0, rdma_milli=rdma))
    gpus, rdma = probe
    d = demand_for(placement, Pod("p", 100, 10, num_gpu=gpus, gpu_milli=1000 if gpus else 0, rdma_milli=rdma))
    index_says = placement.fits(node, d)
    allocator_says = placement.allocator_for(node.extra).allocate_dicts(
        node.extra.node_obj, placement.claims_for(d, None), allocated=node.extra.state) is not None
    assert index_says == allocator_says
