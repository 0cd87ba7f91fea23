"""resource.k8s.io/v1 of 1.36 and 1.37: new fields, per-version shape, gates and limits.

Expected messages and rules are those of ``pkg/apis/resource/validation/validation.go`` at
v1.36.3 / v1.37.2 (and ``k8s.io/api`` ``resource/v1/types.go`` for which minor declares what).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dra.api import DeviceAttribute, DeviceTaintRule, ResourceClaim, ResourceSlice
from dra.api.io import load_objects_from_text
from dra.api.validation import SUPPORTED_VERSIONS, validate
from dra.versions import KubernetesVersion


def slice_dict(devices: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": "s"},
        "spec": {"driver": "gpu.example.com", "pool": {"name": "p", "generation": 1, "resourceSliceCount": 1},
                 "nodeName": "n1", "devices": devices, **spec},
    }


def msgs(obj: Any, version: Any) -> list[str]:
    return [str(e) for e in validate(obj, k8s_version=version)]


ON = {"DRAListTypeAttributes": True}


def test_supported_versions_cover_1_34_to_1_37() -> None:
    assert SUPPORTED_VERSIONS == ("1.34", "1.35", "1.36", "1.37")


def test_list_attribute_kind_value_and_round_trip() -> None:
    data = slice_dict([{"name": "g0", "attributes": {"numa": {"ints": [0, 1]}, "m": {"strings": ["a", "b"]},
                                                     "v": {"versions": ["1.2.3"]}, "b": {"bools": [True]}}}])
    s = ResourceSlice.from_dict(copy.deepcopy(data))
    attrs = s.spec.devices[0].attributes
    assert (attrs["numa"].kind, attrs["numa"].value) == ("ints", [0, 1])
    assert (attrs["m"].kind, attrs["v"].kind, attrs["b"].kind) == ("strings", "versions", "bools")
    assert attrs["numa"].is_list and not DeviceAttribute.of(3).is_list
    assert DeviceAttribute.of([1, 2]).ints == [1, 2] and DeviceAttribute.of(["x"]).strings == ["x"]
    assert s.to_dict() == data


@pytest.mark.parametrize("version", ["1.34", "1.35"])
def test_list_attributes_are_unknown_before_1_36(version: str) -> None:
    s = ResourceSlice.from_dict(slice_dict([{"name": "g0", "attributes": {"numa": {"ints": [0]}}}]))
    assert msgs(s, version) == [
        f'spec.devices[0].attributes["numa"]: unknown field "ints": resource.k8s.io/v1 of Kubernetes {version} '
        "does not declare it (added in 1.36)"
    ]


@pytest.mark.parametrize("version", ["1.36", "1.37"])
def test_list_attributes_forbidden_with_gate_off_and_valid_with_it_on(version: str) -> None:
    s = ResourceSlice.from_dict(slice_dict([{"name": "g0", "attributes": {"numa": {"ints": [0]}}}]))
    assert msgs(s, version) == [
        'spec.devices[0].attributes["numa"].ints: Forbidden: disabled by feature gate DRAListTypeAttributes '
        "(the API server drops this field)"
    ]
    assert msgs(s, KubernetesVersion.of(version, ON)) == []


def test_list_attribute_rules() -> None:
    kv = KubernetesVersion.of("1.37", ON)
    s = ResourceSlice.from_dict(slice_dict([{"name": "g0", "attributes": {
        "e": {"ints": []}, "two": {"ints": [1], "int": 2}, "v": {"versions": ["x1"]}, "s": {"strings": ["a" * 65]}}}]))
    got = msgs(s, kv)
    assert 'spec.devices[0].attributes["e"].ints: Invalid value: []: must not be empty if specified' in got
    assert any(m.startswith('spec.devices[0].attributes["two"]: Invalid value:') and m.endswith("exactly one value must be specified") for m in got)
    assert 'spec.devices[0].attributes["v"].versions[0]: Invalid value: "x1": must be a string compatible with semver.org spec 2.0.0' in got
    assert 'spec.devices[0].attributes["s"].strings[0]: Too long: may not be more than 64 bytes' in got


def test_48_attribute_values_per_device() -> None:
    kv = KubernetesVersion.of("1.36", ON)
    ok = ResourceSlice.from_dict(slice_dict([{"name": "g0", "attributes": {"a": {"ints": list(range(40))}, **{f"x{i}": {"int": i} for i in range(8)}}}]))
    assert msgs(ok, kv) == []
    bad = ResourceSlice.from_dict(slice_dict([{"name": "g0", "attributes": {"a": {"ints": list(range(40))}, **{f"x{i}": {"int": i} for i in range(9)}}}]))
    assert msgs(bad, kv) == ["spec.devices[0]: Invalid value: 49: the total number of attribute values must not exceed 48"]


def test_64_devices_per_slice_with_list_attributes() -> None:
    kv = KubernetesVersion.of("1.37", ON)
    plain = [{"name": f"g{i}", "attributes": {"a": {"int": 1}}} for i in range(65)]
    assert msgs(ResourceSlice.from_dict(slice_dict(plain)), kv) == []
    listed = [{"name": f"g{i}", "attributes": {"a": {"ints": [1]}}} for i in range(65)]
    assert msgs(ResourceSlice.from_dict(slice_dict(listed)), kv) == ["spec.devices: Too many: 65: must have at most 64 items"]


def test_node_allocatable_shapes_per_version() -> None:
    v136 = ResourceSlice.from_dict(slice_dict([{"name": "g0", "capacity": {"memory": {"value": "80Gi"}},
                                                "nodeAllocatableResourceMappings": {"memory": {"capacityKey": "memory", "allocationMultiplier": "1"}}}]))
    v137 = ResourceSlice.from_dict(slice_dict([{"name": "g0", "nodeAllocatableResources": {"memory": {"overhead": {"perPod": "256Mi", "perContainer": "64Mi"}}}}]))
    gate = {"DRANodeAllocatableResources": True}
    assert msgs(v136, KubernetesVersion.of("1.36", gate)) == []
    assert msgs(v137, KubernetesVersion.of("1.37", gate)) == []
    assert msgs(v136, KubernetesVersion.of("1.37", gate))[0].startswith(
        'spec.devices[0]: unknown field "nodeAllocatableResourceMappings": resource.k8s.io/v1 of Kubernetes 1.37 does not declare it')
    assert msgs(v137, KubernetesVersion.of("1.36", gate))[0].startswith('spec.devices[0]: unknown field "nodeAllocatableResources"')
    assert msgs(v137, "1.37") == ["spec.devices[0].nodeAllocatableResources: Forbidden: disabled by feature gate DRANodeAllocatableResources (the API server drops this field)"]
    bad = ResourceSlice.from_dict(slice_dict([{"name": "g0", "nodeAllocatableResources": {
        "nvidia.com/gpu": {}, "memory": {"mapping": {"capacityKey": "nope"}}, "cpu": {"overhead": {"perPod": "-1"}}}}]))
    got = msgs(bad, KubernetesVersion.of("1.37", gate))
    assert 'spec.devices[0].nodeAllocatableResources["nvidia.com/gpu"]: Invalid value: "nvidia.com/gpu": must be a node allocatable resource name' in got
    assert 'spec.devices[0].nodeAllocatableResources["nvidia.com/gpu"]: Required value: at least one of mapping or overhead must be set' in got
    assert 'spec.devices[0].nodeAllocatableResources["memory"].mapping.capacityKey: Not found: "nope"' in got
    assert 'spec.devices[0].nodeAllocatableResources["memory"].mapping.capacityMultiplier: Required value: capacityMultiplier is required when capacityKey is set' in got
    assert 'spec.devices[0].nodeAllocatableResources["cpu"].overhead.perPod: Invalid value: "-1": must be non-negative' in got


def test_skip_node_operations_and_partition_type() -> None:
    gates = {"DRAOptionalNodeOperations": True, "DRAPartitionableDevicesType": True}
    kv = KubernetesVersion.of("1.37", gates)
    s = ResourceSlice.from_dict(slice_dict([{"name": "g0"}], skipNodeOperations=["NodePrepareResources", "Bogus"],
                                           partitionTypeAttribute="gpu.example.com/profile"))
    got = msgs(s, kv)
    assert 'spec.skipNodeOperations[1]: Unsupported value: "Bogus": supported values: "*", "NodePrepareResources", "NodeUnprepareResources"' in got
    assert 'spec.skipNodeOperations: Invalid value: ["NodePrepareResources", "Bogus"]: NodePrepareResources cannot be skipped unless NodeUnprepareResources is also skipped' in got or any(
        "NodePrepareResources cannot be skipped" in m for m in got)
    assert 'spec.partitionTypeAttribute: Invalid value: "gpu.example.com/profile": may only be set on a slice which declares devices that consume counters' in got
    assert msgs(s, "1.36")[0].startswith('spec: unknown field "partitionTypeAttribute"')


def test_compatibility_groups() -> None:
    kv = KubernetesVersion.of("1.37", {"DRADeviceCompatibilityGroups": True})
    dev = {"name": "g0", "consumesCounters": [{"counterSet": "gpu0", "counters": {"mem": {"value": "1"}}, "compatibilityGroups": ["mig", "mig", "vgpu"]}]}
    got = msgs(ResourceSlice.from_dict(slice_dict([dev])), kv)
    assert got == ["spec.devices[0].consumesCounters[0].compatibilityGroups: Too many: 3: must have at most 2 items"]
    dev["consumesCounters"][0]["compatibilityGroups"] = ["mig", "mig"]
    assert msgs(ResourceSlice.from_dict(slice_dict([dev])), kv) == ['spec.devices[0].consumesCounters[0].compatibilityGroups[1]: Duplicate value: "mig"']


def test_fractional_capacity_range_gate() -> None:
    dev = {"name": "g0", "allowMultipleAllocations": True, "capacity": {"c": {"value": "1", "requestPolicy": {
        "default": "250m", "validRange": {"min": "250m", "max": "1", "step": "250m"}}}}}
    s = ResourceSlice.from_dict(slice_dict([dev]))
    assert msgs(s, KubernetesVersion.of("1.37", {"DRAFractionalCapacityRange": True})) == []
    # integer Value() arithmetic: 250m rounds up to 1, and (1 - 1) % 1 == 0 ... but step 250m reads as 1, max 1 ok
    dev["capacity"]["c"]["requestPolicy"] = {"default": "300m", "validRange": {"min": "250m", "max": "1", "step": "250m"}}
    got = msgs(ResourceSlice.from_dict(slice_dict([dev])), KubernetesVersion.of("1.37", {"DRAFractionalCapacityRange": True}))
    assert got == ['spec.devices[0].capacity["c"].requestPolicy.validRange.step: Invalid value: "300m": value is not a multiple of a given step (250m) from (250m)']
    dev["capacity"]["c"]["requestPolicy"] = {"default": "1", "validRange": {"min": "1", "step": "0"}}
    got = msgs(ResourceSlice.from_dict(slice_dict([dev])), "1.37")
    assert got == ['spec.devices[0].capacity["c"].requestPolicy.validRange.step: Invalid value: "0": must be greater than zero']


def claim_dict(request: dict[str, Any], constraints: Any = None, status: Any = None) -> dict[str, Any]:
    d: dict[str, Any] = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": {"name": "c", "namespace": "default"},
                         "spec": {"devices": {"requests": [request]}}}
    if constraints:
        d["spec"]["devices"]["constraints"] = constraints
    if status:
        d["status"] = status
    return d


def test_derived_attributes_per_version_and_round_trip() -> None:
    req = {"name": "r", "exactly": {"deviceClassName": "gpu", "derivedAttributes": [{"name": "derived/numa", "expression": "1"}]}}
    data = claim_dict(req, constraints=[{"requests": ["r"], "matchAttribute": "derived/numa"}])
    c = ResourceClaim.from_dict(copy.deepcopy(data))
    assert c.to_dict() == data
    assert msgs(c, "1.36")[0].startswith('spec.devices.requests[0].exactly: unknown field "derivedAttributes"')
    assert msgs(c, "1.37") == ["spec.devices.requests[0].exactly.derivedAttributes: Forbidden: disabled by feature gate DRADerivedAttributes (the API server drops this field)"]
    assert msgs(c, KubernetesVersion.of("1.37", {"DRADerivedAttributes": True})) == []


def test_device_taint_rule_in_v1_from_1_37() -> None:
    text = """
apiVersion: resource.k8s.io/v1
kind: DeviceTaintRule
metadata: {name: r}
spec:
  deviceSelector: {driver: gpu.example.com}
  taint: {key: k, effect: NoSchedule}
"""
    (rule,) = [obj for obj in load_objects_from_text(text)]
    assert isinstance(rule, DeviceTaintRule) and rule.api_version == "resource.k8s.io/v1"
    assert msgs(rule, "1.37") == []
    assert msgs(rule, "1.36")[0].startswith('apiVersion: unknown field "resource.k8s.io/v1/DeviceTaintRule"')
    assert rule.to_dict()["apiVersion"] == "resource.k8s.io/v1"


def test_string_and_version_object_forms_agree() -> None:
    s = ResourceSlice.from_dict(slice_dict([{"name": "g0", "attributes": {"a": {"int": 1}}}]))
    for v in SUPPORTED_VERSIONS:
        assert msgs(s, v) == msgs(s, KubernetesVersion.of(v)) == []
    assert msgs(s, "1.37.2") == []


@pytest.mark.parametrize("count", [0, -1])
def test_count_zero_is_defaulted_and_negative_refused(count: int) -> None:
    # upstream SetDefaults_ExactDeviceRequest turns count 0 into 1; -1 fails validation
    c = ResourceClaim.from_dict(claim_dict({"name": "r", "exactly": {"deviceClassName": "gpu", "count": count}}))
    expected = [] if count == 0 else ["spec.devices.requests[0].exactly.count: Invalid value: -1: must be greater than zero"]
    assert msgs(c, "1.37") == expected


def test_derived_attribute_must_be_used_by_a_constraint() -> None:
    kv = KubernetesVersion.of("1.37", {"DRADerivedAttributes": True})
    req = {"name": "r", "exactly": {"deviceClassName": "gpu", "derivedAttributes": [
        {"name": "derived/numa", "expression": "1"}, {"name": "numa", "expression": "1"}]}}
    got = msgs(ResourceClaim.from_dict(claim_dict(req)), kv)
    assert 'spec.devices.requests[0].exactly.derivedAttributes[0].name: Invalid value: "derived/numa": must be referenced by at least one matchAttribute or distinctAttribute constraint targeting this request' in got
    assert any(m.startswith('spec.devices.requests[0].exactly.derivedAttributes[1].name: Invalid value: "numa"') for m in got)
    sub = {"name": "r", "firstAvailable": [{"name": "a", "deviceClassName": "gpu", "derivedAttributes": [{"name": "derived/numa", "expression": "1"}]}]}
    ok = claim_dict(sub, constraints=[{"requests": ["r"], "distinctAttribute": "derived/numa"}])
    assert msgs(ResourceClaim.from_dict(ok), kv) == []
