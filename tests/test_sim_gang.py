"""Gangs: all-or-nothing placement with rollback, the NVL72 clique under DRA, the device plugin
that can only use node labels (gangs split across racks), and the synthetic ``gangs`` option."""

from __future__ import annotations

import pytest

from simulator.engine import build_cluster, replay_fgd, replay_time
from simulator.fleet.builtin import builtin_fleet
from simulator.fleet.model import Fleet, NodeSpec
from simulator.gang import Gangs
from simulator.placement import get_placement
from simulator.run import canonical_inputs
from simulator.scoring import get_policy
from simulator.trace.load import load_trace
from simulator.trace.model import Pod, Trace
from simulator.trace.synthetic import SyntheticMix, generate

GIB = 1024


def tray_pod(name: str, gang: str, arrival: float = 0.0, duration: float | None = 100.0, clique: bool = True,
             gpus: int = 4) -> Pod:
    return Pod(name, 48000, 384 * GIB, num_gpu=gpus, gpu_milli=1000, gpu_models=("GB200",), nvlink=True,
               arrival=arrival, duration=duration, gang=gang, clique=clique)


def racks(trays_per_rack: int, racks_n: int = 2) -> Fleet:
    return Fleet("racks", [NodeSpec(f"tray-{r}-{t}", 144000, 960 * GIB, 4, "GB200", "gb200-nvl72", f"rack-{r}")
                           for r in range(racks_n) for t in range(trays_per_rack)])


@pytest.mark.parametrize("placement", ["dra", "device-plugin"])
def test_an_8_gpu_job_runs_on_gb200_nvl72_as_a_gang(placement: str) -> None:
    """Issue 13: on gb200-nvl72-x2 every 8-GPU job stayed pending forever (a tray has 4 GPUs)."""
    fleet, trace = canonical_inputs(builtin_fleet("gb200-nvl72-x2"),
                                    Trace("t", [tray_pod("j-0", "j"), tray_pod("j-1", "j")]))
    r = replay_time(fleet, trace, get_placement(placement), get_policy("bestfit"), 1)
    assert r.scheduled == 2 and r.pending == 0
    assert r.extra["gangs"]["placed"] == 1
    if placement == "dra":  # the device plugin may split it over both racks (it has no clique)
        assert r.extra["gangs"]["split_across_cliques"] == 0


def test_all_or_nothing_rolls_back_and_waits_for_room() -> None:
    fleet = racks(2, racks_n=1)  # 8 GPUs
    pods = [tray_pod("a", "", duration=50.0, clique=False, gpus=4)]  # holds one tray until t=50
    pods += [tray_pod(f"g-{i}", "g", arrival=10.0) for i in range(2)]  # needs both trays
    fleet, trace = canonical_inputs(fleet, Trace("t", pods))
    placement = get_placement("dra")
    cluster, _ = build_cluster(fleet, trace, placement, get_policy("bestfit"), 1)
    gangs = Gangs(cluster, trace, honor_clique=True)
    first = cluster.schedule(trace.pods[0], placement.demand(trace.pods[0]), 0.0)
    members = [(p, placement.demand(p)) for p in trace.pods[1:]]
    before = ([n.gpu_free[:] for n in cluster.nodes], cluster.used_milli)
    assert gangs.place(members, 10.0) is None  # one member would fit; the gang does not
    assert ([n.gpu_free[:] for n in cluster.nodes], cluster.used_milli) == before  # nothing left bound
    cluster.release(first)
    assert gangs.place(members, 50.0) is not None and cluster.used_milli == 8000
    # and in the replay: the gang waits for the departure at t=50, then starts whole
    r = replay_time(fleet, trace, get_placement("dra"), get_policy("bestfit"), 1)
    assert r.scheduled == 3 and r.extra["gangs"]["placed"] == 1
    assert r.extra["queueing_delay_s"]["max"] == 40.0 and r.extra["gangs"]["wait_max_s"] == 40.0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_dra_keeps_a_gang_on_one_clique_the_device_plugin_splits_it(seed: int) -> None:
    """Each rack has 2 of its 3 trays busy: 8 free GPUs in all but 4 per rack. DRA (claims on
    one clique) keeps the 8-GPU job pending; the device plugin, with only node labels, places
    it across both racks -- its pods then have no NVLink between them."""
    busy = [Pod(f"busy-{i}", 1000, GIB, num_gpu=4, gpu_milli=1000) for i in range(4)]
    gang = [tray_pod(f"job-{i}", "job") for i in range(2)]
    fleet, trace = canonical_inputs(racks(3), Trace("t", busy + gang))
    outcome = {}
    for name in ("dra", "device-plugin"):
        placement = get_placement(name)
        cluster, _ = build_cluster(fleet, trace, placement, get_policy("bestfit"), seed)
        for pod, node in zip(busy, (0, 1, 3, 4)):  # trays 0,1 of rack 0 and 3,4 of rack 1
            assert cluster.schedule(pod, placement.demand(pod), 0.0, only={node}) is not None
        gangs = Gangs(cluster, trace, honor_clique=name == "dra")
        bound = gangs.place([(p, placement.demand(p)) for p in gang], 1.0)
        outcome[name] = (bound is not None, gangs.stats.split_across_cliques)
    assert outcome == {"dra": (False, 0), "device-plugin": (True, 1)}


def test_time_replay_counts_split_gangs_as_topology_violations() -> None:
    fleet, trace = canonical_inputs(builtin_fleet("gb200-nvl72-x2"), load_trace("synthetic:150:42:gangs=1"))
    dra = replay_time(fleet, trace, get_placement("dra"), get_policy("bestfit"), 42)
    dp = replay_time(fleet, trace, get_placement("device-plugin"), get_policy("bestfit"), 42)
    assert dra.extra["gangs"]["placed"] >= 1 and dra.extra["gangs"]["split_across_cliques"] == 0
    assert dp.extra["gangs"]["split_across_cliques"] >= 1
    assert dp.counters["topology_violations"] >= dp.extra["gangs"]["split_across_cliques"]


def test_fgd_method_places_a_gang_as_a_unit() -> None:
    fleet, trace = canonical_inputs(racks(18, 2), load_trace("synthetic:120:5:gangs=1"))
    r = replay_fgd(fleet, trace, get_placement("dra"), get_policy("bestfit"), 5)
    g = r.extra["gangs"]
    assert g["placed"] >= 1 and g["split_across_cliques"] == 0


def test_synthetic_gangs_option() -> None:
    plain = generate(300, 42)
    assert not any(p.gang for p in plain.pods)
    assert plain.pods == generate(300, 42, SyntheticMix(gangs=0.0)).pods  # default traces unchanged
    trace = generate(300, 42, SyntheticMix(gangs=1.0))
    sizes = trace.gang_sizes()
    assert sizes and set(sizes.values()) <= {2, 4, 8, 18}
    for gang, n in sizes.items():
        members = [p for p in trace.pods if p.gang == gang]
        assert len({p.arrival for p in members}) == 1 and all(p.clique and p.num_gpu == 4 for p in members)
        if n > 2:
            assert all(p.gpu_models == ("GB200",) for p in members)
    with pytest.raises(Exception, match="gangs must be a number between 0 and 1"):
        load_trace("synthetic:10:1:gangs=2")


def test_the_clique_is_a_match_attribute_in_the_claims_and_the_allocator_enforces_it() -> None:
    """Issue 13: the clique was kept by the simulator choosing one rack's nodes; now each
    member's claim says it (``matchAttribute: gpu.nvidia.com/cliqueId`` plus the gang's clique
    as a selector, the attribute the driver publishes on fabric GPUs), so a member bound to a
    tray of another rack is refused by the allocator itself."""
    from dra.gpu.builtin import nvl72_fabric

    fleet, trace = canonical_inputs(racks(2), Trace("t", [tray_pod("j-0", "j"), tray_pod("j-1", "j")]))
    placement = get_placement("dra")
    cluster, _ = build_cluster(fleet, trace, placement, get_policy("bestfit"), 1)
    gangs = Gangs(cluster, trace, honor_clique=True)
    members = [(p, placement.demand(p)) for p in trace.pods]
    bindings = gangs.place(members, 0.0)
    assert bindings is not None
    rack = {cluster.nodes[b.node].spec.nvlink_domain for b in bindings}
    assert len(rack) == 1
    fabric = nvl72_fabric(rack.pop())
    clique = f"{fabric.cluster_uuid}.{fabric.clique_id}"
    d = gangs.clique_demand(members[0][1], clique)
    devices = placement.claim_dict(d)["spec"]["devices"]
    assert {"requests": ["gpu"], "matchAttribute": "gpu.nvidia.com/cliqueId"} in devices["constraints"]
    exprs = [s["cel"]["expression"] for s in devices["requests"][0]["exactly"]["selectors"]]
    assert f"device.attributes['gpu.nvidia.com'].cliqueId == '{clique}'" in exprs
    # what was bound went through such claims: the allocator was asked with the clique
    assert any(clique in key for key in placement._claims)
    # the allocator refuses a member of this gang on a tray of the other rack
    other = next(n for n in cluster.nodes if n.spec.nvlink_domain != cluster.nodes[bindings[0].node].spec.nvlink_domain)
    assert placement.bind(other, members[0][0], d, tuple(range(4)), 0.0) is None
