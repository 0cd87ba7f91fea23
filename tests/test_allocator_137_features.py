"""1.37 alpha allocator features without Go: compatibility groups, derived attributes,
skipNodeOperations, fractional capacity ranges (each also checked against upstream by the
oracle regressions and generated problems; these pin the semantics and the explanations)."""

from __future__ import annotations

from typing import Any

import pytest

from dra.allocator import AllocatedState, AllocationError, Allocator, explain
from dra.api import DeviceClass, DeviceID, Node, ResourceClaim, ResourceSlice
from dra.versions import KubernetesVersion, default_gates, gates_of

D = "gpu.example.com"
ALL_ON = KubernetesVersion(minor="1.37", gates={g: True for g in gates_of("1.37")})
DEFAULTS = KubernetesVersion(minor="1.37", gates=default_gates("1.37"))
CLASSES = [DeviceClass.from_dict({"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "gpu"},
                                  "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{D}"'}}]}})]


def _node(declared: list[str] | None = None) -> Node:
    status = {"declaredFeatures": declared} if declared else None
    return Node.from_dict({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "status": status})


def _slice(name: str, devices: list[dict[str, Any]] | None, *, count: int = 1, **spec: Any) -> ResourceSlice:
    body: dict[str, Any] = {"driver": D, "pool": {"name": "p", "generation": 1, "resourceSliceCount": count},
                            "nodeName": "n1", **spec}
    if devices is not None:
        body["devices"] = devices
    return ResourceSlice.from_dict({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
                                    "metadata": {"name": name}, "spec": body})


def _dev(name: str, groups: list[str] | None = None, numa: int = 0, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "attributes": {"numa": {"int": numa}}}
    if groups is not None:
        c: dict[str, Any] = {"counterSet": "gpu-0", "counters": {"mem": {"value": "1"}}}
        if groups:
            c["compatibilityGroups"] = groups
        d["consumesCounters"] = [c]
    d.update(extra)
    return d


def _claim(count: int = 1, constraints: list[dict[str, Any]] | None = None, **exact: Any) -> ResourceClaim:
    devices: dict[str, Any] = {"requests": [{"name": "r", "exactly": {"deviceClassName": "gpu", "count": count, **exact}}]}
    if constraints:
        devices["constraints"] = constraints
    return ResourceClaim.from_dict({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
                                    "metadata": {"name": "c", "namespace": "ns"}, "spec": {"devices": devices}})


def _picked(results: Any) -> list[str]:
    return [r.device for r in results[0].devices.results]


COUNTERS = _slice("s-b", None, count=2, sharedCounters=[{"name": "gpu-0", "counters": {"mem": {"value": "4"}}}])


def _compat_slices() -> list[ResourceSlice]:
    return [_slice("s-a", [_dev("a", ["mig"]), _dev("b", ["vgpu"]), _dev("c", ["mig", "vgpu"]), _dev("d", [])], count=2),
            COUNTERS]


def test_compatibility_groups_keep_a_running_intersection() -> None:
    alloc = Allocator.for_version(ALL_ON, CLASSES, _compat_slices())
    assert _picked(alloc.allocate(_node(), [_claim(2)])) == ["a", "c"]
    # with "a" in use only devices sharing "mig" remain; "d" (no groups) never goes with grouped ones
    busy = AllocatedState(devices={DeviceID(D, "p", "a")})
    assert _picked(alloc.allocate(_node(), [_claim(1)], allocated=busy)) == ["c"]
    assert alloc.allocate(_node(), [_claim(2)], allocated=busy) is None
    text = explain(alloc, _node(), [_claim(2)], allocated=busy).text()
    assert "compatibility groups do not intersect" in text


def test_without_the_gate_slices_with_groups_make_the_pool_incomplete() -> None:
    alloc = Allocator.for_version(DEFAULTS, CLASSES, _compat_slices())
    assert alloc.allocate(_node(), [_claim(1)]) is None
    with pytest.raises(AllocationError, match="is currently being updated"):
        alloc.allocate(_node(), [_claim(allocationMode="All")])


def test_derived_attributes_feed_constraints_only() -> None:
    slices = [_slice("s", [_dev("a", numa=0), _dev("b", numa=1), _dev("c", numa=2)])]
    parity = [{"name": "derived/parity", "expression": f'device.attributes["{D}"].numa % 2 == 0 ? "even" : "odd"'}]
    claim = _claim(2, [{"matchAttribute": "derived/parity"}], derivedAttributes=parity)
    assert _picked(Allocator.for_version(ALL_ON, CLASSES, slices).allocate(_node(), [claim])) == ["a", "c"]
    # a derived name shadows the device's own attribute for this request
    shadow = [{"name": f"{D}/numa", "expression": "0"}]
    claim = _claim(3, [{"distinctAttribute": f"{D}/numa"}], derivedAttributes=shadow)
    assert Allocator.for_version(ALL_ON, CLASSES, slices).allocate(_node(), [claim]) is None
    bad = [{"name": "derived/x", "expression": f'device.attributes["{D}"].nosuch'}]
    with pytest.raises(AllocationError, match="evaluate derived attribute derived/x on device"):
        Allocator.for_version(ALL_ON, CLASSES, slices).allocate(_node(), [_claim(1, [{"matchAttribute": "derived/x"}],
                                                                                  derivedAttributes=bad)])
    with pytest.raises(AllocationError, match="cannot handle request with derived attributes"):
        Allocator.for_version(DEFAULTS, CLASSES, slices).allocate(_node(), [_claim(1, [{"matchAttribute": "derived/x"}],
                                                                                    derivedAttributes=bad)])


def test_skip_node_operations_need_the_feature_and_a_declaring_node() -> None:
    slices = [_slice("s", [_dev("a")], skipNodeOperations=["*"])]
    alloc = Allocator.for_version(ALL_ON, CLASSES, slices)
    assert alloc.allocate(_node(), [_claim()]) is None
    assert "does not declare DRAOptionalNodeOperations" in explain(alloc, _node(), [_claim()]).text()
    results = alloc.allocate_dicts(_node(["DRAOptionalNodeOperations"]), [_claim()])
    assert results is not None and results[0]["devices"]["results"][0]["skipNodeOperations"] == ["*"]
    # the incubating variant (default gates) ignores the field
    results = Allocator.for_version(DEFAULTS, CLASSES, slices).allocate_dicts(_node(), [_claim()])
    assert results is not None and "skipNodeOperations" not in results[0]["devices"]["results"][0]


def test_fractional_capacity_range_rounds_in_milli_units() -> None:
    policy = {"default": "0.5", "validRange": {"min": "0.25", "step": "0.25", "max": "2"}}
    slices = [_slice("s", [{"name": "a", "allowMultipleAllocations": True,
                            "capacity": {"cores": {"value": "2", "requestPolicy": policy}}}])]
    claim = _claim(capacity={"requests": {"cores": "0.3"}})
    on = Allocator.for_version(DEFAULTS, CLASSES, slices).allocate_dicts(_node(), [claim])
    assert on is not None and on[0]["devices"]["results"][0]["consumedCapacity"] == {"cores": "500m"}
    off = KubernetesVersion(minor="1.37", gates={**default_gates("1.37"), "DRAFractionalCapacityRange": False})
    whole = Allocator.for_version(off, CLASSES, slices).allocate_dicts(_node(), [claim])
    assert whole is not None and whole[0]["devices"]["results"][0]["consumedCapacity"] == {"cores": "1"}
