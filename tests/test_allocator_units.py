"""Unit tests of the allocator's building blocks (features, node matching, capacity
policies, taints, constraints) and of its behaviour on hand-made claims."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest


from dra.allocator import AllocatedState, AllocationError, Allocator, Features
from dra.allocator.capacity import consumed_for, violates_policy
from dra.allocator.features import FeatureNameError
from dra.allocator.model import CapacityInfo
from dra.allocator.nodes import NodeView, node_matches
from dra.allocator.taints import blocking_taint, tolerates
from dra.api import DeviceClass, DeviceID, Node, Quantity, ResourceClaim, ResourceSlice

D = "driver.example.com"


# ------------------------------------------------------------------ features
def test_features_from_upstream_and_gate_names():
    f = Features.from_names(["AdminAccess", "DRAPartitionableDevices", "DRADeviceBindingConditions"])
    assert f.admin_access and f.partitionable_devices
    assert not f.device_binding_and_status  # needs both binding gates
    f = Features.from_names(["DRADeviceBindingConditions", "DRAResourceClaimDeviceStatus"])
    assert f.device_binding_and_status
    assert Features.from_names(["DeviceBinding", "DeviceStatus"]).device_binding_and_status  # 1.34 names
    assert Features.all_enabled().names() == sorted(
        ["AdminAccess", "ConsumableCapacity", "DeviceBindingAndStatus", "DeviceTaints",
         "PartitionableDevices", "PrioritizedList"])
    with pytest.raises(FeatureNameError, match="unknown feature 'Bogus'"):
        Features.from_names(["Bogus"])


# -------------------------------------------------------------- node match
def _req(key, op, values=None):
    return NS(key=key, operator=op, values=values)


def _selector(*exprs, fields=()):
    return NS(node_selector_terms=[NS(match_expressions=list(exprs), match_fields=list(fields))])


def test_node_selection_rules():
    node = NodeView("n1", {"region": "r1", "gpus": "8"})
    assert node_matches(node, "n1", None, None)
    assert not node_matches(node, "n2", None, None)
    assert node_matches(node, None, True, None)
    assert not node_matches(None, "n1", None, None)
    assert node_matches(node, None, None, _selector(_req("region", "In", ["r1", "r2"])))
    assert not node_matches(node, None, None, _selector(_req("region", "NotIn", ["r1"])))
    assert node_matches(node, None, None, _selector(_req("gpus", "Gt", ["4"]), _req("zone", "DoesNotExist")))
    assert node_matches(node, None, None, _selector(fields=[_req("metadata.name", "In", ["n1"])]))
    assert not node_matches(node, None, None, NS(node_selector_terms=[NS(match_expressions=[], match_fields=[])]))
    with pytest.raises(AllocationError, match="failed to parse node selector"):
        node_matches(node, None, None, _selector(_req("gpus", "Gt", ["many"])))


# ------------------------------------------------------------------ capacity
def _cap(value, policy=None):
    return CapacityInfo("memory", NS(value=Quantity(value), request_policy=policy))


def test_capacity_rounding_by_range_and_values():
    rng = NS(default=Quantity("2"), valid_values=None,
             valid_range=NS(min=Quantity("2"), max=Quantity("8"), step=Quantity("2")))
    cap = _cap("8", rng)
    assert consumed_for(Quantity("3"), cap) == Quantity("4")
    assert consumed_for(Quantity("1"), cap) == Quantity("2")
    assert consumed_for(None, cap) == Quantity("2")
    assert violates_policy(Quantity("10"), cap)
    values = NS(default=Quantity("1Gi"), valid_values=[Quantity("1Gi"), Quantity("4Gi")], valid_range=None)
    cap = _cap("8Gi", values)
    assert consumed_for(Quantity("2Gi"), cap) == Quantity("4Gi")
    assert consumed_for(Quantity("5Gi"), cap) == Quantity("5Gi")
    assert violates_policy(Quantity("5Gi"), cap)
    assert consumed_for(None, _cap("8Gi")) == Quantity("8Gi")


def test_taint_effects_and_tolerations():
    taint = NS(key="k", value="v", effect="NoSchedule")
    assert tolerates(NS(key="k", operator="Equal", value="v", effect=None), taint)
    assert tolerates(NS(key=None, operator="Exists", value=None, effect=None), taint)
    assert not tolerates(NS(key="k", operator="Equal", value="w", effect=None), taint)
    assert not tolerates(NS(key="k", operator="Exists", value=None, effect="NoExecute"), taint)
    info = NS(key="k", value="v", effect="None")
    assert blocking_taint([info], []) is None
    assert blocking_taint([taint], []) is taint


# ------------------------------------------------------- end-to-end behaviour
def _class(name="gpu", expr=f'device.driver == "{D}"'):
    return DeviceClass.from_dict({"metadata": {"name": name}, "spec": {"selectors": [{"cel": {"expression": expr}}]}})


def _slice(devices, node="n1", name="s1", pool="p1", **extra):
    spec = {"driver": D, "pool": {"name": pool, "generation": 1, "resourceSliceCount": 1},
            "nodeName": node, "devices": devices, **extra}
    return ResourceSlice.from_dict({"metadata": {"name": name}, "spec": spec})


def _dev(name, **attrs):
    return {"name": name, "attributes": {k: ({"int": v} if isinstance(v, int) else {"string": v})
                                          for k, v in attrs.items()}}


def _claim(name, *requests, constraints=None, ns="ns"):
    devices = {"requests": list(requests)}
    if constraints:
        devices["constraints"] = constraints
    return ResourceClaim.from_dict({"metadata": {"name": name, "namespace": ns}, "spec": {"devices": devices}})


def _exact(name, count=1, cls="gpu", **extra):
    return {"name": name, "exactly": {"deviceClassName": cls, "allocationMode": "ExactCount", "count": count, **extra}}


NODE = Node.from_dict({"metadata": {"name": "n1"}})


def test_backtracks_to_satisfy_match_attribute():
    slices = [_slice([_dev("a", numa=0), _dev("b", numa=1), _dev("c", numa=1)])]
    claim = _claim("c", _exact("r", 2), constraints=[{"matchAttribute": f"{D}/numa"}])
    (result,) = Allocator(Features(), [_class()], slices).allocate(NODE, [claim])
    assert [r.device for r in result.devices.results] == ["b", "c"]


def test_in_use_devices_are_skipped_and_state_is_per_call():
    slices = [_slice([_dev("a"), _dev("b")])]
    alloc = Allocator(Features(), [_class()], slices)
    claim = _claim("c", _exact("r", 1))
    busy = AllocatedState(devices={DeviceID(D, "p1", "a")})
    assert alloc.allocate(NODE, [claim], allocated=busy)[0].devices.results[0].device == "b"
    assert alloc.allocate(NODE, [claim])[0].devices.results[0].device == "a"
    both = AllocatedState(devices={DeviceID(D, "p1", "a"), DeviceID(D, "p1", "b")})
    assert alloc.allocate(NODE, [claim], allocated=both) is None


def test_other_nodes_slices_are_invisible():
    slices = [_slice([_dev("a")], node="n2")]
    assert Allocator(Features(), [_class()], slices).allocate(NODE, [_claim("c", _exact("r"))]) is None


@pytest.mark.parametrize(
    "request_, features, message",
    [
        (_exact("r", cls="missing"), Features(), "claim ns/c, request r: could not retrieve device class missing"),
        (_exact("r", adminAccess=True), Features(), "claim ns/c, request r: admin access is requested, but the feature is disabled"),
        ({"name": "r", "firstAvailable": [{"name": "s", "deviceClassName": "gpu"}]}, Features(),
         "claim ns/c, request r: has subrequests, but the DRAPrioritizedList feature is disabled"),
        (_exact("r", 33), Features(), "claim ns/c: number of requested devices 33 exceeds the claim limit of 32"),
        (_exact("r", selectors=[{"cel": {"expression": "device.nope"}}]), Features(), "claim ns/c: selector #0: CEL compile error"),
        (_exact("r", allocationMode="Some"), Features(), "claim ns/c, request r: unsupported count mode Some"),
    ],
)
def test_bad_claims_are_errors_naming_claim_and_request(request_, features, message):
    slices = [_slice([_dev("a")])]
    with pytest.raises(AllocationError) as err:
        Allocator(features, [_class()], slices).allocate(NODE, [_claim("c", request_)])
    assert message in str(err.value)


def test_runtime_error_names_device_and_request():
    slices = [_slice([_dev("a")])]
    bad = _exact("r", selectors=[{"cel": {"expression": f'device.attributes["{D}"].missing == 1'}}])
    with pytest.raises(AllocationError) as err:
        Allocator(Features(), [_class()], slices).allocate(NODE, [_claim("c", bad)])
    msg = str(err.value)
    assert f"claim ns/c: selector #0 on device {D}/p1/a: CEL runtime error" in msg
    assert "(request r)" in msg


def test_allocated_state_from_claims():
    claim = ResourceClaim.from_dict({
        "metadata": {"name": "x"}, "spec": {"devices": {"requests": []}},
        "status": {"allocation": {"devices": {"results": [
            {"request": "r", "driver": D, "pool": "p", "device": "a"},
            {"request": "r", "driver": D, "pool": "p", "device": "b", "adminAccess": True},
            {"request": "r", "driver": D, "pool": "p", "device": "c",
             "shareID": "11111111-2222-3333-4444-555555555555", "consumedCapacity": {"mem": "1Gi"}},
        ]}}},
    })
    state = AllocatedState.from_claims([claim, claim])
    assert state.devices == {DeviceID(D, "p", "a")}
    assert state.capacity[DeviceID(D, "p", "c")]["mem"] == Quantity("2Gi")
    assert state.is_allocated(DeviceID(D, "p", "c")) and not state.is_allocated(DeviceID(D, "p", "b"))


def test_step_budget_turns_runaway_search_into_error():
    devices = [_dev(f"d{i}", numa=i // 2) for i in range(20)]  # pairs: never three alike
    claim = _claim("c", _exact("r", 3), constraints=[{"matchAttribute": f"{D}/numa"}])
    alloc = Allocator(Features(), [_class()], [_slice(devices)], max_steps=20)
    with pytest.raises(AllocationError, match="filter operation aborted"):
        alloc.allocate(NODE, [claim])
    assert Allocator(Features(), [_class()], [_slice(devices)]).allocate(NODE, [claim]) is None


def test_explain_all_mode_names_the_blocking_device():
    from dra.allocator import explain

    slices = [_slice([_dev("a"), _dev("b"), _dev("c")])]
    alloc = Allocator(Features(), [_class()], slices)
    claim = _claim("everything", {"name": "r", "exactly": {"deviceClassName": "gpu", "allocationMode": "All"}})
    busy = AllocatedState(devices={DeviceID(D, "p1", "b")})
    assert alloc.allocate(NODE, [claim], allocated=busy) is None
    text = explain(alloc, NODE, [claim], allocated=busy).text()
    assert "claim ns/everything: cannot be allocated" in text
    assert "needs all devices; 2 of 3 devices on the node qualify" in text
    assert f"nearest miss: {D}/p1/b - matches, but allocationMode All needs every matching device" in text
    assert "already allocated to another claim" in text


def test_explain_reports_claims_competing_for_devices():
    from dra.allocator import explain

    slices = [_slice([_dev("a"), _dev("b"), _dev("c")])]
    alloc = Allocator(Features(), [_class()], slices)
    claims = [_claim("first", _exact("r", 2)), _claim("second", _exact("r", 2))]
    assert alloc.allocate(NODE, claims) is None
    text = explain(alloc, NODE, claims).text()
    assert "claim ns/second: cannot be allocated" in text
    assert "fits on its own, but not together with the claims before it" in text
    assert "claim ns/first" not in text
