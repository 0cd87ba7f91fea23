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
# With list-typed attributes (1.36+, DRAListTypeAttributes) every device also has these.
LIST_CONSTRAINT_ATTRIBUTES = (f"{DRIVER}/numaNodes", f"{OTHER_DOMAIN}/links")
LIST_SELECTORS = (
    f'device.attributes["{DRIVER}"].numaNodes.includes(1)',
    f'device.attributes["{OTHER_DOMAIN}"].links.exists(l, l == "l0")',
)
# 1.37 derivedAttributes: names (one shadows a real attribute) and expressions; the last one
# fails at run time on every device (no such key), which the API server cannot know.
DERIVED_NAMES = ("derived/key", f"{DRIVER}/model")
DERIVED_EXPRESSIONS = (
    f'device.attributes["{DRIVER}"].numa',
    f'device.attributes["{DRIVER}"].model',
    f'device.attributes["{DRIVER}"].numa == 0',
    f'[device.attributes["{DRIVER}"].numa, dyn(5)]',
    f'device.attributes["{DRIVER}"].driverVersion',
    f'device.capacity["{DRIVER}"].memory.compareTo(quantity("40Gi")) >= 0',
    f'device.attributes["{DRIVER}"].model == "h100" ? "big" : "small"',
    f'device.attributes["{DRIVER}"].nosuch',
)
DERIVED_LIST_EXPRESSIONS = (
    f'device.attributes["{DRIVER}"].numaNodes',
    f'device.attributes["{OTHER_DOMAIN}"].links.map(l, l + "x")',
)
SKIP_NODE_OPERATIONS = (["*"], ["NodeUnprepareResources"], ["NodePrepareResources", "NodeUnprepareResources"])
COMPATIBILITY_GROUPS = ([], ["mig"], ["vgpu"], ["mig", "vgpu"])
# DRAFractionalCapacityRange: a capacity with a fractional range (cores), and requests for it
FRACTIONAL_POLICY = {"default": "0.5", "validRange": {"min": "0.25", "step": "0.25", "max": "2"}}


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
    # 1.36/1.37 fields (off unless the version and its gates have them)
    lists: bool = False
    skip_node_operations: bool = False
    compat_groups: bool = False
    derived: bool = False
    fractional: bool = False


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
    qualify: bool = False,
    knobs: Knobs | None = None,
) -> dict[str, Any]:
    """One device carrying every attribute the selector menu reads.

    ``qualify`` writes the attribute and capacity names with the ``gpu.example.com/`` domain,
    so that the menu's selectors also hold on devices of another driver."""
    memory = draw(st.sampled_from([20, 40, 80]))
    q = f"{DRIVER}/" if qualify else ""
    dev: dict[str, Any] = {
        "name": name,
        "attributes": {
            f"{q}model": {"string": draw(st.sampled_from(MODELS))},
            f"{q}numa": {"int": draw(st.integers(0, 1))},
            f"{q}healthy": {"bool": draw(st.booleans())},
            f"{q}driverVersion": {"version": draw(st.sampled_from(VERSIONS))},
            f"{OTHER_DOMAIN}/nvlink": {"string": draw(st.sampled_from(NVLINK))},
        },
        "capacity": {f"{q}memory": {"value": f"{memory}Gi"}},
    }
    knobs = knobs or Knobs()
    if knobs.lists:
        dev["attributes"][f"{q}numaNodes"] = {
            "ints": draw(st.lists(st.integers(0, 2), min_size=1, max_size=2, unique=True))}
        dev["attributes"][f"{OTHER_DOMAIN}/links"] = {
            "strings": draw(st.lists(st.sampled_from(["l0", "l1", "l2"]), min_size=1, max_size=2, unique=True))}
    if multi and knobs.fractional and draw(st.booleans()):
        dev["capacity"][f"{q}cores"] = {"value": "2", "requestPolicy": FRACTIONAL_POLICY}
    if multi:
        dev["allowMultipleAllocations"] = True
        dev["capacity"][f"{q}memory"]["requestPolicy"] = draw(
            st.sampled_from(
                [
                    None,
                    {"default": "10Gi", "validRange": {"min": "10Gi", "step": "10Gi", "max": f"{memory}Gi"}},
                    {"default": "20Gi", "validValues": ["10Gi", "20Gi"]},
                ]
            )
        )
        if dev["capacity"][f"{q}memory"]["requestPolicy"] is None:
            del dev["capacity"][f"{q}memory"]["requestPolicy"]
    if counter_sets and draw(st.booleans()):
        set_name = draw(st.sampled_from(sorted(counter_sets)))
        counters = counter_sets[set_name]
        chosen = draw(st.lists(st.sampled_from(counters), min_size=1, max_size=len(counters), unique=True))
        dev["consumesCounters"] = [
            {"counterSet": set_name, "counters": {c: {"value": str(draw(st.integers(1, 3)))} for c in chosen}}
        ]
        if knobs.compat_groups:
            groups = draw(st.sampled_from(COMPATIBILITY_GROUPS))
            if groups:
                dev["consumesCounters"][0]["compatibilityGroups"] = groups
    if taints and draw(st.integers(0, 3)) == 3:
        dev["taints"] = [
            {"key": draw(st.sampled_from(["maintenance", "unhealthy"])),
             "value": "true",
             "effect": draw(st.sampled_from(["NoSchedule", "NoExecute", "None"]))}
        ]
    return dev


@st.composite
def slice_dicts(
    draw: st.DrawFn,
    knobs: Knobs = Knobs(),
    *,
    node: str = NODE,
    driver: str = DRIVER,
    pool_name: str = POOL,
    counters_in_device_slice: bool = False,
    names: tuple[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The slices of one pool on one node: a device slice and maybe a counter slice.

    ``counters_in_device_slice`` puts the counter sets into the device slice (the 1.34
    shape); ``names`` overrides the (device slice, counter slice) names."""
    n = draw(st.integers(1, knobs.max_devices))
    counter_sets: dict[str, list[str]] = {}
    slices: list[dict[str, Any]] = []
    if knobs.counters and draw(st.booleans()):
        counter_sets = {"gpu-0": ["mem", "sm"], "gpu-1": ["mem"]}
    devices = []
    for i in range(n):
        multi = knobs.capacity and draw(st.integers(0, 3)) == 0
        devices.append(
            draw(device_dicts(f"dev-{i}", counter_sets=counter_sets, multi=multi, taints=knobs.taints,
                              qualify=driver != DRIVER, knobs=knobs))
        )
    device_name, counter_name = names or (f"{node}-devices", f"{node}-counters")
    shared = [
        {"name": s, "counters": {c: {"value": str(draw(st.integers(2, 5)))} for c in cs}}
        for s, cs in counter_sets.items()
    ]
    count = 2 if counter_sets and not counters_in_device_slice else 1
    pool = {"name": pool_name, "generation": 1, "resourceSliceCount": count}
    spec: dict[str, Any] = {"driver": driver, "pool": dict(pool), "nodeName": node, "devices": devices}
    if knobs.skip_node_operations and draw(st.integers(0, 3)) == 3:
        spec["skipNodeOperations"] = draw(st.sampled_from(SKIP_NODE_OPERATIONS))
    if counter_sets and counters_in_device_slice:
        spec["sharedCounters"] = shared
    slices.append({
        "apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
        "metadata": {"name": device_name}, "spec": spec,
    })
    if counter_sets and not counters_in_device_slice:
        slices.append({
            "apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
            "metadata": {"name": counter_name},
            "spec": {"driver": driver, "pool": dict(pool), "nodeName": node, "sharedCounters": shared},
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
    menu = [e for e, _ in SELECTOR_MENU] + (list(LIST_SELECTORS) if knobs.lists else [])
    sels = draw(st.lists(st.sampled_from(menu), max_size=2 if draw(st.integers(0, 3)) == 3 else 1, unique=True))
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
        if knobs.fractional and draw(st.booleans()):
            req["capacity"]["requests"]["cores"] = draw(st.sampled_from(["0.3", "0.5", "1", "1500m"]))
    if knobs.derived and draw(st.integers(0, 2)) == 0:
        failing = DERIVED_EXPRESSIONS[-1]
        menu = DERIVED_EXPRESSIONS[:-1] + (DERIVED_LIST_EXPRESSIONS if knobs.lists else ())
        expression = failing if draw(st.integers(0, 15)) == 15 else draw(st.sampled_from(menu))
        req["derivedAttributes"] = [{"name": draw(st.sampled_from(DERIVED_NAMES)), "expression": expression}]
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
    kinds = ["matchAttribute", "distinctAttribute"] if knobs.capacity else ["matchAttribute"]
    constraints: list[dict[str, Any]] = []
    if knobs.constraints and draw(st.booleans()):
        attributes = CONSTRAINT_ATTRIBUTES + (LIST_CONSTRAINT_ATTRIBUTES if knobs.lists else ())
        constraint: dict[str, Any] = {draw(st.sampled_from(kinds)): draw(st.sampled_from(attributes))}
        if n > 1 and draw(st.booleans()):
            constraint["requests"] = [r["name"] for r in requests[:2]]
        constraints.append(constraint)
    # Every derived attribute must be used by a constraint (API validation); one for all requests.
    derived_names = sorted({a["name"] for r in requests
                            for e in ([r["exactly"]] if "exactly" in r else r["firstAvailable"])
                            for a in e.get("derivedAttributes", [])})
    used = {next(iter(c.values())) for c in constraints if "requests" not in c}
    for derived_name in derived_names:
        if derived_name not in used:
            constraints.append({draw(st.sampled_from(kinds)): derived_name})
    if constraints:
        devices["constraints"] = constraints
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
        if not d.get("allowMultipleAllocations") and draw(st.integers(0, 4)) == 4:
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


# ----------------------------------------------------------- oracle problems
@st.composite
def oracle_problems(
    draw: st.DrawFn, minor: str, features: Any, *, multi_pool: bool = True, capacity: bool | None = None,
    gates: Any = None,
) -> dict[str, Any]:
    """One problem in the upstream-oracle line format (``dra.testing.oracle``) for ``minor``.

    The knobs follow ``features`` (a :class:`dra.allocator.Features`): only what the
    features enable is generated, so that the objects are what that version's API server
    accepts. ``multi_pool`` adds a second pool (sometimes of a second driver with the same
    pool name) and slice names out of input order, to exercise pool/slice ordering and the
    counter cache keys. ``capacity=False`` leaves consumable capacity out even when the
    feature is on.

    ``gates`` (the API server's and scheduler's gates, a mapping) adds the 1.36/1.37 fields
    those gates allow: list-typed attributes with constraints and ``includes()`` selectors
    over them, ``compatibilityGroups``, ``derivedAttributes`` and fractional capacity ranges.
    With every 1.37 gate on, some problems give the scheduler fewer features than the API
    server had (a skew upstream handles: slices with groups ignored, requests with derived
    attributes refused), so those paths are compared too.
    """
    from dra.allocator import AllocatedState  # noqa: F401 - documents the state shape

    knobs = Knobs(
        counters=features.partitionable_devices,
        capacity=features.consumable_capacity if capacity is None else capacity and features.consumable_capacity,
        taints=features.device_taints,
        admin=features.admin_access,
        prioritized=features.prioritized_list,
        max_devices=4 if multi_pool else 6,
        # Fewer requests than the property tests use: with three requests per claim most
        # problems need more devices than a node has and end as "unschedulable" early.
        max_requests=2,
    )
    on = {g for g, v in (gates or {}).items() if v}
    if minor >= "1.36" and "DRAListTypeAttributes" in on:
        knobs.lists = True
    if minor >= "1.37":
        knobs.compat_groups = knobs.counters and "DRADeviceCompatibilityGroups" in on
        knobs.skip_node_operations = "DRAOptionalNodeOperations" in on
        knobs.derived = "DRADerivedAttributes" in on
        knobs.fractional = knobs.capacity and "DRAFractionalCapacityRange" in on
    layouts = [(DRIVER, POOL)]
    if multi_pool and draw(st.booleans()):
        layouts.append(draw(st.sampled_from([(DRIVER, "pool-0"), ("other.example.com", POOL)])))
        if draw(st.booleans()):
            layouts.reverse()
    slices: list[dict[str, Any]] = []
    letters = draw(st.permutations(["a", "b", "c", "d"]))
    for i, (driver, pool_name) in enumerate(layouts):
        names = (f"s-{letters[2 * i]}", f"s-{letters[2 * i + 1]}")
        slices += draw(slice_dicts(knobs, driver=driver, pool_name=pool_name,
                                   counters_in_device_slice=minor == "1.34", names=names))
    classes = draw(class_dicts())
    claims = [draw(claim_dicts(f"claim-{i}", knobs)) for i in range(draw(st.integers(1, knobs.max_claims)))]
    allocated = []
    # Shares other claims already hold on multi-allocatable devices (the scheduler's
    # AllocatedSharedDeviceIDs and AggregatedCapacity): whether such a device holds the
    # counters it consumes differs by minor and variant, a difference only the real 1.34/1.35
    # schedulers showed until these were generated.
    shared: list[dict[str, Any]] = []
    consumed: list[dict[str, Any]] = []
    for s in slices:
        for d in s["spec"].get("devices", []):
            ref = {"driver": s["spec"]["driver"], "pool": s["spec"]["pool"]["name"], "device": d["name"]}
            if not d.get("allowMultipleAllocations"):
                if draw(st.integers(0, 4)) == 4:
                    allocated.append(ref)
            elif knobs.capacity and draw(st.integers(0, 3)) >= (2 if d.get("consumesCounters") else 3):
                shared.append(ref | {"shareID": str(draw(st.uuids(version=4)))})
                memory = next(name for name in d.get("capacity", {}) if name.endswith("memory"))
                consumed.append({"device": ref, "consumedCapacity": {memory: "10Gi"}})
    problem_features = features
    if minor >= "1.37" and (knobs.compat_groups or knobs.derived or knobs.skip_node_operations) \
            and draw(st.integers(0, 3)) == 0:
        from dataclasses import replace

        from dra.allocator.variants import features_for_gates
        from dra.versions import default_gates

        problem_features = draw(st.sampled_from([
            replace(features, compatibility_groups=False),
            replace(features, derived_attributes=False),
            replace(features, optional_node_operations=False),
            features_for_gates(minor, default_gates(minor)),  # a scheduler with the default gates
        ]))
    problem: dict[str, Any] = {
        "features": problem_features.upstream_mapping(minor),
        "classes": classes,
        "slices": slices,
        "claims": claims,
        "nodeName": NODE,
        "allocated": {"devices": allocated, **({"sharedDeviceIDs": shared, "consumedCapacity": consumed} if shared else {})},
    }
    if knobs.skip_node_operations and draw(st.integers(0, 3)) != 3:
        # A node whose kubelet declares DRAOptionalNodeOperations (else such devices are refused).
        problem.pop("nodeName")
        problem["node"] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE},
                           "status": {"declaredFeatures": ["DRAOptionalNodeOperations"]}}
    if knobs.lists:
        # The scheduler's CEL takes the list gate directly (1.36: not via allocator Features).
        problem["celFeatures"] = {"EnableConsumableCapacity": "DRAConsumableCapacity" in on,
                                  "EnableListTypeAttributes": True}
    return problem
