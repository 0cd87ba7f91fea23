"""API validation rules: one test per rule, upstream wording, 1.34 vs 1.35 differences."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dra.api import (
    DeviceClass,
    DeviceTaintRule,
    FieldError,
    ResourceClaim,
    ResourceClaimTemplate,
    ResourceSlice,
    ValidationError,
)
from dra.api.validation import validate, validate_or_raise
from dra.errors import UserError


def slice_data(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": "node-1-gpu"},
        "spec": {
            "driver": "gpu.nvidia.com",
            "pool": {"name": "node-1", "generation": 1, "resourceSliceCount": 1},
            "nodeName": "node-1",
            "devices": [{"name": "gpu-0", "attributes": {"index": {"int": 0}}, "capacity": {"memory": {"value": "80Gi"}}}],
        },
    }
    base["spec"].update(spec)
    return base


def errors_of(obj: Any, **kw: Any) -> list[str]:
    return [str(e) for e in validate(obj, **kw)]


def slice_errors(data: dict[str, Any], **kw: Any) -> list[str]:
    return errors_of(ResourceSlice.from_dict(data), **kw)


def one(errs: list[str], needle: str) -> str:
    found = [e for e in errs if needle in e]
    assert found, f"{needle!r} not in {errs}"
    return found[0]


def test_valid_slice_has_no_errors() -> None:
    assert slice_errors(slice_data()) == []
    assert slice_errors(slice_data(), k8s_version="1.34") == []


def test_too_many_devices() -> None:
    devices = [{"name": f"gpu-{i}"} for i in range(129)]
    assert "spec.devices: Too many: 129: must have at most 128 items" in slice_errors(slice_data(devices=devices))
    devices = [{"name": f"gpu-{i}"} for i in range(128)]
    assert slice_errors(slice_data(devices=devices)) == []


def test_64_device_limit_with_taints_only_in_135() -> None:
    devices = [{"name": f"gpu-{i}"} for i in range(65)]
    devices[0]["taints"] = [{"key": "k", "effect": "NoSchedule"}]
    assert "spec.devices: Too many: 65: must have at most 64 items" in slice_errors(slice_data(devices=devices))
    assert slice_errors(slice_data(devices=devices), k8s_version="1.34") == []


def test_driver_and_pool_names() -> None:
    errs = slice_errors(slice_data(driver="Bad_Driver!"))
    assert one(errs, "spec.driver: Invalid value").startswith('spec.driver: Invalid value: "Bad_Driver!": a lowercase RFC 1123 subdomain')
    errs = slice_errors(slice_data(driver="a" * 64))
    assert "spec.driver: Too long: may not be more than 63 bytes" in errs
    errs = slice_errors(slice_data(pool={"name": "a/B", "generation": -1, "resourceSliceCount": 0}))
    one(errs, 'spec.pool.name: Invalid value: "B"')
    assert "spec.pool.resourceSliceCount: Invalid value: 0: must be greater than zero" in errs
    assert "spec.pool.generation: Invalid value: -1: must be greater than or equal to zero" in errs
    assert slice_errors(slice_data(pool={"name": "a.example/b-c", "generation": 0, "resourceSliceCount": 1})) == []


def test_node_selection_one_of() -> None:
    data = slice_data()
    del data["spec"]["nodeName"]
    assert slice_errors(data) == [
        "spec: Required value: exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required"
    ]
    errs = slice_errors(slice_data(allNodes=True))
    assert one(errs, "but multiple fields are set").startswith('spec: Invalid value: "{`nodeName`, `allNodes`}"')
    data = slice_data(allNodes=False)
    del data["spec"]["nodeName"]
    assert "spec.allNodes: Invalid value: false: must be either unset or set to true" in slice_errors(data)
    assert one(slice_errors(slice_data(nodeName="")), "spec.nodeName").endswith("must be either unset or set to a non-empty string")


def test_node_selector_needs_exactly_one_term() -> None:
    data = slice_data(nodeSelector={"nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "In", "values": ["x"]}]}] * 2})
    del data["spec"]["nodeName"]
    one(slice_errors(data), "spec.nodeSelector.nodeSelectorTerms: Invalid value")
    data = slice_data(nodeSelector={"nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "In"}]}]})
    del data["spec"]["nodeName"]
    assert (
        "spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        in slice_errors(data)
    )


def test_devices_and_shared_counters_exclusive_in_135() -> None:
    data = slice_data(sharedCounters=[{"name": "gpu-0-counters", "counters": {"memory": {"value": "80Gi"}}}])
    assert "spec: Invalid value: \"\": only one of `sharedCounters` or `devices` is allowed" in slice_errors(data)
    assert slice_errors(data, k8s_version="1.34") == []


def test_counter_sets() -> None:
    sets = [{"name": f"set-{i}", "counters": {"c": {"value": "1"}}} for i in range(9)]
    data = slice_data(sharedCounters=sets)
    del data["spec"]["devices"]
    assert "spec.sharedCounters: Too many: 9: must have at most 8 items" in slice_errors(data)
    data["spec"]["sharedCounters"] = [{"name": "a", "counters": {}}, {"name": "a", "counters": {"Bad": {"value": "1"}}}]
    errs = slice_errors(data)
    assert "spec.sharedCounters[0].counters: Required value" in errs
    assert 'spec.sharedCounters[1]: Duplicate value: "a"' in errs
    one(errs, 'spec.sharedCounters[1].counters: Invalid value: "Bad"')
    data["spec"]["sharedCounters"] = [{"name": "a", "counters": {f"c{i}": {"value": "1"} for i in range(33)}}]
    assert "spec.sharedCounters[0].counters: Too many: 33: must have at most 32 items" in slice_errors(data)


def test_counter_limits_134() -> None:
    sets = [{"name": f"s{i}", "counters": {f"c{j}": {"value": "1"} for j in range(11)}} for i in range(3)]
    data = slice_data(sharedCounters=sets)
    one(slice_errors(data, k8s_version="1.34"), "the total number of shared counters must not exceed 32")
    dev = {"name": "d", "consumesCounters": [{"counterSet": f"s{i}", "counters": {f"c{j}": {"value": "1"} for j in range(11)}} for i in range(3)]}
    data = slice_data(devices=[dev])
    data["spec"]["sharedCounters"] = sets
    errs = slice_errors(data, k8s_version="1.34")
    assert "spec.devices[0]: Invalid value: 33: the total number of counters must not exceed 32" in errs
    data["spec"].pop("sharedCounters")
    assert "spec.devices[0].consumesCounters: Too many: 3: must have at most 2 items" in slice_errors(data)


def test_counter_references_checked_within_slice_in_134() -> None:
    sets = [{"name": "s", "counters": {"mem": {"value": "1Gi"}}}]
    dev = {"name": "d", "consumesCounters": [{"counterSet": "s", "counters": {"fake": {"value": "1"}}}, {"counterSet": "t", "counters": {"mem": {"value": "1"}}}]}
    errs = slice_errors(slice_data(devices=[dev], sharedCounters=sets), k8s_version="1.34")
    assert 'spec.devices[0].consumesCounters[0].counters: Invalid value: "fake": must reference a counter defined in the ResourceSlice sharedCounters' in errs
    assert 'spec.devices[0].consumesCounters[1].counterSet: Invalid value: "t": must reference a counterSet defined in the ResourceSlice sharedCounters' in errs
    # 1.35: counter sets are pool-scoped, references are not API-validated.
    data = slice_data(devices=[dev])
    assert not any("must reference" in e for e in slice_errors(data))


def test_consumes_counters() -> None:
    dev = {"name": "d", "consumesCounters": [{"counterSet": "s", "counters": {"c": {"value": "1"}}}, {"counterSet": "s", "counters": {}}]}
    errs = slice_errors(slice_data(devices=[dev]))
    assert 'spec.devices[0].consumesCounters[1]: Duplicate value: "s"' in errs
    assert "spec.devices[0].consumesCounters[1].counters: Required value" in errs


def test_device_names_unique_and_dns_labels() -> None:
    errs = slice_errors(slice_data(devices=[{"name": "gpu-0"}, {"name": "gpu-0"}, {"name": "GPU_1"}]))
    assert 'spec.devices[1]: Duplicate value: "gpu-0"' in errs
    one(errs, 'spec.devices[2].name: Invalid value: "GPU_1": a lowercase RFC 1123 label')


def test_attributes() -> None:
    attrs = {
        "ok": {"int": 1},
        "two": {"int": 1, "bool": True},
        "none": {},
        "long": {"string": "x" * 65},
        "ver": {"version": "1.02.3"},
        "a.example.com/good": {"bool": True},
        "a/b/c": {"int": 1},
        "Bad.Domain!/x": {"int": 1},
        "9bad": {"int": 1},
    }
    errs = slice_errors(slice_data(devices=[{"name": "d", "attributes": attrs}]))
    one(errs, 'spec.devices[0].attributes["two"]: Invalid value: ')
    assert 'spec.devices[0].attributes["none"]: Invalid value: "": exactly one value must be specified' in errs
    assert 'spec.devices[0].attributes["long"].string: Too long: may not be more than 64 bytes' in errs
    assert (
        'spec.devices[0].attributes["ver"].version: Invalid value: "1.02.3": must be a string compatible with semver.org spec 2.0.0'
        in errs
    )
    assert 'spec.devices[0].attributes: Invalid value: "a/b/c": must not contain more than one slash' in errs
    one(errs, 'spec.devices[0].attributes: Invalid value: "Bad.Domain!"')
    one(errs, 'spec.devices[0].attributes: Invalid value: "9bad": a valid C identifier')
    assert not any('"a.example.com/good"' in e or '["ok"]' in e for e in errs)


def test_attribute_and_capacity_total() -> None:
    dev = {"name": "d", "attributes": {f"a{i}": {"int": i} for i in range(20)}, "capacity": {f"c{i}": {"value": "1"} for i in range(13)}}
    assert "spec.devices[0]: Invalid value: 33: the total number of attributes and capacities must not exceed 32" in slice_errors(
        slice_data(devices=[dev])
    )


def test_request_policy_rules() -> None:
    def policy_errs(policy: dict[str, Any], multi: bool = True, value: str = "10") -> list[str]:
        dev: dict[str, Any] = {"name": "d", "capacity": {"mem": {"value": value, "requestPolicy": policy}}}
        if multi:
            dev["allowMultipleAllocations"] = True
        return slice_errors(slice_data(devices=[dev]))

    p = 'spec.devices[0].capacity["mem"].requestPolicy'
    assert policy_errs({"default": "1"}, multi=False) == [f"{p}: Forbidden: allowMultipleAllocations must be true"]
    assert policy_errs({"default": "1", "validValues": ["1"], "validRange": {"min": "1"}}) == [
        f'{p}: Forbidden: exactly one policy can be specified, cannot specify "validValues" and "validRange" at the same time'
    ]
    assert policy_errs({"validValues": ["1"]}) == [f"{p}.default: Required value: required when validValues is defined"]
    errs = policy_errs({"default": "3", "validValues": ["2", "1", "20", "2"]})
    assert f'{p}.validValues[1]: Invalid value: "1": values must be sorted in ascending order' in errs
    assert f'{p}.validValues[2]: Invalid value: "20": option is larger than capacity value: 10' in errs
    assert f'{p}.validValues[3]: Duplicate value: "2"' in errs
    assert f'{p}.validValues: Invalid value: "3": default value is not valid according to the requestPolicy' in errs
    assert policy_errs({"default": "1", "validValues": [str(i) for i in range(11)]}) == [f"{p}.validValues: Too many: 11: must have at most 10 items"]
    assert policy_errs({"validRange": {"min": "1"}}) == [f"{p}.default: Required value: required when validRange is defined"]
    assert policy_errs({"default": "1", "validRange": {}}) == [f"{p}.validRange.min: Required value: required when validRange is defined"]
    errs = policy_errs({"default": "1", "validRange": {"min": "11", "max": "12", "step": "0"}})
    assert f'{p}.validRange.min: Invalid value: "11": min is larger than capacity value: 10' in errs
    assert f'{p}.validRange.default: Invalid value: "1": default is less than min: 11' in errs
    assert f'{p}.validRange.max: Invalid value: "12": max is larger than capacity value: 10' in errs
    assert f'{p}.validRange.step: Invalid value: "0": must be greater than zero' in errs
    errs = policy_errs({"default": "4", "validRange": {"min": "1", "max": "8", "step": "2"}})
    assert f'{p}.validRange.step: Invalid value: "4": value is not a multiple of a given step (2) from (1)' in errs
    assert f'{p}.validRange.step: Invalid value: "8": value is not a multiple of a given step (2) from (1)' in errs
    assert policy_errs({"default": "3", "validRange": {"min": "1", "max": "9", "step": "2"}}) == []
    errs = policy_errs({"default": "1", "validRange": {"min": "1", "step": "10"}})
    assert f'{p}.validRange.step: Invalid value: "10": one step 11 is larger than capacity value: 10' in errs


def test_taints() -> None:
    taints = [{"key": "k", "effect": "NoSchedule"}] * 5
    data = slice_data(devices=[{"name": "d", "taints": taints}])
    assert slice_errors(data) == []
    assert "spec.devices[0].taints: Too many: 5: must have at most 4 items" in slice_errors(data, k8s_version="1.34")
    data = slice_data(devices=[{"name": "d", "taints": [{"key": "bad key", "value": "-x", "effect": "None"}, {"key": "k", "effect": "Boom"}]}])
    errs = slice_errors(data)
    one(errs, 'spec.devices[0].taints[0].key: Invalid value: "bad key"')
    one(errs, 'spec.devices[0].taints[0].value: Invalid value: "-x": a valid label must be an empty string')
    assert 'spec.devices[0].taints[1].effect: Unsupported value: "Boom": supported values: "NoExecute", "NoSchedule", "None"' in errs
    errs = slice_errors(data, k8s_version="1.34")
    assert 'spec.devices[0].taints[0].effect: Unsupported value: "None": supported values: "NoExecute", "NoSchedule"' in errs


def test_per_device_node_selection() -> None:
    data = slice_data(perDeviceNodeSelection=True, devices=[{"name": "a", "nodeName": "n"}, {"name": "b"}, {"name": "c", "allNodes": True, "nodeName": "n"}])
    del data["spec"]["nodeName"]
    errs = slice_errors(data)
    one(errs, "spec.devices[1]: Required value: exactly one of `nodeName`, `nodeSelector`, or `allNodes` is required")
    one(errs, 'spec.devices[2]: Invalid value: "{`nodeName`, `allNodes`}"')
    errs = slice_errors(slice_data(devices=[{"name": "a", "nodeName": "n"}]))
    one(errs, "can only be set if `perDeviceNodeSelection` is set to true")


def test_binding_conditions() -> None:
    dev = {"name": "d", "bindingConditions": ["a", "a"], "bindingFailureConditions": ["a"]}
    errs = slice_errors(slice_data(devices=[dev]))
    assert 'spec.devices[0].bindingConditions[1]: Duplicate value: "a"' in errs
    one(errs, "bindingFailureConditions must not overlap with bindingConditions")
    errs = slice_errors(slice_data(devices=[{"name": "d", "bindingConditions": ["a"]}]))
    one(errs, "bindingFailureConditions are required to use bindingConditions")
    errs = slice_errors(slice_data(devices=[{"name": "d", "bindingConditions": list("abcde"), "bindingFailureConditions": ["f"]}]))
    assert "spec.devices[0].bindingConditions: Too many: 5: must have at most 4 items" in errs


def test_metadata_name() -> None:
    data = slice_data()
    data["metadata"] = {}
    assert "metadata.name: Required value: name or generateName is required" in slice_errors(data)
    data["metadata"] = {"name": "Bad_Name"}
    one(slice_errors(data), 'metadata.name: Invalid value: "Bad_Name"')
    data["metadata"] = {"generateName": "node-1-gpu.nvidia.com-"}
    assert slice_errors(data) == []


# -- claims -----------------------------------------------------------------------------


def claim(devices: dict[str, Any]) -> ResourceClaim:
    return ResourceClaim.from_dict({"metadata": {"name": "c", "namespace": "default"}, "spec": {"devices": devices}})


def test_valid_claim() -> None:
    c = claim(
        {
            "requests": [
                {"name": "gpu", "exactly": {"deviceClassName": "gpu.nvidia.com", "count": 2}},
                {"name": "alt", "firstAvailable": [{"name": "big", "deviceClassName": "a"}, {"name": "small", "deviceClassName": "b", "allocationMode": "All"}]},
            ],
            "constraints": [{"requests": ["gpu", "alt/big"], "matchAttribute": "gpu.nvidia.com/nvlinkDomain"}],
            "config": [{"requests": ["alt"], "opaque": {"driver": "gpu.nvidia.com", "parameters": {"x": 1}}}],
        }
    )
    assert errors_of(c) == []


def test_request_rules() -> None:
    c = claim(
        {
            "requests": [
                {"name": "a"},
                {"name": "a", "exactly": {"deviceClassName": "c"}, "firstAvailable": [{"name": "x", "deviceClassName": "c"}]},
                {"name": "b", "exactly": {"allocationMode": "future-mode"}},
                {"name": "c", "exactly": {"deviceClassName": "c", "allocationMode": "All", "count": 2}},
                {"name": "d", "exactly": {"deviceClassName": "c", "count": -1}},
                {"name": "e", "exactly": {"deviceClassName": "c", "selectors": [{}]}},
                {"name": "f", "firstAvailable": [{"name": "x", "deviceClassName": "c"}] * 9},
            ]
        }
    )
    errs = errors_of(c)
    p = "spec.devices.requests"
    assert f"{p}[0]: Required value: exactly one of `exactly` or `firstAvailable` is required" in errs
    assert f'{p}[1]: Invalid value: "null": exactly one of `exactly` or `firstAvailable` is required, but multiple fields are set' in errs
    assert f'{p}[1]: Duplicate value: "a"' in errs
    assert f"{p}[2].exactly.deviceClassName: Required value" in errs
    assert f'{p}[2].exactly.allocationMode: Unsupported value: "future-mode": supported values: "All", "ExactCount"' in errs
    assert f"{p}[3].exactly.count: Invalid value: 2: must not be specified when allocationMode is 'All'" in errs
    assert f"{p}[4].exactly.count: Invalid value: -1: must be greater than zero" in errs
    assert f"{p}[5].exactly.selectors[0].cel: Required value" in errs
    assert f"{p}[6].firstAvailable: Too many: 9: must have at most 8 items" in errs


def test_too_many_requests() -> None:
    c = claim({"requests": [{"name": f"r{i}", "exactly": {"deviceClassName": "c"}} for i in range(33)]})
    assert errors_of(c) == ["spec.devices.requests: Too many: 33: must have at most 32 items"]


def test_constraints_reference_existing_requests() -> None:
    c = claim(
        {
            "requests": [{"name": "a", "exactly": {"deviceClassName": "c"}}],
            "constraints": [
                {"requests": ["a", "nope", "a/x"], "matchAttribute": "dra.example.com/model"},
                {},
                {"matchAttribute": "model"},
                {"matchAttribute": "a.b/c", "distinctAttribute": "a.b/d"},
            ],
        }
    )
    errs = errors_of(c)
    p = "spec.devices.constraints"
    msg = "must be the name of a request in the claim or the name of a request and a subrequest separated by '/'"
    assert f'{p}[0].requests[1]: Invalid value: "nope": {msg}' in errs
    assert f'{p}[0].requests[2]: Invalid value: "a/x": {msg}' in errs
    assert f'{p}[1]: Required value: exactly one of "matchAttribute" or "distinctAttribute" is required' in errs
    assert f'{p}[2].matchAttribute: Invalid value: "model": a fully qualified name must be a domain and a name separated by a slash' in errs
    one(errs, f"{p}[3]: Invalid value")


def test_config_rules() -> None:
    c = claim(
        {
            "requests": [{"name": "a", "exactly": {"deviceClassName": "c"}}],
            "config": [{"requests": ["b"]}, {"opaque": {"driver": "d.example.com", "parameters": {"x": "y" * 10240}}}],
        }
    )
    errs = errors_of(c)
    one(errs, 'spec.devices.config[0].requests[0]: Invalid value: "b"')
    assert "spec.devices.config[0].opaque: Required value" in errs
    assert "spec.devices.config[1].opaque.parameters: Too long: may not be more than 10240 bytes" in errs


def test_tolerations() -> None:
    tols = [
        {"key": "k", "operator": "Exists", "value": "v"},
        {"key": "k", "operator": "Equal", "value": "-bad"},
        {"key": "k", "operator": "Sometimes"},
        {"key": "k", "operator": "Equal", "value": "v", "effect": "Later"},
        {"operator": "Exists", "effect": "NoExecute"},
    ]
    c = claim({"requests": [{"name": "a", "exactly": {"deviceClassName": "c", "tolerations": tols}}]})
    errs = errors_of(c)
    p = "spec.devices.requests[0].exactly.tolerations"
    assert f'{p}[0].value: Invalid value: "v": must be empty for operator `Exists`' in errs
    one(errs, f'{p}[1].value: Invalid value: "-bad"')
    assert f'{p}[2].operator: Unsupported value: "Sometimes": supported values: "Equal", "Exists"' in errs
    one(errs, f'{p}[3].effect: Unsupported value: "Later"')
    assert not any(e.startswith(f"{p}[4]") for e in errs)
    c = claim({"requests": [{"name": "a", "exactly": {"deviceClassName": "c", "tolerations": [{"key": "k", "operator": "Exists"}] * 17}}]})
    assert errors_of(c) == [f"{p}: Too many: 17: must have at most 16 items"]


def test_cel_length_and_hook() -> None:
    long_expr = "true || " * 1300 + "true"
    c = claim({"requests": [{"name": "a", "exactly": {"deviceClassName": "c", "selectors": [{"cel": {"expression": long_expr}}]}}]})
    assert errors_of(c) == ["spec.devices.requests[0].exactly.selectors[0].cel.expression: Too long: may not be more than 10240 bytes"]
    assert errors_of(c, stored=True) == []
    seen: list[tuple[str, str]] = []

    def hook(expr: str, path: str) -> list[FieldError]:
        seen.append((expr, path))
        if expr == "bad":
            raise UserError("compilation failed: ERROR: <input>:1:1: undeclared reference to 'bad'")
        return []

    cls = DeviceClass.from_dict({"metadata": {"name": "gpu.nvidia.com"}, "spec": {"selectors": [{"cel": {"expression": "true"}}, {"cel": {"expression": "bad"}}]}})
    errs = errors_of(cls, cel_check=hook)
    assert seen == [("true", "spec.selectors[0].cel.expression"), ("bad", "spec.selectors[1].cel.expression")]
    assert errs == ["spec.selectors[1].cel.expression: Invalid value: \"bad\": compilation failed: ERROR: <input>:1:1: undeclared reference to 'bad'"]


def test_device_class_rules() -> None:
    cls = DeviceClass.from_dict(
        {
            "metadata": {"name": "c"},
            "spec": {"selectors": [{}], "config": [{}, {"opaque": {"driver": "", "parameters": {}}}], "extendedResourceName": "cpu"},
        }
    )
    errs = errors_of(cls)
    assert "spec.selectors[0].cel: Required value" in errs
    assert "spec.config[0].opaque: Required value" in errs
    assert "spec.config[1].opaque.driver: Required value" in errs
    assert 'spec.extendedResourceName: Invalid value: "cpu": must be a valid extended resource name' in errs
    ok = DeviceClass.from_dict({"metadata": {"name": "c"}, "spec": {"extendedResourceName": "example.com/gpu"}})
    assert errors_of(ok) == []


def test_template_metadata_only_labels_and_annotations() -> None:
    t = ResourceClaimTemplate.from_dict(
        {
            "metadata": {"name": "t"},
            "spec": {"metadata": {"labels": {"a": "b"}, "name": "x"}, "spec": {"devices": {"requests": [{"name": "r"}]}}},
        }
    )
    errs = errors_of(t)
    assert "spec.metadata.name: Forbidden: cannot be set for a resource claim template" in errs
    assert "spec.spec.devices.requests[0]: Required value: exactly one of `exactly` or `firstAvailable` is required" in errs


def test_claim_status() -> None:
    data = {
        "metadata": {"name": "c"},
        "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "c"}}]}},
        "status": {
            "allocation": {
                "devices": {
                    "results": [
                        {"request": "gpu", "driver": "d.example.com", "pool": "p", "device": "dev-0", "shareID": "NOT-A-UUID"},
                        {"request": "other", "driver": "d.example.com", "pool": "p", "device": "dev-1"},
                    ],
                    "config": [{"source": "FromSomewhere", "opaque": {"driver": "d.example.com", "parameters": {}}}],
                }
            },
            "reservedFor": [{"resource": "pods", "name": "p", "uid": "1"}, {"resource": "pods", "name": "q", "uid": "1"}],
            "devices": [
                {"driver": "d.example.com", "pool": "p", "device": "dev-9", "networkData": {"ips": ["10.0.0.1", "10.0.0.2/24"]}},
            ],
        },
    }
    errs = errors_of(ResourceClaim.from_dict(data))
    one(errs, 'status.allocation.devices.results[0].shareID: Invalid value: "NOT-A-UUID"')
    one(errs, 'status.allocation.devices.results[1].request: Invalid value: "other"')
    assert 'status.allocation.devices.config[0].source: Unsupported value: "FromSomewhere": supported values: "FromClaim", "FromClass"' in errs
    assert 'status.reservedFor[1]: Duplicate value: "1"' in errs
    one(errs, "status.devices[0]: Invalid value: \"d.example.com/p/dev-9\": must be an allocated device in the claim")
    one(errs, 'status.devices[0].networkData.ips[0]: Invalid value: "10.0.0.1"')
    data2 = copy.deepcopy(data)
    del data2["status"]["allocation"]
    del data2["status"]["devices"]
    errs = errors_of(ResourceClaim.from_dict(data2))
    assert "status.reservedFor: Forbidden: may not be specified when `allocated` is not set" in errs


def test_device_taint_rule() -> None:
    rule = DeviceTaintRule.from_dict(
        {"metadata": {"name": "r"}, "spec": {"deviceSelector": {"driver": "BAD!", "device": "Dev"}, "taint": {"key": "k", "effect": "Evict"}}}
    )
    errs = errors_of(rule)
    one(errs, 'spec.deviceSelector.driver: Invalid value: "BAD!"')
    one(errs, 'spec.deviceSelector.device: Invalid value: "Dev"')
    assert 'spec.taint.effect: Unsupported value: "Evict": supported values: "NoExecute", "NoSchedule", "None"' in errs


def test_validate_or_raise_one_line() -> None:
    s = ResourceSlice.from_dict(slice_data(driver="", devices=[{"name": f"d-{i}"} for i in range(129)]))
    with pytest.raises(ValidationError) as info:
        validate_or_raise(s, source="slices.yaml:1")
    msg = str(info.value)
    assert msg.startswith("slices.yaml:1: ResourceSlice node-1-gpu is invalid: spec.driver: Required value")
    assert "spec.devices: Too many: 129: must have at most 128 items" in msg
    assert "\n" not in msg and len(info.value.errors) >= 2
    assert isinstance(info.value, UserError)
    validate_or_raise(ResourceSlice.from_dict(slice_data()))
    with pytest.raises(ValidationError, match="unsupported Kubernetes version"):
        validate(s, k8s_version="1.30")


def test_conformance_objects_only_report_known_rule_breaks(shared_dir: Any) -> None:
    """The upstream allocator table uses names the API would refuse (e.g. ``capacity-0``,
    ``subReq-0``); validation must run over all of them without crashing."""
    import json

    files = sorted((shared_dir / "conformance" / "allocator-v1.35").glob("*.json"))
    if not files:
        pytest.skip("no conformance cases")
    total = 0
    for path in files:
        case = json.loads(path.read_text())
        for key, cls in (("classes", DeviceClass), ("slices", ResourceSlice), ("claims", ResourceClaim)):
            for raw in case.get(key) or []:
                total += len(validate(cls.from_dict(raw)))
    assert total > 0


def test_pool_checks_across_slices() -> None:
    from dra.api.validation import validate_pools

    def mk(name: str, devices: list[dict[str, Any]] | None = None, counters: list[dict[str, Any]] | None = None, count: int = 3, gen: int = 1) -> ResourceSlice:
        spec: dict[str, Any] = {"driver": "gpu.nvidia.com", "pool": {"name": "node-1", "generation": gen, "resourceSliceCount": count}, "nodeName": "node-1"}
        if devices is not None:
            spec["devices"] = devices
        if counters is not None:
            spec["sharedCounters"] = counters
        return ResourceSlice.from_dict({"metadata": {"name": name}, "spec": spec})

    counters = mk("c", counters=[{"name": "gpu-0", "counters": {"memory": {"value": "80Gi"}}}])
    a = mk("a", devices=[{"name": "gpu-0-mig-a", "consumesCounters": [{"counterSet": "gpu-0", "counters": {"memory": {"value": "10Gi"}}}]}])
    b = mk("b", devices=[{"name": "gpu-0-mig-b", "consumesCounters": [{"counterSet": "gpu-0", "counters": {"memory": {"value": "10Gi"}}}]}])
    assert validate_pools([counters, a, b]) == []
    stale = mk("old", devices=[{"name": "gpu-0-mig-a"}], gen=0)
    assert validate_pools([counters, a, b, stale]) == []  # older generations are ignored

    bad = mk("b", devices=[
        {"name": "gpu-0-mig-a"},
        {"name": "x", "consumesCounters": [{"counterSet": "nope", "counters": {"memory": {"value": "1"}}}, {"counterSet": "gpu-0", "counters": {"sm": {"value": "1"}}}]},
    ])
    errs = [str(e) for e in validate_pools([counters, a, bad, mk("c2", counters=[{"name": "gpu-0", "counters": {"x": {"value": "1"}}}])], k8s_version="1.35")]
    p = "pool gpu.nvidia.com/node-1"
    assert f'{p}: slice b: spec.devices[0].name: Duplicate value: "gpu-0-mig-a" (also in slice a)' in errs
    assert f'{p}: slice b: spec.devices[1].consumesCounters[0].counterSet: Invalid value: "nope": must reference a counter set defined in the pool' in errs
    assert f'{p}: slice b: spec.devices[1].consumesCounters[1].counters: Invalid value: "sm": must reference a counter of counter set "gpu-0"' in errs
    assert f'{p}: slice c2: spec.sharedCounters[0].name: Duplicate value: "gpu-0" (also in slice c)' in errs
    errs = [str(e) for e in validate_pools([counters, a])]
    assert errs == [f"{p}: spec.pool.resourceSliceCount: Invalid value: 3: pool is incomplete: 2 of 3 slices published"]
    errs = [str(e) for e in validate_pools([counters, a, mk("b", devices=[], count=4)])]
    assert any("disagree on the slice count" in e for e in errs)


def test_validation_never_crashes_on_generated_objects() -> None:
    """Any structurally valid object yields a list of field errors, never an exception."""
    from hypothesis import given, settings

    from tests.test_api_models import claim_data, slice_data as gen_slices

    @given(gen_slices, claim_data)
    @settings(max_examples=60)
    def run(slice_raw: dict[str, Any], claim_raw: dict[str, Any]) -> None:
        s = ResourceSlice.from_dict(slice_raw)
        c = ResourceClaim.from_dict(claim_raw)
        for version in ("1.34", "1.35"):
            for obj in (s, c):
                errs = validate(obj, k8s_version=version)
                assert all(isinstance(e, FieldError) and e.message for e in errs)

    run()
