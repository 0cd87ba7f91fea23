"""API models: strict structural parsing, Kubernetes JSON out, parse -> dump -> parse identity."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dra.api import (
    AllocationResult,
    ApiError,
    Device,
    DeviceAttribute,
    DeviceCapacity,
    DeviceClass,
    DeviceID,
    DeviceRequestAllocationResult,
    DeviceTaintRule,
    Node,
    ObjectMeta,
    Quantity,
    ResourceClaim,
    ResourceClaimTemplate,
    ResourcePool,
    ResourceSlice,
    ResourceSliceSpec,
)
from dra.errors import UserError

KINDS = {"classes": DeviceClass, "slices": ResourceSlice, "claims": ResourceClaim}


def conformance_files(shared_dir: Path) -> list[Path]:
    files = sorted((shared_dir / "conformance" / "allocator-v1.35").glob("*.json"))
    if not files:
        pytest.skip("no conformance cases in ../shared")
    return files


def test_every_conformance_object_loads_and_round_trips(shared_dir: Path) -> None:
    files = conformance_files(shared_dir)
    count = 0
    for path in files:
        case = json.loads(path.read_text())
        for key, cls in KINDS.items():
            for i, raw in enumerate(case.get(key) or []):
                obj = cls.from_dict(raw, f"{path.name}: {key}[{i}]")
                dumped = obj.to_dict()
                assert dumped == raw, f"{path.name} {key}[{i}] changed on dump"
                assert cls.from_dict(dumped) == obj
                count += 1
        if case.get("node"):
            node = Node.from_dict(case["node"])
            assert node.to_dict() == case["node"]
        for alloc in (case.get("expect") or {}).get("allocations") or []:
            result = AllocationResult.from_dict(alloc["allocation"])
            assert result.to_dict() == alloc["allocation"]
    assert len(files) == 90
    assert count > 300


SLICE: dict[str, Any] = {
    "apiVersion": "resource.k8s.io/v1",
    "kind": "ResourceSlice",
    "metadata": {"name": "node-1-gpu.nvidia.com-abcde"},
    "spec": {
        "driver": "gpu.nvidia.com",
        "pool": {"name": "node-1", "generation": 1, "resourceSliceCount": 1},
        "nodeName": "node-1",
        "devices": [
            {
                "name": f"gpu-{i}",
                "attributes": {
                    "type": {"string": "gpu"},
                    "index": {"int": i},
                    "mig": {"bool": False},
                    "driverVersion": {"version": "550.54.15"},
                },
                "capacity": {"memory": {"value": "80Gi"}},
            }
            for i in range(3)
        ],
    },
}


def test_python_names_and_aliases() -> None:
    s = ResourceSlice.from_dict(SLICE)
    assert s.spec.pool.resource_slice_count == 1
    dev = s.spec.devices[1]
    assert dev.attributes["index"].int_ == 1
    assert dev.attributes["index"].value == 1
    assert dev.attributes["mig"].bool_ is False and dev.attributes["mig"].value is False
    assert dev.attributes["driverVersion"].kind == "version"
    assert dev.capacity["memory"].value == Quantity("80Gi")
    assert isinstance(dev.capacity["memory"].value, Quantity)
    assert s.device_ids()[0] == DeviceID("gpu.nvidia.com", "node-1", "gpu-0")
    assert s.to_dict() == SLICE


def test_construct_with_python_names() -> None:
    s = ResourceSlice(
        metadata=ObjectMeta(name="x"),
        spec=ResourceSliceSpec(
            driver="d.example.com",
            pool=ResourcePool(name="p", generation=0, resource_slice_count=1),
            all_nodes=True,
            devices=[
                Device(
                    name="a",
                    attributes={"k": DeviceAttribute.of(3)},
                    capacity={"mem": DeviceCapacity(value=Quantity("1Gi"))},
                    allow_multiple_allocations=True,
                )
            ],
        ),
    )
    out = s.to_dict()
    assert out["spec"]["allNodes"] is True
    assert out["spec"]["pool"]["resourceSliceCount"] == 1
    assert out["spec"]["devices"][0] == {
        "name": "a",
        "attributes": {"k": {"int": 3}},
        "capacity": {"mem": {"value": "1Gi"}},
        "allowMultipleAllocations": True,
    }
    assert ResourceSlice.from_dict(out) == s


def test_share_id_alias() -> None:
    r = DeviceRequestAllocationResult.from_dict(
        {"request": "r", "driver": "d", "pool": "p", "device": "x", "shareID": "abc"}
    )
    assert r.share_id == "abc"
    assert r.to_dict()["shareID"] == "abc"


def bad(data: Any, cls: type = ResourceSlice, path: str = "") -> str:
    with pytest.raises(ApiError) as info:
        cls.from_dict(data, path)
    assert isinstance(info.value, UserError)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_unknown_field_names_the_path() -> None:
    data = copy.deepcopy(SLICE)
    data["spec"]["devices"][2]["attributes"]["foo"] = {"bar": 1}
    assert bad(data) == 'spec.devices[2].attributes["foo"]: unknown field "bar"'
    data = copy.deepcopy(SLICE)
    data["spec"]["nodename"] = "x"
    assert bad(data) == 'spec: unknown field "nodename"'
    # snake_case names are not JSON names
    data = copy.deepcopy(SLICE)
    data["spec"]["pool"]["resource_slice_count"] = 1
    assert 'spec.pool: unknown field "resource_slice_count"' in bad(data)


def test_invalid_quantity_names_the_path() -> None:
    data = copy.deepcopy(SLICE)
    data["spec"]["devices"][1]["capacity"]["memory"]["value"] = "80GB"
    msg = bad(data, path="slices[4]")
    assert msg.startswith('slices[4].spec.devices[1].capacity["memory"].value: Invalid value: "80GB": ')
    assert "quantities must match the regular expression" in msg


def test_wrong_types_and_missing_fields() -> None:
    data = copy.deepcopy(SLICE)
    data["spec"]["pool"]["generation"] = "1"
    assert bad(data) == 'spec.pool.generation: Invalid value: "1": must be an integer'
    data = copy.deepcopy(SLICE)
    del data["spec"]["driver"]
    assert bad(data) == "spec.driver: Required value"
    data = copy.deepcopy(SLICE)
    data["spec"]["devices"] = {"x": 1}
    assert bad(data) == 'spec.devices: Invalid value: {"x": 1}: must be an array'
    data = copy.deepcopy(SLICE)
    data["spec"]["pool"]["generation"] = 2**64
    assert "must fit in a 64-bit signed integer" in bad(data)
    assert "expected an object" in bad([])
    assert bad({"kind": "DeviceClass"}) == 'kind: Invalid value: "DeviceClass": expected "ResourceSlice"'


def test_structurally_valid_but_rule_breaking_objects_load() -> None:
    claim = {
        "metadata": {"name": "c"},
        "spec": {
            "devices": {
                "requests": [
                    {"name": "a", "exactly": {"deviceClassName": "c", "allocationMode": "future-mode"}},
                    {"name": "a", "exactly": {"deviceClassName": "c", "allocationMode": "All", "count": 2}},
                ],
                "constraints": [{}],
            }
        },
    }
    obj = ResourceClaim.from_dict(claim)
    assert obj.spec.devices.requests[0].exactly.allocation_mode == "future-mode"
    assert obj.to_dict()["spec"] == claim["spec"]


def test_object_meta_from_kubectl_output() -> None:
    meta = {
        "name": "gpu-claim",
        "namespace": "default",
        "uid": "6c2b7a9e-1a0e-4a55-8f7e-8b1f3c1d0a11",
        "resourceVersion": "12345",
        "generation": 2,
        "creationTimestamp": "2025-01-02T03:04:05Z",
        "labels": {"app": "x"},
        "annotations": {"a": "b"},
        "finalizers": ["resource.kubernetes.io/delete-protection"],
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u", "controller": True, "blockOwnerDeletion": True}
        ],
        "managedFields": [
            {
                "apiVersion": "resource.k8s.io/v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:devices": {}}},
                "manager": "kubectl-create",
                "operation": "Update",
                "time": "2025-01-02T03:04:05Z",
            }
        ],
    }
    data = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": meta, "spec": {}}
    claim = ResourceClaim.from_dict(data)
    assert claim.key == "default/gpu-claim"
    assert claim.to_dict() == data


def test_unquoted_yaml_timestamp_is_kept_as_rfc3339() -> None:
    data = {"metadata": {"name": "x", "creationTimestamp": dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)}}
    node = Node.from_dict(data)
    assert node.metadata.creation_timestamp == "2025-01-02T03:04:05Z"


def test_opaque_parameters_and_status_round_trip() -> None:
    data = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": "c", "namespace": "ns"},
        "spec": {
            "devices": {
                "requests": [{"name": "gpu", "firstAvailable": [{"name": "big", "deviceClassName": "gpu.nvidia.com"}]}],
                "config": [{"requests": ["gpu"], "opaque": {"driver": "gpu.nvidia.com", "parameters": {"a": None, "b": [1, {"c": "d"}]}}}],
            }
        },
        "status": {
            "allocation": {
                "devices": {
                    "results": [
                        {
                            "request": "gpu/big",
                            "driver": "gpu.nvidia.com",
                            "pool": "n",
                            "device": "gpu-0",
                            "consumedCapacity": {"memory": "1Gi"},
                        }
                    ],
                    "config": [{"source": "FromClaim", "requests": ["gpu"], "opaque": {"driver": "gpu.nvidia.com", "parameters": {}}}],
                },
                "nodeSelector": {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n"]}]}]},
                "allocationTimestamp": "2025-01-02T03:04:05Z",
            },
            "reservedFor": [{"resource": "pods", "name": "p", "uid": "u"}],
            "devices": [
                {
                    "driver": "gpu.nvidia.com",
                    "pool": "n",
                    "device": "gpu-0",
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-02T03:04:05Z", "reason": "R", "message": ""}],
                    "data": {"x": 1},
                    "networkData": {"interfaceName": "eth0", "ips": ["10.0.0.1/24"], "hardwareAddress": "aa"},
                }
            ],
        },
    }
    claim = ResourceClaim.from_dict(data)
    assert claim.to_dict() == data


def test_template_and_taint_rule() -> None:
    tmpl = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaimTemplate",
        "metadata": {"name": "t", "namespace": "ns"},
        "spec": {"metadata": {"labels": {"a": "b"}}, "spec": {"devices": {"requests": [{"name": "r", "exactly": {"deviceClassName": "c"}}]}}},
    }
    assert ResourceClaimTemplate.from_dict(tmpl).to_dict() == tmpl
    rule = {
        "apiVersion": "resource.k8s.io/v1alpha3",
        "kind": "DeviceTaintRule",
        "metadata": {"name": "r"},
        "spec": {"deviceSelector": {"driver": "d", "pool": "p"}, "taint": {"key": "k", "value": "v", "effect": "NoSchedule"}},
    }
    assert DeviceTaintRule.from_dict(rule).to_dict() == rule


# -- property: generated slices and claims survive parse -> dump -> parse ---------------

names = st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
quantities = st.sampled_from(["1", "80Gi", "1500m", "1e3", "100M", "0", "1536Mi", "7"])
attribute = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(lambda v: {"int": v}),
    st.booleans().map(lambda v: {"bool": v}),
    st.text(max_size=10).map(lambda v: {"string": v}),
    st.sampled_from(["1.0.0", "12.4.1-rc.1+b"]).map(lambda v: {"version": v}),
)
device = st.fixed_dictionaries(
    {"name": names},
    optional={
        "attributes": st.dictionaries(names, attribute, max_size=4),
        "capacity": st.dictionaries(
            names,
            st.fixed_dictionaries(
                {"value": quantities},
                optional={"requestPolicy": st.fixed_dictionaries({"default": quantities}, optional={"validValues": st.lists(quantities, max_size=3)})},
            ),
            max_size=3,
        ),
        "taints": st.lists(st.fixed_dictionaries({"key": names, "effect": st.sampled_from(["NoSchedule", "NoExecute", "None"])}), max_size=2),
        "allowMultipleAllocations": st.booleans(),
        "bindingConditions": st.lists(names, max_size=2),
    },
)
slice_data = st.fixed_dictionaries(
    {
        "spec": st.fixed_dictionaries(
            {
                "driver": names,
                "pool": st.fixed_dictionaries(
                    {"name": names, "generation": st.integers(0, 10), "resourceSliceCount": st.integers(1, 5)}
                ),
            },
            optional={"nodeName": names, "allNodes": st.booleans(), "devices": st.lists(device, max_size=4)},
        )
    },
    optional={"metadata": st.fixed_dictionaries({"name": names})},
)


@given(slice_data)
@settings(max_examples=80)
def test_generated_slices_round_trip(data: dict[str, Any]) -> None:
    obj = ResourceSlice.from_dict(data)
    dumped = obj.to_dict()
    again = ResourceSlice.from_dict(dumped)
    assert again == obj
    assert again.to_dict() == dumped
    # Only apiVersion/kind (defaults) are added; quantities come out canonical.
    dumped.pop("apiVersion")
    dumped.pop("kind")
    for dev in dumped["spec"].get("devices", []):
        for cap in dev.get("capacity", {}).values():
            assert cap["value"] == str(Quantity(cap["value"]))


selector = st.fixed_dictionaries({"cel": st.fixed_dictionaries({"expression": st.sampled_from(["true", 'device.driver == "x"'])})})
toleration = st.fixed_dictionaries(
    {},
    optional={
        "key": names,
        "operator": st.sampled_from(["Exists", "Equal"]),
        "value": names,
        "effect": st.sampled_from(["NoSchedule", "NoExecute"]),
        "tolerationSeconds": st.integers(0, 3600),
    },
)
exact = st.fixed_dictionaries(
    {"deviceClassName": names},
    optional={
        "selectors": st.lists(selector, max_size=2),
        "allocationMode": st.sampled_from(["ExactCount", "All", "future-mode"]),
        "count": st.integers(0, 8),
        "adminAccess": st.booleans(),
        "tolerations": st.lists(toleration, max_size=2),
        "capacity": st.fixed_dictionaries({"requests": st.dictionaries(names, quantities, max_size=2)}),
    },
)
request = st.one_of(
    st.fixed_dictionaries({"name": names, "exactly": exact}),
    st.fixed_dictionaries(
        {"name": names, "firstAvailable": st.lists(exact.map(lambda e: {**{k: v for k, v in e.items() if k != "adminAccess"}, "name": "sub"}), min_size=1, max_size=3)}
    ),
)
claim_data = st.fixed_dictionaries(
    {
        "metadata": st.fixed_dictionaries({"name": names}, optional={"namespace": names}),
        "spec": st.fixed_dictionaries(
            {},
            optional={
                "devices": st.fixed_dictionaries(
                    {"requests": st.lists(request, max_size=3)},
                    optional={
                        "constraints": st.lists(
                            st.fixed_dictionaries({}, optional={"requests": st.lists(names, max_size=2), "matchAttribute": names}),
                            max_size=2,
                        ),
                        "config": st.lists(
                            st.fixed_dictionaries(
                                {"opaque": st.fixed_dictionaries({"driver": names, "parameters": st.dictionaries(names, st.integers() | st.none(), max_size=2)})},
                                optional={"requests": st.lists(names, max_size=2)},
                            ),
                            max_size=2,
                        ),
                    },
                )
            },
        ),
    },
)


@given(claim_data)
@settings(max_examples=80)
def test_generated_claims_round_trip(data: dict[str, Any]) -> None:
    obj = ResourceClaim.from_dict(data)
    dumped = obj.to_dict()
    assert ResourceClaim.from_dict(dumped) == obj
    # Apart from the apiVersion/kind defaults the JSON is unchanged (the sampled quantities
    # are already canonical).
    dumped.pop("apiVersion")
    dumped.pop("kind")
    assert dumped == data


def test_map_of_quantities_error_path() -> None:
    msg = bad(
        {"request": "r", "driver": "d", "pool": "p", "device": "x", "consumedCapacity": {"memory": "lots"}},
        DeviceRequestAllocationResult,
    )
    assert msg.startswith('consumedCapacity["memory"]: Invalid value: "lots": ')
