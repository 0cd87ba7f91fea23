"""Per-pod failure reasons and the warning for pod classes that fit no node of the fleet."""

from __future__ import annotations

from simulator.fleet.model import Fleet, NodeSpec
from simulator.placement import get_placement
from simulator.placement.diagnose import FailureLog
from simulator.state import Counters, NodeState
from simulator.trace.model import Pod


def test_failure_reasons_tell_a_wrong_fleet_from_a_full_one() -> None:
    specs = [NodeSpec("t4-0", 32000, 1 << 18, 2, "T4"), NodeSpec("t4-1", 32000, 1 << 18, 2, "T4"),
             NodeSpec("h-0", 64000, 1 << 20, 8, "H100-SXM5-80GB")]
    nodes = [NodeState(i, s, {"T4": 15360}.get(s.model, 81559)) for i, s in enumerate(specs)]
    placement = get_placement("device-plugin")
    placement.setup(nodes, Fleet("f", specs), Counters())
    log = FailureLog(nodes)
    big = Pod("big", 1000, 100, num_gpu=16, gpu_milli=1000)
    b200 = Pod("b200", 1000, 100, num_gpu=1, gpu_milli=1000, gpu_models=("B200-180GB",))
    mem = Pod("mem", 1000, 100, num_gpu=1, gpu_milli=1000, gpu_memory_mib=40 * 1024)
    ok = Pod("ok", 1000, 100, num_gpu=1, gpu_milli=1000)
    assert log.record(big, placement.demand(big)) == "0/3 nodes fit even when empty: 3 too few GPUs"
    assert log.record(b200, placement.demand(b200)) == "0/3 nodes fit even when empty: 3 GPU model not allowed"
    assert log.record(mem, placement.demand(mem)) == "no room: 0/3 nodes had room; 1 could run it when empty"
    assert log.record(ok, placement.demand(ok)).startswith("no room")
    out = log.to_dict()
    assert out["pods"]["big"].endswith("too few GPUs") and len(out["pods"]) == 4
    assert [e["pods"] for e in out["fit_no_node"]] == [1, 1]
    warnings = log.classes_fitting_nowhere([placement.demand(p) for p in (big, big, b200, mem, ok)])
    assert warnings == [
        "warning: 1 pod(s) of class [1 GPU x 1000 milli, (B200-180GB), 1000m CPU] fit no node of the fleet "
        "(0/3 nodes fit even when empty: 3 GPU model not allowed)",
        "warning: 2 pod(s) of class [16 GPUs x 1000 milli, 1000m CPU] fit no node of the fleet "
        "(0/3 nodes fit even when empty: 3 too few GPUs)",
    ]


def test_nvlink_gang_on_pcie_pairs_is_reported() -> None:
    specs = [NodeSpec("p", 64000, 1 << 20, 8, "H100-PCIE-80GB")]
    nodes = [NodeState(0, specs[0], 81559)]
    placement = get_placement("dra")
    placement.setup(nodes, Fleet("f", specs), Counters())
    gang = Pod("g", 1000, 100, num_gpu=4, gpu_milli=1000, nvlink=True)
    log = FailureLog(nodes)
    assert log.record(gang, placement.demand(gang)).endswith("1 no NVLink domain with enough GPUs")
