"""Placement models against brute-force oracles on small nodes (issue 13).

Each test replays a random sequence of pods on one small node through a placement model
(``eligible`` then ``bind``, as the scheduler does) and checks every accept/refuse against an
oracle written from first principles, not from the model's code:

- integer device plugin: a pod fits iff enough GPUs are untouched;
- DRA with MIG-profile pods on one H100: a pod fits iff a placement of its profile
  (memory-slice ranges from the catalog's MIG table) overlaps none taken so far, and takes
  the first such in published order; what is accepted is a valid MIG layout (exhaustive
  search);
- DRA with fractional pods: a pod fits iff some GPU not held whole has compute and memory
  left for it (sums over the pods placed there).
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from dra.gpu.catalog import find_model
from simulator.fleet.model import Fleet, NodeSpec
from simulator.placement import get_placement
from simulator.state import Counters, NodeState
from simulator.trace.model import Pod

H100 = "H100-SXM5-80GB"
TABLE = {p.name: p for p in find_model(H100).mig_profiles}


def node_for(name: str, gpus: int, model: str = H100):  # noqa: ANN201
    spec = NodeSpec("n", 512000, 1 << 22, gpus, model)
    node = NodeState(0, spec, find_model(model).memory_mib)
    placement = get_placement(name)
    placement.setup([node], Fleet("f", [spec]), Counters())
    return placement, node


def try_place(placement, node: NodeState, pod: Pod) -> bool:  # noqa: ANN001
    d = placement.demand(pod)
    gpus = placement.eligible(node, d)
    if len(gpus) < d.count:
        return False
    return placement.bind(node, pod, d, tuple(gpus[: d.count]), 0.0) is not None


def mig_geometry_ok(profiles: list[str]) -> bool:
    """Exhaustive: some choice of placements, pairwise disjoint, compute within 7 slices."""
    if sum(TABLE[p].compute_slices for p in profiles) > 7:
        return False
    options = [[set(range(pl.start, pl.start + pl.size)) for pl in TABLE[p].placements] for p in profiles]
    for choice in itertools.product(*options):
        used: set[int] = set()
        for slots in choice:
            if used & slots:
                break
            used |= slots
        else:
            return True
    return False


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(TABLE)), min_size=1, max_size=9))
def test_dra_mig_pods_follow_the_mig_geometry(profiles: list[str]) -> None:
    """MIG pods on one H100 get real partitions: a pod fits iff some placement of its profile
    overlaps none of the partitions taken so far (memory slices from the catalog's MIG table),
    and it gets the first such placement in the order the driver publishes them (the
    allocator's first fit; a GPU instance does not move once created)."""
    placement, node = node_for("dra", 1)
    taken: set[int] = set()
    accepted: list[str] = []
    for i, profile in enumerate(profiles):
        k = TABLE[profile].compute_slices
        gib = int(profile.split(".")[1].removesuffix("gb"))
        pod = Pod(f"p{i}", 100, 10, num_gpu=1, gpu_milli=-(-k * 1000 // 7) if k < 7 else 1000,
                  gpu_memory_mib=gib * 1024, mig_profile=profile)
        free = [pl for pl in TABLE[profile].placements if taken.isdisjoint(pl.slices)]
        d = placement.demand(pod)
        gpus = placement.eligible(node, d)
        binding = placement.bind(node, pod, d, tuple(gpus[:1]), 0.0) if gpus else None
        assert (binding is not None) == bool(free), (profiles[:i], profile, sorted(taken))
        if free:
            ((_, device, *_),) = binding.detail
            start = free[0].start
            if k == 7:  # a whole GPU's worth is claimed as the whole GPU (exclusive, same thing)
                assert device == "gpu-0"
            else:
                assert device == f"gpu-0-mig-{profile.replace('.', '')}-{TABLE[profile].gi_profile_id}-{start}"
            taken |= set(free[0].slices)
            accepted.append(profile)
    assert mig_geometry_ok(accepted)  # what was accepted is a valid MIG layout


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([100, 250, 300, 500, 700, 1000]), st.sampled_from([1, 2]),
                          st.sampled_from([0, 10 * 1024, 30 * 1024])), min_size=1, max_size=10))
def test_dra_shares_against_sums_per_gpu(pods: list[tuple[int, int, int]]) -> None:
    placement, node = node_for("dra", 2)
    total = find_model(H100).memory_mib
    compute = [0, 0]
    memory = [0, 0]
    whole = [False, False]
    for i, (milli, count, mem) in enumerate(pods):
        count = count if milli == 1000 else 1
        pod = Pod(f"p{i}", 100, 10, num_gpu=count, gpu_milli=milli, gpu_memory_mib=mem)
        if milli == 1000:
            free = [g for g in range(2) if not whole[g] and compute[g] == 0 and memory[g] == 0]
            expected = len(free) >= count
        else:
            free = [g for g in range(2) if not whole[g] and compute[g] + milli <= 1000 and memory[g] + mem <= total]
            expected = bool(free)
        placed = try_place(placement, node, pod)
        assert placed == expected, (pods[: i + 1], compute, memory, whole)
        if placed:
            used = [1000 - f for f in node.gpu_free]
            for g in range(2):
                if milli == 1000 and used[g] == 1000 and compute[g] == 0 and not whole[g] and count:
                    whole[g] = True
                    count -= 1
            if milli < 1000:
                g = next(g for g in range(2) if used[g] != compute[g] and not whole[g])
                compute[g] += milli
                memory[g] += mem


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([300, 1000]), st.sampled_from([1, 2, 4])), min_size=1, max_size=8))
def test_integer_device_plugin_against_untouched_gpus(pods: list[tuple[int, int]]) -> None:
    placement, node = node_for("device-plugin", 4)
    untouched = 4
    for i, (milli, count) in enumerate(pods):
        count = count if milli == 1000 else 1
        pod = Pod(f"p{i}", 100, 10, num_gpu=count, gpu_milli=milli)
        expected = untouched >= count
        assert try_place(placement, node, pod) == expected
        if expected:
            untouched -= count


# -- the DRA feasibility index against the allocator, on real node shapes -------------------

SHAPES = [
    NodeSpec("sxm", 224000, 1 << 21, 8, H100),  # NVSwitch: one NVLink domain
    NodeSpec("pcie", 128000, 1 << 20, 8, "H100-PCIE-80GB"),  # NVLink bridges between pairs
    NodeSpec("dgx", 224000, 1 << 21, 8, H100, profile="dgx-h100"),
    NodeSpec("nvl", 144000, 1 << 20, 4, "GB200", nvlink_domain="rack-0"),
]

real_pod = st.one_of(
    st.builds(lambda m, mem: Pod("s", 100, 10, num_gpu=1, gpu_milli=m, gpu_memory_mib=mem),
              st.sampled_from([100, 250, 500, 750]), st.sampled_from([0, 10 * 1024, 40 * 1024])),
    st.builds(lambda prof: Pod("m", 100, 10, num_gpu=1, gpu_milli=143, mig_profile=prof),
              st.sampled_from(["1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "1g.23gb"])),
    st.builds(lambda n, nv: Pod("w", 100, 10, num_gpu=n, gpu_milli=1000, nvlink=nv),
              st.sampled_from([1, 2, 4, 8]), st.booleans()),
)


@settings(max_examples=40, deadline=None)
@given(shape=st.sampled_from(SHAPES), before=st.lists(real_pod, max_size=10), probe=real_pod)
def test_index_agrees_with_the_allocator_on_real_shapes(shape: NodeSpec, before: list[Pod], probe: Pod) -> None:
    from simulator.placement.dra import DraPlacement

    node = NodeState(0, shape, 0)
    placement = DraPlacement(mode="shared")
    placement.setup([node], Fleet("f", [shape]), Counters())
    for k, pod in enumerate(before):
        pod = Pod(f"b{k}", pod.cpu_milli, pod.memory_mib, pod.num_gpu, pod.gpu_milli, pod.gpu_models,
                  pod.gpu_memory_mib, pod.mig_profile, pod.nvlink)
        d = placement.demand(pod)
        eligible = placement.eligible(node, d)
        if len(eligible) >= d.count:
            assert placement.bind(node, pod, d, tuple(eligible[: d.count]), 0.0) is not None
    d = placement.demand(probe)
    index_says = len(placement.eligible(node, d)) >= d.count
    allocator = placement.allocator_for(node.extra)
    claim = placement.claim_for(d, None)  # no pinning: the allocator's own search
    allocator_says = allocator.allocate_dicts(node.extra.node_obj, [claim], allocated=node.extra.state) is not None
    assert index_says == allocator_says
