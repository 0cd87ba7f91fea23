"""Behaviour from the reference (§5) that the shared sample cases do not all exercise:
pool generations and completeness, All-mode errors, node selectors of results, config
propagation, admin access, binding-condition ordering, distinctAttribute."""

from __future__ import annotations

import pytest

from dra.allocator import AllocatedState, AllocationError, Allocator, Features
from dra.api import DeviceClass, DeviceID, Node, ResourceClaim, ResourceSlice

D = "drv.example.com"
NODE = Node.from_dict({"metadata": {"name": "n1", "labels": {"zone": "a", "rack": "r1"}}})


def cls(name="c", config=None):
    spec = {"selectors": [{"cel": {"expression": f'device.driver == "{D}"'}}]}
    if config:
        spec["config"] = [{"opaque": {"driver": D, "parameters": p}} for p in config]
    return DeviceClass.from_dict({"metadata": {"name": name}, "spec": spec})


def sl(name, devices, *, pool="p", gen=1, count=1, **node):
    node = node or {"nodeName": "n1"}
    return ResourceSlice.from_dict({"metadata": {"name": name}, "spec": {
        "driver": D, "pool": {"name": pool, "generation": gen, "resourceSliceCount": count},
        "devices": [d if isinstance(d, dict) else {"name": d} for d in devices], **node}})


def claim(*requests, constraints=None, config=None, name="cl"):
    devices = {"requests": list(requests)}
    if constraints:
        devices["constraints"] = constraints
    if config:
        devices["config"] = config
    return ResourceClaim.from_dict({"metadata": {"name": name}, "spec": {"devices": devices}})


def req(name, count=1, cls_name="c", **extra):
    return {"name": name, "exactly": {"deviceClassName": cls_name, "allocationMode": "ExactCount",
                                      "count": count, **extra}}


def all_req(name, cls_name="c"):
    return {"name": name, "exactly": {"deviceClassName": cls_name, "allocationMode": "All"}}


def devices_of(result):
    return [r.device for r in result.devices.results]


def run(slices, claims, features=Features(), classes=None, state=None):
    return Allocator(features, classes or [cls()], slices).allocate(NODE, claims, allocated=state)


def test_only_the_newest_generation_is_used():
    slices = [sl("old", ["a"], gen=1), sl("new", ["b"], gen=2)]
    (r,) = run(slices, [claim(req("r"))])
    assert devices_of(r) == ["b"]


def test_incomplete_pool_is_skipped_for_exact_count_and_an_error_for_all():
    slices = [sl("s1", ["a"], count=2), sl("other", ["z"], pool="q")]
    (r,) = run(slices, [claim(req("r"))])
    assert devices_of(r) == ["z"]
    with pytest.raises(AllocationError, match=f"request r: asks for all devices, but resource pool {D}/p is currently being updated"):
        run(slices, [claim(all_req("r"))])


def test_pool_spread_over_nodes_is_complete():
    slices = [sl("s1", ["a"], count=2), sl("s2", ["b"], count=2, nodeName="n2")]
    (r,) = run(slices, [claim(all_req("r"))])
    assert devices_of(r) == ["a"]


def test_invalid_pool_error_only_when_nothing_fits():
    slices = [sl("s1", ["a", "a"]), sl("other", ["z"], pool="q")]
    (r,) = run(slices, [claim(req("r"))])
    assert devices_of(r) == ["z"]
    with pytest.raises(AllocationError, match="invalid resource pools were encountered") as err:
        run(slices, [claim(req("r", 2))])
    assert err.value.node_local
    with pytest.raises(AllocationError, match="is currently invalid"):
        run(slices, [claim(all_req("r"))])


def test_result_node_selector_merges_selector_terms_and_pins_node_local_devices():
    by_zone = {"nodeSelector": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "zone", "operator": "In", "values": ["a"]}]}]}}
    by_rack = {"nodeSelector": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "rack", "operator": "In", "values": ["r1"]}]}]}}
    slices = [sl("s1", ["a"], pool="p1", **by_zone), sl("s2", ["b"], pool="p2", **by_rack),
              sl("s3", ["c"], pool="p3", allNodes=True)]
    (r,) = run(slices, [claim(req("r", 3))])
    terms = r.to_dict()["nodeSelector"]["nodeSelectorTerms"]
    assert len(terms) == 1
    assert sorted(e["key"] for e in terms[0]["matchExpressions"]) == ["rack", "zone"]
    (r,) = run([sl("s3", ["c"], pool="p3", allNodes=True)], [claim(req("r"))])
    assert r.node_selector is None
    (r,) = run([sl("s1", ["a"])], [claim(req("r"))])
    assert r.to_dict()["nodeSelector"] == {"nodeSelectorTerms": [{"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}


def test_class_and_claim_config_in_the_result():
    classes = [cls("c", config=[{"x": 1}]), cls("d", config=[{"y": 2}])]
    config = [{"opaque": {"driver": D, "parameters": {"all": True}}},
              {"requests": ["r1", "r2"], "opaque": {"driver": D, "parameters": {"two": True}}}]
    c = claim(req("r1"), req("r2"), req("r3", cls_name="d"), config=config)
    (r,) = run([sl("s", ["a", "b", "e"])], [c], classes=classes)
    got = [(x["source"], x.get("requests"), x["opaque"]["parameters"]) for x in r.to_dict()["devices"]["config"]]
    assert got == [
        ("FromClass", ["r1", "r2"], {"x": 1}),
        ("FromClass", ["r3"], {"y": 2}),
        ("FromClaim", None, {"all": True}),
        # upstream 1.35 appends a claim config once per request it names
        ("FromClaim", ["r1", "r2"], {"two": True}),
        ("FromClaim", ["r1", "r2"], {"two": True}),
    ]


def test_admin_access_reuses_devices_in_use():
    state = AllocatedState(devices={DeviceID(D, "p", "a")})
    features = Features(admin_access=True)
    (r,) = run([sl("s", ["a"])], [claim(req("r", adminAccess=True))], features, state=state)
    assert devices_of(r) == ["a"] and r.devices.results[0].admin_access is True
    assert run([sl("s", ["a"])], [claim(req("r"))], features, state=state) is None


def test_binding_condition_pools_are_tried_last():
    bound = {"name": "a", "bindingConditions": ["ready"], "bindingFailureConditions": ["failed"]}
    slices = [sl("s1", [bound], pool="p1"), sl("s2", ["b"], pool="p2")]
    features = Features(device_binding_and_status=True)
    (r,) = run(slices, [claim(req("r"))], features)
    assert devices_of(r) == ["b"]
    (r,) = run(slices, [claim(req("r", 2))], features)
    assert devices_of(r) == ["b", "a"]
    assert r.devices.results[1].binding_conditions == ["ready"]
    assert run(slices, [claim(req("r", 2))]) is None  # feature off: not selectable


def test_distinct_attribute_needs_different_values():
    def dev(n, v):
        return {"name": n, "attributes": {"numa": {"int": v}}}
    slices = [sl("s", [dev("a", 0), dev("b", 0), dev("c", 1)])]
    c = claim(req("r1"), req("r2"), constraints=[{"distinctAttribute": f"{D}/numa"}])
    (r,) = run(slices, [c], Features(consumable_capacity=True))
    assert devices_of(r) == ["a", "c"]


def test_first_available_falls_back_to_the_next_alternative():
    c = claim({"name": "r", "firstAvailable": [
        {"name": "big", "deviceClassName": "c", "allocationMode": "ExactCount", "count": 3},
        {"name": "small", "deviceClassName": "c", "allocationMode": "ExactCount", "count": 1}]})
    (r,) = run([sl("s", ["a", "b"])], [c], Features(prioritized_list=True))
    assert [x.request for x in r.devices.results] == ["r/small"]


def test_outcome_does_not_depend_on_pool_order():
    slices = [sl("s1", ["a"], pool="p1"), sl("s2", ["b", "c"], pool="p2")]
    c = claim(req("r", 2), constraints=[{"matchAttribute": f"{D}/missing"}])
    assert run(slices, [c]) is None
    assert run(list(reversed(slices)), [c]) is None


def test_many_claims_together_do_not_exhaust_the_stack():
    devices = [f"d{i}" for i in range(1200)]
    slices = [sl(f"s{i}", devices[i * 100:(i + 1) * 100], count=12) for i in range(12)]
    claims = [claim(req("r", 3), name=f"c{i}") for i in range(400)]
    results = run(slices, claims)
    assert results is not None and len(results) == 400
    assert devices_of(results[-1]) == ["d1197", "d1198", "d1199"]


def test_share_ids_are_deterministic_and_differ_per_share():
    shared = {"name": "g", "allowMultipleAllocations": True, "capacity": {"mem": {"value": "8"}}}
    c = claim(req("r", capacity={"requests": {"mem": "2"}}))
    features = Features(consumable_capacity=True)
    alloc = Allocator(features, [cls()], [sl("s", [shared])])
    first = alloc.allocate(NODE, [c])[0].devices.results[0]
    assert first.share_id == alloc.allocate(NODE, [c])[0].devices.results[0].share_id
    state = AllocatedState()
    state.add_result(first)
    second = alloc.allocate(NODE, [c], allocated=state)[0].devices.results[0]
    assert second.share_id != first.share_id
    assert str(second.consumed_capacity["mem"]) == "2"
