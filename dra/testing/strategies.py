"""Hypothesis strategies for DRA objects: slices, classes, claims, whole scenarios.

For users who test their own DRA tooling (and for this project's property tests)::

    from hypothesis import given
    from dra.testing import strategies as drast

    @given(drast.scenarios())
    def test_my_scheduler(scenario):
        allocator = Allocator(scenario.features, scenario.classes, scenario.slices)
        results = allocator.allocate(scenario.node, scenario.claims, allocated=scenario.allocated)
        ...

Everything generated is *valid* resource.k8s.io/v1 (1.35) input: device names unique per
pool, counters consumed only from counter sets that exist, request policies only on
multi-allocatable devices, selectors that evaluate without errors on every generated
device (all devices carry every attribute and capacity the selector menu uses).

Building blocks (all return strategies of Kubernetes-JSON dicts unless noted):

* :func:`device_dicts`, :func:`slice_dicts` (one pool on one node, optionally with a
  counter slice and partitionable devices), :func:`class_dicts`, :func:`claim_dicts`
* :func:`scenarios` - a :class:`Scenario` of parsed objects plus features and an
  :class:`~dra.allocator.AllocatedState`; knobs switch counters, capacity, taints,
  constraints, All mode and admin access on or off.

Selectors come from :data:`SELECTOR_MENU`, which pairs every CEL expression with an
equivalent Python predicate over the device dict, so tests can check "every chosen device
satisfies its selectors" without trusting the CEL implementation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from hypothesis import strategies as st

DRIVER = "gpu.example.com"
NODE = "node-1"
POOL = "pool-1"
OTHER_DOMAIN = "example.com"

MODELS = ("a100", "h100")
VERSIONS = ("1.0.0", "1.2.0")
NVLINK = ("nvl-0", "nvl-1")


def _attr(device: dict[str, Any], name: str) -> Any:
    a = device["attributes"][name]
    return next(iter(a.values()))


def _gi(q: str) -> int:
    return int(q.removesuffix("Gi"))


# (CEL expression, Python predicate over a generated device dict)
SELECTOR_MENU: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    (f'device.driver == "{DRIVER}"', lambda d: True),
    (f'device.attributes["{DRIVER}"].model == "h100"', lambda d: _attr(d, "model") == "h100"),
    (f'device.attributes["{DRIVER}"].model == "a100"', lambda d: _attr(d, "model") == "a100"),
    (f'device.attributes["{DRIVER}"].numa == 0', lambda d: _attr(d, "numa") == 0),
    (f'device.attributes["{DRIVER}"].healthy', lambda d: _attr(d, "healthy") is True),
    (
        f'device.capacity["{DRIVER}"].memory.compareTo(quantity("40Gi")) >= 0',
        lambda d: _gi(d["capacity"]["memory"]["value"]) >= 40,
    ),
    (
        f'device.attributes["{DRIVER}"].driverVersion.isGreaterThan(semver("1.1.0"))',
        lambda d: _attr(d, "driverVersion") == "1.2.0",
    ),
]
PREDICATES = dict(SELECTOR_MENU)

# Constraint attributes (fully qualified); every device has all of them.
CONSTRAINT_ATTRIBUTES = (f"{DRIVER}/model", f"{DRIVER}/numa", f"{OTHER_DOMAIN}/nvlink")


@dataclass
class Knobs:
    """Which features a generated scenario may use."""

    counters: bool = True
    capacity: bool = True
    taints: bool = True
    constraints: bool = True
    all_mode: bool = True
    admin: bool = False
    prioritized: bool = True
    max_devices: int = 6
    max_requests: int = 3
    max_claims: int = 2


@dataclass
class Scenario:
    features: Any
    node: Any
    classes: list[Any]
    slices: list[Any]
    claims: list[Any]
    allocated: Any
    raw: dict[str, Any] = field(default_factory=dict)  # the dicts the objects came from


# ------------------------------------------------------------------ devices
@st.composite
def device_dicts(
    draw: st.DrawFn,
    name: str,
    *,
    counter_sets: dict[str, list[str]] | None = None,
    multi: bool = False,
    taints: bool = False,
) -> dict[str, Any]:
    """One device carrying every attribute the selector menu reads."""
    memory = draw(st.sampled_from([20, 40, 80]))
    dev: dict[str, Any] = {
        "name": name,
        "attributes": {
            "model": {"string": draw(st.sampled_from(MODELS))},
            "numa": {"int": draw(st.integers(0, 1))},
            "healthy": {"bool": draw(st.booleans())},
            "driverVersion": {"version": draw(st.sampled_from(VERSIONS))},
            f"{OTHER_DOMAIN}/nvlink": {"string": draw(st.sampled_from(NVLINK))},
        },
        "capacity": {"memory": {"value": f"{memory}Gi"}},
    }
    if multi:
        dev["allowMultipleAllocations"] = True
        dev["capacity"]["memory"]["requestPolicy"] = draw(
            st.sampled_from(
                [
                    None,
                    {"default": "10Gi", "validRange": {"min": "10Gi", "step": "10Gi", "max": f"{memory}Gi"}},
                    {"default": "20Gi", "validValues": ["10Gi", "20Gi"]},
                ]
            )
        )
        if dev["capacity"]["memory"]["requestPolicy"] is None:
            del dev["capacity"]["memory"]["requestPolicy"]
    if counter_sets and draw(st.booleans()):
        set_name = draw(st.sampled_from(sorted(counter_sets)))
        counters = counter_sets[set_name]
        chosen = draw(st.lists(st.sampled_from(counters), min_size=1, max_size=len(counters), unique=True))
        dev["consumesCounters"] = [
            {"counterSet": set_name, "counters": {c: {"value": str(draw(st.integers(1, 3)))} for c in chosen}}
        ]
    if taints and draw(st.integers(0, 3)) == 0:
        dev["taints"] = [
            {"key": draw(st.sampled_from(["maintenance", "unhealthy"])),
             "value": "true",
             "effect": draw(st.sampled_from(["NoSchedule", "NoExecute", "None"]))}
        ]
    return dev


@st.composite
def slice_dicts(draw: st.DrawFn, knobs: Knobs = Knobs(), *, node: str = NODE) -> list[dict[str, Any]]:
    """The slices of one pool on one node: a device slice and maybe a counter slice."""
    n = draw(st.integers(1, knobs.max_devices))
    counter_sets: dict[str, list[str]] = {}
    slices: list[dict[str, Any]] = []
    if knobs.counters and draw(st.booleans()):
        counter_sets = {"gpu-0": ["mem", "sm"], "gpu-1": ["mem"]}
    devices = []
    for i in range(n):
        multi = knobs.capacity and draw(st.integers(0, 3)) == 0
        devices.append(
            draw(device_dicts(f"dev-{i}", counter_sets=counter_sets, multi=multi, taints=knobs.taints))
        )
    count = 2 if counter_sets else 1
    pool = {"name": POOL, "generation": 1, "resourceSliceCount": count}
    slices.append({
        "apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
        "metadata": {"name": f"{node}-devices"},
        "spec": {"driver": DRIVER, "pool": dict(pool), "nodeName": node, "devices": devices},
    })
    if counter_sets:
        slices.append({
            "apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
            "metadata": {"name": f"{node}-counters"},
            "spec": {
                "driver": DRIVER, "pool": dict(pool), "nodeName": node,
                "sharedCounters": [
                    {"name": s, "counters": {c: {"value": str(draw(st.integers(2, 5)))} for c in cs}}
                    for s, cs in counter_sets.items()
                ],
            },
        })
    return slices


@st.composite
def class_dicts(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Two classes: all devices of the driver, and a narrower one from the menu."""
    narrow = draw(st.sampled_from([e for e, _ in SELECTOR_MENU[1:]]))
    return [
        {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "gpu"},
         "spec": {"selectors": [{"cel": {"expression": SELECTOR_MENU[0][0]}}]}},
        {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "gpu-narrow"},
         "spec": {"selectors": [{"cel": {"expression": narrow}}],
                  "config": [{"opaque": {"driver": DRIVER, "parameters": {"sharing": "none"}}}]}},
    ]


@st.composite
def _exact(draw: st.DrawFn, knobs: Knobs, *, allow_all: bool) -> dict[str, Any]:
    req: dict[str, Any] = {"deviceClassName": draw(st.sampled_from(["gpu", "gpu-narrow"]))}
    if allow_all and knobs.all_mode and draw(st.integers(0, 4)) == 0:
        req["allocationMode"] = "All"
    else:
        req["allocationMode"] = "ExactCount"
        req["count"] = draw(st.integers(1, 2))
    sels = draw(st.lists(st.sampled_from([e for e, _ in SELECTOR_MENU]), max_size=2, unique=True))
    if sels:
        req["selectors"] = [{"cel": {"expression": e}} for e in sels]
    if knobs.taints and draw(st.booleans()):
        req["tolerations"] = [draw(st.sampled_from([
            {"key": "maintenance", "operator": "Exists"},
            {"key": "unhealthy", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
            {"operator": "Exists"},
        ]))]
    if knobs.capacity and req["allocationMode"] == "ExactCount" and draw(st.integers(0, 3)) == 0:
        req["capacity"] = {"requests": {"memory": draw(st.sampled_from(["5Gi", "10Gi", "15Gi", "30Gi"]))}}
    return req


@st.composite
def claim_dicts(draw: st.DrawFn, name: str, knobs: Knobs = Knobs()) -> dict[str, Any]:
    n = draw(st.integers(1, knobs.max_requests))
    requests = []
    for i in range(n):
        if knobs.prioritized and draw(st.integers(0, 4)) == 0:
            subs = []
            for j in range(draw(st.integers(1, 2))):
                sub = draw(_exact(knobs, allow_all=False))
                sub["name"] = f"alt-{j}"
                subs.append(sub)
            requests.append({"name": f"req-{i}", "firstAvailable": subs})
        else:
            exact = draw(_exact(knobs, allow_all=True))
            if knobs.admin and draw(st.integers(0, 5)) == 0:
                exact["adminAccess"] = True
            requests.append({"name": f"req-{i}", "exactly": exact})
    devices: dict[str, Any] = {"requests": requests}
    if knobs.constraints and draw(st.booleans()):
        kind = draw(st.sampled_from(["matchAttribute", "distinctAttribute"] if knobs.capacity else ["matchAttribute"]))
        constraint: dict[str, Any] = {kind: draw(st.sampled_from(CONSTRAINT_ATTRIBUTES))}
        if n > 1 and draw(st.booleans()):
            constraint["requests"] = [r["name"] for r in requests[:2]]
        devices["constraints"] = [constraint]
    return {
        "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": {"devices": devices},
    }


@st.composite
def scenarios(draw: st.DrawFn, knobs: Knobs = Knobs()) -> Scenario:
    """A whole allocation problem: features, node, classes, slices, claims, in-use state."""
    from dra.allocator import AllocatedState, Features
    from dra.api import DeviceClass, DeviceID, Node, ResourceClaim, ResourceSlice

    slices = draw(slice_dicts(knobs))
    classes = draw(class_dicts())
    claims = [draw(claim_dicts(f"claim-{i}", knobs)) for i in range(draw(st.integers(1, knobs.max_claims)))]
    devices = [d for s in slices for d in s["spec"].get("devices", [])]
    state = AllocatedState()
    for d in devices:
        if not d.get("allowMultipleAllocations") and draw(st.integers(0, 4)) == 0:
            state.devices.add(DeviceID(DRIVER, POOL, d["name"]))
    features = Features(
        admin_access=knobs.admin,
        prioritized_list=knobs.prioritized,
        partitionable_devices=knobs.counters,
        device_taints=knobs.taints,
        consumable_capacity=knobs.capacity,
        device_binding_and_status=False,
    )
    node = Node.from_dict({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
    return Scenario(
        features=features,
        node=node,
        classes=[DeviceClass.from_dict(c) for c in classes],
        slices=[ResourceSlice.from_dict(s) for s in slices],
        claims=[ResourceClaim.from_dict(c) for c in claims],
        allocated=state,
        raw={"slices": slices, "classes": classes, "claims": claims},
    )
