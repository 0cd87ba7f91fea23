"""The scheduler filters a group of nodes once: nodes whose ``node_key`` is equal must get the
same filter answer for every demand. Under DRA the key is canonical (sorted per-GPU state), so
nodes holding the same things on other GPUs share a key -- which is only right while no
version's allocator tells those GPUs apart. Each case runs one pod sequence on two nodes of
one shape, binding on the first eligible GPUs of one node and the last of the other, and,
whenever their keys are equal, compares the filter for a set of probe demands (shares, whole
GPUs, MIG profiles), in every version 1.34-1.37 with the sharing and partition gates on."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.fleet.model import Fleet, NodeSpec
from simulator.placement import get_placement
from simulator.state import Counters, NodeState
from simulator.trace.model import Pod

GATES = {"DRAConsumableCapacity": True, "DRAPartitionableDevices": True}


def _pod(name: str, kind: tuple) -> Pod:
    count, milli, mem, mig = kind
    return Pod(name, 100, 100, num_gpu=count, gpu_milli=milli, gpu_memory_mib=mem, mig_profile=mig)


KINDS = [(1, 250, 0, None), (1, 500, 0, None), (1, 500, 20_000, None), (1, 1000, 0, None), (2, 1000, 0, None),
         (1, 1000 // 7 + 1, 0, "1g.10gb"), (1, 3000 // 7 + 1, 0, "3g.40gb")]
PROBES = [_pod(f"probe{i}", k) for i, k in enumerate(KINDS)]


@settings(max_examples=40, deadline=None)
@given(version=st.sampled_from(["1.34", "1.35", "1.36", "1.37"]), gpus=st.sampled_from([2, 4]),
       pods=st.lists(st.sampled_from(KINDS), min_size=1, max_size=6))
def test_nodes_with_equal_keys_get_equal_filter_answers(version: str, gpus: int, pods: list[tuple]) -> None:
    place = get_placement("dra", kubernetes_version=version, feature_gates=GATES)
    spec = NodeSpec("n", 64000, 1 << 20, gpus, "H100-SXM5-80GB")
    a, b = NodeState(0, spec, 81559), NodeState(1, spec, 81559)
    place.setup([a, b], Fleet("f", [spec, spec]), Counters())
    compared = 0
    for k, kind in enumerate(pods):
        pod = _pod(f"p{k}", kind)
        d = place.demand(pod)
        for node, pick in ((a, lambda e, n: e[:n]), (b, lambda e, n: e[-n:])):
            eligible = place.eligible(node, d)
            if len(eligible) >= d.count:
                assert place.bind(node, pod, d, tuple(sorted(pick(eligible, d.count))), 0.0) is not None
        if place.node_key(a) == place.node_key(b):
            for probe in PROBES:
                pd = place.demand(probe)
                assert place.fits(a, pd) == place.fits(b, pd), (version, a.gpu_free, b.gpu_free, probe)
            compared += 1
