"""The scheduler filters a group of nodes once, and shares the GPU filter's answer between groups
whose GPU keys are equal: nodes whose ``gpu_key`` is equal must get the same filter answer for
every demand. Under DRA the key is canonical (sorted per-GPU state), so
nodes holding the same things on other GPUs share a key -- which is only right while no
version's allocator tells those GPUs apart. Each case runs one pod sequence on two nodes of
one shape, binding on the first eligible GPUs of one node and the middle ones of the other, and,
whenever their keys are equal, compares the filter for a set of probe demands (shares, whole
GPUs, NVLink pairs, MIG profiles, RDMA NIC shares), in every version 1.34-1.37 with the sharing and partition gates on."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.engine import demand_for
from simulator.fleet.model import Fleet, NodeSpec
from simulator.placement import get_placement
from simulator.state import Counters, NodeState
from simulator.trace.model import Pod

GATES = {"DRAConsumableCapacity": True, "DRAPartitionableDevices": True}


def _pod(name: str, kind: tuple) -> Pod:
    count, milli, mem, mig, nvlink, rdma = kind
    return Pod(name, 100, 100, num_gpu=count, gpu_milli=milli, gpu_memory_mib=mem, mig_profile=mig, nvlink=nvlink,
               rdma_milli=rdma)


KINDS = [(1, 250, 0, None, False, 0), (1, 500, 0, None, False, 0), (1, 500, 20_000, None, False, 0),
         (1, 1000, 0, None, False, 0), (2, 1000, 0, None, False, 0), (2, 1000, 0, None, True, 0),
         (1, 1000 // 7 + 1, 0, "1g.10gb", False, 0), (1, 3000 // 7 + 1, 0, "3g.40gb", False, 0),
         (1, 1000, 0, None, False, 600), (1, 500, 0, None, False, 600)]
# NVLink over an NVSwitch (every GPU with every other) and in bridged pairs (0-1, 2-3)
MODELS = ["H100-SXM5-80GB", "H100-PCIE-80GB"]
PROBES = [_pod(f"probe{i}", k) for i, k in enumerate(KINDS)]


@settings(max_examples=40, deadline=None)
@given(version=st.sampled_from(["1.34", "1.35", "1.36", "1.37"]), gpus=st.sampled_from([2, 4]),
       model=st.sampled_from(MODELS), nics=st.sampled_from([0, 2]),
       pods=st.lists(st.sampled_from(KINDS), min_size=1, max_size=6))
def test_nodes_with_equal_keys_get_equal_filter_answers(version: str, gpus: int, model: str, nics: int,
                                                        pods: list[tuple]) -> None:
    place = get_placement("dra", kubernetes_version=version, feature_gates=GATES)
    spec = NodeSpec("n", 64000, 1 << 20, gpus, model, rdma_nics=nics)  # NICs under some GPUs' PCIe roots
    a, b = NodeState(0, spec, 81559), NodeState(1, spec, 81559)
    place.setup([a, b], Fleet("f", [spec, spec]), Counters())
    compared = 0
    for k, kind in enumerate(pods):
        pod = _pod(f"p{k}", kind)
        d = demand_for(place, pod)
        for node, pick in ((a, lambda e, n: e[:n]), (b, lambda e, n: e[len(e) // 2:][:n] if len(e) // 2 + n <= len(e) else e[-n:])):
            eligible = place.eligible(node, d)
            if len(eligible) >= d.count:
                assert place.bind(node, pod, d, tuple(sorted(pick(eligible, d.count))), 0.0) is not None
        if place.gpu_key(a) == place.gpu_key(b):
            for probe in PROBES:
                pd = demand_for(place, probe)
                assert place.fits(a, pd) == place.fits(b, pd), (version, a.gpu_free, b.gpu_free, probe)
            compared += 1


def test_which_gpu_is_free_beside_a_partly_taken_nic_is_in_the_key() -> None:
    """Two nodes, each with a NIC share taken beside one GPU and two more GPUs taken whole: one
    keeps a GPU free under the partly taken NIC, the other under an untouched one. A pod that
    needs more of a NIC than the first has left fits only the second, so they may not share
    a key (the sorted GPU state and the NICs' free shares alone are equal)."""
    place = get_placement("dra", feature_gates=GATES)
    spec = NodeSpec("n", 64000, 1 << 20, 4, "H100-SXM5-80GB", rdma_nics=2)
    a, b = NodeState(0, spec, 81559), NodeState(1, spec, 81559)
    place.setup([a, b], Fleet("f", [spec, spec]), Counters())
    of_gpu = a.extra.nics.of_gpu
    first = next(g for g in range(4) if of_gpu[g])
    same = [g for g in range(4) if g != first and of_gpu[g] == of_gpu[first]]
    other = [g for g in range(4) if of_gpu[g] and of_gpu[g] != of_gpu[first]]
    assert same and other, of_gpu  # two NICs, each under two GPUs
    nic_pod = _pod("r", (1, 1000, 0, None, False, 600))
    whole = _pod("w", (1, 1000, 0, None, False, 0))
    for node, keep in ((a, same[0]), (b, other[0])):
        assert place.bind(node, nic_pod, demand_for(place, nic_pod), (first,), 0.0) is not None
        for g in range(4):
            if g not in (first, keep):
                assert place.bind(node, whole, demand_for(place, whole), (g,), 0.0) is not None
    probe = demand_for(place, _pod("p", (1, 1000, 0, None, False, 600)))
    assert not place.fits(a, probe) and place.fits(b, probe)
    assert place.gpu_key(a) != place.gpu_key(b)
