"""Slices for Kubernetes 1.36 and 1.37: accepted versions, layout limits, ordered names, numaNode."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from dra.errors import UserError
from dra.gpu import builtin
from dra.slices import build_slices
from dra.slices.attributes import NUMA_NODE
from dra.slices.builder import layout_version
from dra.slices.layout import LIMITS, attribute_values, check_device
from dra.slices.naming import decode_index, generate_name, index_length, slice_name
from dra.versions import SUPPORTED_MINORS


@pytest.mark.parametrize("version", SUPPORTED_MINORS)
def test_every_supported_minor_builds(version):
    inv = builtin.load_profile("dgx-h100", "n1")
    for mode in ("whole", "static-mig", "dynamic-mig", "shared"):
        assert build_slices(inv, mode=mode, k8s_version=version)


def test_versions_outside_the_supported_range_are_refused():
    inv = builtin.load_profile("t4-x1", "n")
    with pytest.raises(UserError, match="1.38 is not supported"):
        build_slices(inv, k8s_version="1.38")
    with pytest.raises(UserError, match="does not serve resource.k8s.io/v1"):
        build_slices(inv, k8s_version="1.33")
    assert layout_version("v1.36.3") == "1.36" and layout_version("1.37") == "1.37"


def test_1_36_limits():
    for minor in ("1.36", "1.37"):
        limits = LIMITS[minor]
        assert limits.max_devices_with_counters_or_taints == 64  # ResourceSliceMaxDevicesWithAdvancedFeatures
        assert limits.max_attribute_values_per_device == 48  # ResourceSliceMaxAttributeValuesPerDevice
        assert limits.list_attributes_are_advanced
    assert LIMITS["1.35"].max_attribute_values_per_device is None


def test_attribute_values_count_list_elements():
    device = SimpleNamespace(name="d", attributes={"a": SimpleNamespace(int_=1), "l": SimpleNamespace(ints=[1] * 47)},
                             capacity={}, taints=None, consumes_counters=None)
    assert attribute_values(device) == 48
    check_device(device, LIMITS["1.36"])  # 48 is allowed
    device.attributes["m"] = SimpleNamespace(strings=["x"])
    with pytest.raises(UserError, match="device d: 49 attribute values, at most 48"):
        check_device(device, LIMITS["1.36"])
    check_device(device, LIMITS["1.35"])  # no such limit before 1.36


@pytest.mark.parametrize("version", ["1.35", "1.36", "1.37"])
def test_same_layout_from_1_35_on(version):
    inv = builtin.load_profile("dgx-b200", "n1")
    base = [s.to_dict() for s in build_slices(inv, mode="dynamic-mig", k8s_version="1.35")]
    assert [s.to_dict() for s in build_slices(inv, mode="dynamic-mig", k8s_version=version)] == base


def test_slice_names_sort_in_the_builders_order():
    inv = builtin.load_profile("dgx-b200", "n1")
    slices = build_slices(inv, mode="dynamic-mig", k8s_version="1.37")
    assert len(slices) > 2
    names = [s.metadata.name for s in slices]
    assert names == sorted(names)
    assert names[0] == "00000-gpu.nvidia.com-n1" and all(decode_index(n, 5) == i for i, n in enumerate(names))


def test_index_width_and_long_node_names():
    assert index_length(1) == 5 and index_length(16**5) == 5 and index_length(16**5 + 1) == 6
    assert generate_name(10, 20, "gpu.nvidia.com", "n") == "0000a-gpu.nvidia.com-n-"
    long_node = "n" * 253
    assert len(generate_name(0, 1, "gpu.nvidia.com", long_node)) + 5 <= 253
    assert len(slice_name(0, 1, "gpu.nvidia.com", long_node)) <= 253
    assert decode_index("node-a-gpu.nvidia.com-abcde", 5) == -1  # a pre-1.36 name carries no index


@pytest.mark.parametrize("profile, mode, kinds", [("dgx-h100", "whole", {"gpu"}),
                                                  ("dgx-h100-mig", "static-mig", {"mig"}),
                                                  ("dgx-h100", "dynamic-mig", {"gpu", "mig"})])
def test_numa_node_is_a_scalar_int_on_gpu_and_mig_devices(profile, mode, kinds):
    inv = builtin.load_profile(profile, "n1")
    numa = {f"gpu-{g.minor}": g.numa_node for g in inv.gpus}
    assert set(numa.values()) == {0, 1}
    seen = set()
    for s in build_slices(inv, mode=mode, k8s_version="1.37"):
        for device in s.to_dict()["spec"].get("devices") or ():
            kind = device["attributes"]["type"]["string"]
            seen.add(kind)
            gpu = "-".join(device["name"].split("-")[:2])
            assert device["attributes"][NUMA_NODE] == {"int": numa[gpu]}, device["name"]
    assert kinds <= seen


def test_numa_node_is_left_out_when_unknown():
    inv = builtin.load_profile("t4-x1", "n")
    unknown = dataclasses.replace(inv, gpus=tuple(dataclasses.replace(g, numa_node=None) for g in inv.gpus))
    for s in build_slices(unknown, k8s_version="1.37"):
        for device in s.to_dict()["spec"]["devices"]:
            assert NUMA_NODE not in device["attributes"]
