"""DRA shared mode publishes partitionable MIG devices next to the shared GPU (issue 13).

Before, the shared mode published no MIG device on these fleets, so the claim's
``firstAvailable`` MIG branch never matched and a MIG-profile pod became an MPS share of the
profile's size: no hardware partition, and pods sharing a GPU under MPS counted as such.
Now the GPU's counter set (the driver's dynamic-MIG counters) is consumed by the shared GPU
and by every partition, so the allocator itself keeps MIG and sharing apart on one GPU.
"""

from __future__ import annotations

from dra.api.validation import validate
from dra.gpu.builtin import build_node
from simulator.fleet.model import Fleet, NodeSpec
from simulator.placement import get_placement
from simulator.placement.dra_mig import build_shared_mig_slices
from simulator.state import Counters, NodeState
from simulator.trace.model import Pod

H100 = "H100-SXM5-80GB"


def one_node(gpus: int = 1, model: str = H100, version: str = "1.37", gates: dict | None = None):  # noqa: ANN201
    spec = NodeSpec("n", 64000, 1 << 20, gpus, model)
    node = NodeState(0, spec, 0)
    placement = get_placement("dra", kubernetes_version=version, feature_gates=gates or {})
    placement.setup([node], Fleet("f", [spec]), Counters())
    return placement, node


def place(placement, node: NodeState, pod: Pod):  # noqa: ANN001, ANN201
    d = placement.demand(pod)
    gpus = placement.eligible(node, d)
    if len(gpus) < d.count:
        return None
    return placement.bind(node, pod, d, tuple(gpus[: d.count]), 0.0)


def mig(name: str, profile: str = "1g.10gb") -> Pod:
    k = int(profile[0])
    return Pod(name, 100, 10, num_gpu=1, gpu_milli=-(-k * 1000 // 7), gpu_memory_mib=10240, mig_profile=profile)


def share(name: str, milli: int = 500) -> Pod:
    return Pod(name, 100, 10, num_gpu=1, gpu_milli=milli)


def devices_of(binding) -> list[str]:  # noqa: ANN001
    return [t[1] for t in binding.detail]


def test_mig_pods_get_mig_partitions_and_count_as_guaranteed() -> None:
    placement, node = one_node()
    bindings = [place(placement, node, mig(f"m{k}")) for k in range(7)]
    assert all(b is not None for b in bindings)
    names = [n for b in bindings for n in devices_of(b)]
    assert all("-mig-1g10gb-" in n for n in names) and len(set(names)) == 7
    assert place(placement, node, mig("m7")) is None  # seven 1g slices fill an H100
    assert placement.isolation.summary() == {"guaranteed": 7, "shared-mps": 0, "shared-unlimited": 0}
    assert placement.accounting()["mig_partition_pods"] == 7


def test_a_partitioned_gpu_takes_no_share_and_a_shared_gpu_no_partition() -> None:
    placement, node = one_node()
    assert place(placement, node, mig("m0")) is not None
    assert placement.eligible(node, placement.demand(share("s0"))) == []
    # the allocator agrees: the shared GPU's counters are held by the partition
    d = placement.demand(share("s0"))
    claim = placement.claim_for(d, None)
    assert placement.allocator_for(node.extra).allocate_dicts(
        node.extra.node_obj, [claim], allocated=node.extra.state) is None

    placement, node = one_node()
    assert place(placement, node, share("s0")) is not None
    b = place(placement, node, mig("m0"))  # no partition left: the MPS share of the same size
    assert b is not None and devices_of(b) == ["gpu-0"]
    assert placement.isolation.summary() == {"guaranteed": 0, "shared-mps": 2, "shared-unlimited": 0}
    assert placement.accounting()["mig_partition_pods"] == 0


def test_releasing_the_partitions_gives_the_gpu_back_whole() -> None:
    placement, node = one_node()
    b = place(placement, node, mig("m0", "3g.40gb"))
    assert b is not None and "-mig-3g40gb-" in devices_of(b)[0]
    assert place(placement, node, Pod("w", 100, 10, num_gpu=1, gpu_milli=1000)) is None
    placement.release(node, b)
    assert node.gpu_free == [1000]
    assert place(placement, node, Pod("w", 100, 10, num_gpu=1, gpu_milli=1000)) is not None


def test_ampere_and_old_versions_keep_the_plain_shared_gpu() -> None:
    # A100: MIG mode cannot be switched without a reset, so no partitions beside the full GPU.
    placement, node = one_node(model="A100-SXM4-80GB")
    b = place(placement, node, mig("m0"))
    assert b is not None and devices_of(b) == ["gpu-0"]


def test_published_slices_are_valid_and_place_mig_pods_on_every_version() -> None:
    inv = build_node(H100, 8, "n")
    for version in ("1.34", "1.35", "1.36", "1.37"):
        slices = build_shared_mig_slices(inv, version)
        names = {d.name for s in slices for d in (s.spec.devices or [])}
        assert "gpu-7" in names and any("-mig-7g80gb-" in n for n in names)
        for s in slices:
            assert validate(s, k8s_version=version) == [], version
        spec = NodeSpec("n", 64000, 1 << 20, 8, H100)
        node = NodeState(0, spec, 0)
        placement = get_placement("dra", kubernetes_version=version, feature_gates={
            "DRAConsumableCapacity": True, "DRAPartitionableDevices": True})
        placement.setup([node], Fleet("f", [spec]), Counters())
        b = place(placement, node, mig("m", "2g.20gb"))
        assert b is not None and "-mig-2g20gb-" in devices_of(b)[0], version


def test_a_mig_pod_takes_a_free_partition_on_the_node_before_a_share() -> None:
    """The claim's firstAvailable order holds over the node's devices: with a partition free
    on one GPU, the policy is not offered the GPU where only the share would fit."""
    placement, node = one_node(gpus=2)
    assert place(placement, node, share("s0")) is not None  # GPU 0 is now shared
    d = placement.demand(mig("m0"))
    assert placement.eligible(node, d) == [1]
    b = place(placement, node, mig("m0"))
    assert b is not None and devices_of(b)[0].startswith("gpu-1-mig-1g10gb-")


def test_claim_score_follows_kube_schedulers_dynamic_resources_plugin() -> None:
    """1.35+: the firstAvailable alternative taken scores 8 - index, normalised x100/8 and
    weighted 2 (a free partition 200, only the share 174); 1.34 has no such score."""
    placement, node = one_node()
    d = placement.demand(mig("m"))
    assert placement.claim_score(node, d) == 200  # a partition of its profile can be made
    assert place(placement, node, share("s0")) is not None
    assert placement.claim_score(node, d) == 2 * (100 * 7 // 8)  # only the share fits now
    assert placement.claim_score(node, placement.demand(share("s1"))) == 0  # no alternatives
    old, old_node = one_node(version="1.34", gates={"DRAConsumableCapacity": True})
    assert old.claim_score(old_node, old.demand(mig("m"))) == 0


def test_kube_default_sends_a_mig_pod_where_its_partition_is_free() -> None:
    """Two H100 nodes; the emptier one (LeastAllocated's favourite, by 12 points) holds a share on its only
    GPU, so a MIG pod would get a share there. kube-scheduler 1.35+ scores the claim's first
    alternative higher, so the pod goes to the busier node and gets a partition; on 1.34
    LeastAllocated wins and it gets a share."""
    from simulator.run import RunOptions, run_one
    from simulator.trace.model import Trace

    fleet = Fleet("two", [NodeSpec("busy", 64000, 1 << 20, 1, H100), NodeSpec("idle", 64000, 1 << 20, 1, H100)])
    pods = [Pod("cpu-hog", 8000, 10, arrival=0.0, duration=100.0),  # one node gets busier (LeastAllocated: 186 vs 198)
            Pod("s0", 100, 10, num_gpu=1, gpu_milli=500, arrival=1.0, duration=100.0),
            Pod("m0", 100, 10, num_gpu=1, gpu_milli=143, gpu_memory_mib=10240, mig_profile="1g.10gb",
                arrival=2.0, duration=100.0)]
    results = {}
    gates = (("DRAConsumableCapacity", True),)  # shared GPUs on 1.34 (beta and on from 1.36)
    for version in ("1.34", "1.37"):
        r = run_one(fleet, Trace("t", pods), "dra", "kube-default", 42,
                    RunOptions(method="time", kubernetes_version=version, feature_gates=gates))
        results[version] = r.counters["mig_partition_pods"]
    assert results == {"1.34": 0, "1.37": 1}
