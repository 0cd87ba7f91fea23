"""Property tests of the allocator with the public hypothesis strategies.

Invariants on every generated scenario (all optional features on), and on small
instances an exhaustive search (tests/allocator_oracle.py) that must find an allocation
exactly when the allocator does. The exhaustive comparisons avoid mixing shared counters
or capacity with taint/constraint rejections, where upstream 1.35 deliberately keeps
counters reserved by a rejected candidate (a kept quirk, see dra/allocator/search.py).
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

from hypothesis import HealthCheck, assume, event, given, settings


from test_allocator_oracle import Oracle, _attr_value, _consumed, qty

from dra.allocator import AllocationError, Allocator
from dra.testing import strategies as drast

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _behaviour(features):
    # The brute-force model enumerates device *combinations* per request and assumes a
    # rejected candidate gives everything back: that is the 1.36 search (start location,
    # rollback). 1.35 may also take two shares of one shared device for one request.
    from dra.allocator.variants import Behaviour

    return Behaviour.of("1.36", features)


def _run(sc):
    alloc = Allocator(sc.features, sc.classes, sc.slices, behaviour=_behaviour(sc.features))
    try:
        return alloc.allocate(sc.node, sc.claims, allocated=sc.allocated), None
    except AllocationError as err:
        return None, err


def _requests(raw_claim):
    out = {}
    for r in raw_claim["spec"]["devices"]["requests"]:
        if "firstAvailable" in r:
            for s in r["firstAvailable"]:
                out[f"{r['name']}/{s['name']}"] = s
        else:
            out[r["name"]] = r["exactly"]
    return out


def _devices(raw):
    return {d["name"]: d for s in raw["slices"] for d in s["spec"].get("devices", [])}


@SETTINGS
@given(drast.scenarios())
def test_invariants_hold_for_every_allocation(sc):
    results, error = _run(sc)
    assume(error is None)
    if results is None:
        return
    assert len(results) == len(sc.claims)
    devices = _devices(sc.raw)
    classes = {c["metadata"]["name"]: c for c in sc.raw["classes"]}
    dedicated: set[str] = set()
    shares: dict[str, dict[str, Fraction]] = defaultdict(dict)
    counted: set[str] = set()
    counters: dict[tuple[str, str], Fraction] = defaultdict(Fraction)
    limits = {
        cs["name"]: {k: qty(v["value"]) for k, v in cs["counters"].items()}
        for s in sc.raw["slices"] for cs in s["spec"].get("sharedCounters", [])
    }
    allocated_names = {d.device for d in sc.allocated.devices}
    for raw_claim, result in zip(sc.raw["claims"], results):
        reqs = _requests(raw_claim)
        chosen_by_request = defaultdict(list)
        for r in result.devices.results:
            dev = devices[r.device]
            req = reqs[r.request]
            chosen_by_request[r.request].append(dev)
            # selectors of the class and of the request hold (checked without CEL)
            for sel in classes[req["deviceClassName"]]["spec"]["selectors"]:
                assert drast.PREDICATES[sel["cel"]["expression"]](dev)
            for sel in req.get("selectors", []):
                assert drast.PREDICATES[sel["cel"]["expression"]](dev)
            if dev.get("allowMultipleAllocations"):
                assert r.share_id
                for k, v in (r.consumed_capacity or {}).items():
                    shares[r.device][k] = shares[r.device].get(k, 0) + qty(str(v))
            else:
                # no device given twice, none that was already in use
                assert r.device not in dedicated, r.device
                assert r.device not in allocated_names
                dedicated.add(r.device)
            if dev.get("consumesCounters") and r.device not in counted:
                counted.add(r.device)
                for cc in dev["consumesCounters"]:
                    for k, v in cc["counters"].items():
                        counters[(cc["counterSet"], k)] += qty(v["value"])
        # All mode takes every matching device
        for name, req in reqs.items():
            if req.get("allocationMode") == "All":
                matching = {
                    d["name"] for d in devices.values()
                    if all(drast.PREDICATES[s["cel"]["expression"]](d)
                           for s in classes[req["deviceClassName"]]["spec"]["selectors"] + req.get("selectors", []))
                }
                assert {d["name"] for d in chosen_by_request[name]} == matching
        # constraints hold
        for c in raw_claim["spec"]["devices"].get("constraints", []):
            names = c.get("requests") or []
            covered = [
                d for rname, devs in chosen_by_request.items() for d in devs
                if not names or rname in names or rname.split("/")[0] in names
            ]
            values = [_attr_value(d, c.get("matchAttribute") or c.get("distinctAttribute")) for d in covered]
            assert None not in values
            if "matchAttribute" in c:
                assert len(set(values)) <= 1
    # counters never exceeded, shared capacity within the device's capacity
    for (set_name, counter), used in counters.items():
        assert used <= limits[set_name][counter]
    for name, per in shares.items():
        for k, used in per.items():
            assert used <= qty(devices[name]["capacity"][k]["value"])


def _exhaustive(sc):
    results, error = _run(sc)
    assume(error is None)
    allocated = {d.device for d in sc.allocated.devices}
    expected = Oracle(sc.raw, sc.features, allocated).solvable()
    event("solvable" if expected else "not solvable")
    assert (results is not None) == expected


@SETTINGS
@given(drast.scenarios(drast.Knobs(counters=True, capacity=False, taints=False, constraints=False)))
def test_exhaustive_agrees_with_counters(sc):
    _exhaustive(sc)


@SETTINGS
@given(drast.scenarios(drast.Knobs(counters=False, capacity=False, taints=True, constraints=True)))
def test_exhaustive_agrees_with_taints_and_constraints(sc):
    _exhaustive(sc)


@SETTINGS
@given(drast.scenarios(drast.Knobs(counters=False, capacity=True, taints=False, constraints=False)))
def test_exhaustive_agrees_with_consumable_capacity(sc):
    _exhaustive(sc)


@settings(max_examples=30, deadline=None)
@given(drast.scenarios())
def test_same_input_same_output(sc):
    first, err1 = _run(sc)
    second, err2 = _run(sc)
    assert str(err1) == str(err2)
    dump = lambda rs: None if rs is None else [r.to_dict() for r in rs]  # noqa: E731
    assert dump(first) == dump(second)


@settings(max_examples=30, deadline=None)
@given(drast.scenarios())
def test_reused_allocator_matches_fresh_one(sc):
    alloc = Allocator(sc.features, sc.classes, sc.slices, behaviour=_behaviour(sc.features))
    try:
        alloc.allocate(sc.node, sc.claims)  # warm the caches with another state
        reused = alloc.allocate(sc.node, sc.claims, allocated=sc.allocated)
    except AllocationError:
        return
    fresh, _ = _run(sc)
    dump = lambda rs: None if rs is None else [r.to_dict() for r in rs]  # noqa: E731
    assert dump(reused) == dump(fresh)


def test_consumed_helper_rounds_like_policy():
    dev = {"capacity": {"memory": {"value": "40Gi", "requestPolicy": {
        "default": "10Gi", "validRange": {"min": "10Gi", "step": "10Gi", "max": "40Gi"}}}}}
    assert _consumed(dev, {"memory": "15Gi"}) == {"memory": qty("20Gi")}


@settings(max_examples=40, deadline=None)
@given(drast.scenarios())
def test_generated_objects_are_valid_api_objects(sc):
    from dra.api.validation import validate

    for obj in [*sc.classes, *sc.slices, *sc.claims]:
        assert validate(obj, k8s_version="1.35") == [], obj.to_dict()
