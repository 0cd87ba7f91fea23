"""The slice builder: modes, attribute names, counters, splitting, generations, errors."""

from __future__ import annotations

import itertools

import pytest

from dra.api import DeviceTaint, Quantity, ResourceSlice
from dra.gpu import builtin
from dra.gpu.inventory import NodeInventory
from dra.slices import DRIVER_NAME, build_slices
from dra.slices.builder import PoolGenerations, SliceBuildError, next_generation, with_generation
from dra.slices.layout import SliceLimitError

NVIDIA_GPU_KEYS = {
    "type", "uuid", "productName", "brand", "architecture", "cudaComputeCapability", "driverVersion",
    "cudaDriverVersion", "resource.kubernetes.io/pciBusID", "resource.kubernetes.io/pcieRoot",
    "resource.kubernetes.io/numaNode",
}
OUR_KEYS = {"index", "minor", "nvlinkDomain"}


def devices_of(slices: list[ResourceSlice]) -> list:
    return [d for s in slices for d in (s.spec.devices or [])]


def counter_sets_of(slices: list[ResourceSlice]) -> list:
    return [c for s in slices for c in (s.spec.shared_counters or [])]


def attr(device, key):  # noqa: ANN001, ANN201
    return device.attributes[key].value


# --------------------------------------------------------------------------------------


def test_whole_gpus_carry_nvidia_attribute_names_plus_ours() -> None:
    inv = builtin.load_profile("dgx-h100", "node-a")
    slices = build_slices(inv, mode="whole")
    assert len(slices) == 1
    s = slices[0]
    assert s.spec.driver == DRIVER_NAME == "gpu.nvidia.com"
    assert s.spec.node_name == "node-a" and s.spec.pool.name == "node-a"
    assert s.spec.pool.generation == 1 and s.spec.pool.resource_slice_count == 1
    devices = s.spec.devices
    assert [d.name for d in devices] == [f"gpu-{i}" for i in range(8)]
    d = devices[3]
    assert set(d.attributes) == NVIDIA_GPU_KEYS | OUR_KEYS
    assert attr(d, "type") == "gpu" and attr(d, "productName") == "NVIDIA H100 80GB HBM3"
    assert d.attributes["cudaComputeCapability"].version == "9.0.0"
    assert d.attributes["driverVersion"].version == "580.95.5"  # semver: no leading zero
    assert d.attributes["cudaDriverVersion"].version == "13.0.0"
    assert d.attributes["index"].int_ == 3 and d.attributes["minor"].int_ == 3
    assert attr(d, "nvlinkDomain") == "node-a-nvl0"
    assert d.capacity["memory"].value == Quantity("81559Mi")
    assert d.capacity["multiprocessors"].value == Quantity("132")
    assert not d.consumes_counters and not d.allow_multiple_allocations


def test_fabric_gpus_publish_clique_id() -> None:
    rack = builtin.gb200_nvl72_rack("r1", nodes=2)
    d0 = build_slices(rack[0])[0].spec.devices[0]
    d1 = build_slices(rack[1])[0].spec.devices[3]
    assert attr(d0, "cliqueId") == attr(d1, "cliqueId") == attr(d0, "nvlinkDomain")
    assert "." in attr(d0, "cliqueId")


def test_static_mig_announces_existing_mig_devices_only() -> None:
    inv = builtin.load_profile("dgx-h100-mig", "n")
    devices = devices_of(build_slices(inv, mode="static-mig"))
    assert all(attr(d, "type") == "mig" for d in devices)
    assert len(devices) == 8 * 4
    gpu0 = inv.gpus[0]
    mine = [d for d in devices if attr(d, "parentUUID") == gpu0.uuid]
    assert sorted(d.name for d in mine) == sorted([
        "gpu-0-mig-2g20gb-14-0", "gpu-0-mig-1g10gb-19-2", "gpu-0-mig-1g10gb-19-3", "gpu-0-mig-3g40gb-9-4"])
    d = next(d for d in mine if d.name == "gpu-0-mig-3g40gb-9-4")
    assert attr(d, "profile") == "3g.40gb" and attr(d, "uuid").startswith("MIG-")
    assert set(d.capacity) == {"memory", "multiprocessors", "copyEngines", "decoders", "encoders",
                               "jpegEngines", "ofaEngines"}
    # A GPU with MIG off is still a whole GPU in this mode.
    plain = devices_of(build_slices(builtin.load_profile("dgx-h100", "n"), mode="static-mig"))
    assert {attr(d, "type") for d in plain} == {"gpu"}


def _h100_dynamic(version: str) -> list[ResourceSlice]:
    return build_slices(builtin.load_profile("dgx-h100", "n"), mode="dynamic-mig", k8s_version=version)


def test_dynamic_mig_devices_and_counter_sets() -> None:
    slices = _h100_dynamic("1.35")
    devices = devices_of(slices)
    assert len(devices) == 8 * (1 + 7 + 4 + 3 + 2 + 1 + 1)
    sets = counter_sets_of(slices)
    assert [c.name for c in sets] == [f"gpu-{i}-counter-set" for i in range(8)]
    counters = sets[0].counters
    assert {f"memory-slice-{i}" for i in range(8)} <= set(counters)
    assert {"multiprocessors", "memory", "copy-engines", "decoders", "jpeg-engines", "ofa-engines"} <= set(counters)
    assert "encoders" not in counters  # H100 has no encoder in MIG: zero counters are left out
    full = next(d for d in devices if d.name == "gpu-0")
    (use,) = full.consumes_counters
    assert use.counter_set == "gpu-0-counter-set" and dict(use.counters) == dict(counters)
    mig = next(d for d in devices if d.name == "gpu-0-mig-3g40gb-9-4")
    (use,) = mig.consumes_counters
    assert {k for k in use.counters if k.startswith("memory-slice")} == {f"memory-slice-{i}" for i in (4, 5, 6, 7)}
    assert "uuid" not in mig.attributes and attr(mig, "parentUUID") == full.attributes["uuid"].value


def test_dynamic_mig_slice_layout_per_version() -> None:
    v135 = _h100_dynamic("1.35")
    # 1.35: counter sets alone in the first slice; device slices <= 64 devices each.
    assert v135[0].spec.shared_counters and not v135[0].spec.devices
    assert all(not s.spec.shared_counters for s in v135[1:])
    assert all(len(s.spec.devices) <= 64 for s in v135[1:])
    assert {s.spec.pool.resource_slice_count for s in v135} == {len(v135)}
    # 1.34: each counter set is in the slice of the devices that consume it.
    v134 = _h100_dynamic("1.34")
    for s in v134:
        names = {c.name for c in s.spec.shared_counters or []}
        assert sum(len(c.counters) for c in s.spec.shared_counters or []) <= 32
        for d in s.spec.devices or []:
            for use in d.consumes_counters or []:
                assert use.counter_set in names
    assert {s.spec.pool.resource_slice_count for s in v134} == {len(v134)}


@pytest.mark.parametrize("model", ["h100", "a100-40gb", "b200", "gb200", "h200", "h100-pcie"])
def test_counters_allow_exactly_the_non_overlapping_placements(model: str) -> None:
    """Any set of MIG devices with disjoint placements fits the counters; overlaps and the
    full GPU next to any MIG device do not."""
    inv = builtin.build_node(model, 1, "n", mig_enabled=True)  # Ampere offers partitions only with MIG on
    slices = build_slices(inv, mode="dynamic-mig")
    (cs,) = counter_sets_of(slices)
    totals = {k: v.value for k, v in cs.counters.items()}
    devices = devices_of(slices)
    migs = [d for d in devices if attr(d, "type") == "mig"]
    full = next((d for d in devices if attr(d, "type") == "gpu"), None)

    def use(d):  # noqa: ANN001, ANN202
        return {k: v.value for k, v in d.consumes_counters[0].counters.items()}

    def slices_of(d):  # noqa: ANN001, ANN202
        return {k for k in use(d) if k.startswith("memory-slice")}

    def fits(group) -> bool:  # noqa: ANN001
        sums: dict[str, Quantity] = {}
        for d in group:
            for k, v in use(d).items():
                sums[k] = sums.get(k, Quantity("0")) + v
        return all(v <= totals[k] for k, v in sums.items())

    def disjoint_sets(start: int, chosen: list, taken: set) -> int:  # noqa: ANN001
        checked = 0
        for i in range(start, len(migs)):
            d = migs[i]
            if taken.isdisjoint(slices_of(d)):
                group = chosen + [d]
                assert fits(group), [x.name for x in group]
                checked += 1 + disjoint_sets(i + 1, group, taken | slices_of(d))
        return checked

    assert disjoint_sets(0, [], set()) > 100
    for a, b in itertools.combinations(migs, 2):
        if not slices_of(a).isdisjoint(slices_of(b)):
            assert not fits([a, b])
    if full is not None:
        assert fits([full]) and all(not fits([full, m]) for m in migs)
    else:
        assert inv.gpus[0].architecture == "Ampere"


def test_ampere_cannot_toggle_mig() -> None:
    off = devices_of(build_slices(builtin.load_profile("dgx-a100", "n"), mode="dynamic-mig"))
    assert {attr(d, "type") for d in off} == {"gpu"} and not any(d.consumes_counters for d in off)
    on = build_slices(builtin.load_profile("dgx-a100-mig", "n"), mode="dynamic-mig")
    assert {attr(d, "type") for d in devices_of(on)} == {"mig"} and counter_sets_of(on)


def test_non_mig_gpus_in_dynamic_mode_are_whole_devices() -> None:
    slices = build_slices(builtin.load_profile("inference-t4", "n"), mode="dynamic-mig")
    assert not counter_sets_of(slices)
    assert [d.name for d in devices_of(slices)] == ["gpu-0", "gpu-1", "gpu-2", "gpu-3"]


def test_shared_mode_capacity_policies() -> None:
    slices = build_slices(builtin.load_profile("t4-x2", "n"), mode="shared")
    d = devices_of(slices)[0]
    assert d.allow_multiple_allocations is True
    assert set(d.capacity) == {"compute", "memory"}
    compute = d.capacity["compute"]
    assert compute.value == Quantity("1000")
    assert compute.request_policy.default == Quantity("1000")
    r = compute.request_policy.valid_range
    assert (r.min, r.max, r.step) == (Quantity("1"), Quantity("1000"), Quantity("1"))
    memory = d.capacity["memory"]
    assert memory.value == Quantity("15Gi")
    assert memory.request_policy.default == Quantity("0")
    assert memory.request_policy.valid_range.step == Quantity("1Mi")
    # MIG-enabled GPUs share their MIG devices.
    mig = devices_of(build_slices(builtin.load_profile("dgx-h100-mig", "n"), mode="shared"))
    assert {attr(x, "type") for x in mig} == {"mig"} and all(x.allow_multiple_allocations for x in mig)


def test_many_devices_are_split_with_a_correct_count() -> None:
    inv = builtin.build_node("t4", 200, "big")
    slices = build_slices(inv, mode="whole")
    assert [len(s.spec.devices) for s in slices] == [128, 72]
    assert {s.spec.pool.resource_slice_count for s in slices} == {2}
    assert len({s.metadata.name for s in slices}) == 2
    names = [d.name for d in devices_of(slices)]
    assert len(names) == len(set(names)) == 200


def test_taints_by_uuid_or_name_and_their_limits() -> None:
    inv = builtin.build_node("t4", 100, "n")
    taint = DeviceTaint(key="gpu.nvidia.com/xid", value="79", effect="NoSchedule")
    slices = build_slices(inv, taints={inv.gpus[5].uuid: [taint], "gpu-7": [taint]})
    tainted = [d.name for d in devices_of(slices) if d.taints]
    assert tainted == ["gpu-5", "gpu-7"]
    assert all(len(s.spec.devices) <= 64 for s in slices if any(d.taints for d in s.spec.devices))
    many = [DeviceTaint(key=f"example.com/t{i}", effect="NoSchedule") for i in range(5)]
    with pytest.raises(SliceLimitError, match="gpu-0: 5 taints, at most 4"):
        build_slices(inv, k8s_version="1.34", taints={"gpu-0": many})
    assert devices_of(build_slices(inv, k8s_version="1.35", taints={"gpu-0": many}))[0].taints


def test_empty_node_is_one_empty_slice() -> None:
    slices = build_slices(NodeInventory(node_name="cpu-only"))
    assert len(slices) == 1 and not slices[0].spec.devices
    assert slices[0].spec.pool.resource_slice_count == 1


def test_generation_bumps_only_on_change() -> None:
    inv = builtin.load_profile("dgx-h100", "n")
    first = build_slices(inv, mode="dynamic-mig")
    same = build_slices(inv, mode="dynamic-mig")
    assert next_generation(first, same) == 1
    fewer = build_slices(NodeInventory(node_name="n", gpus=inv.gpus[:7]), mode="dynamic-mig")
    assert next_generation(first, fewer) == 2
    assert [s.spec.pool.generation for s in with_generation(fewer, 2)] == [2] * len(fewer)
    pools = PoolGenerations()
    assert {s.spec.pool.generation for s in pools.stamp(first)} == {1}
    assert {s.spec.pool.generation for s in pools.stamp(same)} == {1}
    assert {s.spec.pool.generation for s in pools.stamp(fewer)} == {2}
    assert {s.spec.pool.generation for s in pools.stamp(build_slices(inv, mode="whole"))} == {3}


def test_bad_arguments_are_user_errors() -> None:
    inv = builtin.load_profile("t4-x1", "n")
    with pytest.raises(SliceBuildError, match="--mode: unknown mode 'half'"):
        build_slices(inv, mode="half")
    with pytest.raises(SliceBuildError, match="does not serve resource.k8s.io/v1"):
        build_slices(inv, k8s_version="1.33")
    with pytest.raises(SliceBuildError, match="not a Kubernetes version"):
        build_slices(inv, k8s_version="latest")
    with pytest.raises(SliceBuildError, match="generation"):
        build_slices(inv, generation=-1)
    assert build_slices(inv, k8s_version="v1.36.1")  # later versions follow 1.35's rules


def test_output_is_deterministic() -> None:
    a = [s.to_dict() for s in build_slices(builtin.load_profile("dgx-b200", "n"), mode="dynamic-mig")]
    b = [s.to_dict() for s in build_slices(builtin.load_profile("dgx-b200", "n"), mode="dynamic-mig")]
    assert a == b
