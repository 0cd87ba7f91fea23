"""Run one oracle problem through ``dra.allocator`` and compare with upstream's answer.

:func:`solve_ours` gives our answer in the oracle's shape; :func:`differences` lists what
disagrees, in words (empty = the same). What is compared:

* the outcome: allocated, unschedulable or error (and, for errors, whether upstream
  calls it node-local; the wording is not compared, only reported);
* per claim, the device results in order: request, driver, pool, device, adminAccess,
  consumed capacity (by value), whether a share ID is present (upstream draws random
  UUIDs), binding conditions, skipNodeOperations; the config entries; the node selector (order-insensitive).

Where upstream's own pool order is unspecified (Go map order: every variant before 1.36
and 1.36+ ``stable``) and a problem has more than one pool, only the outcome is compared,
and it counts as the same when ours gives it under *some* order of the pools: upstream
itself may answer with other devices, or fail in another way, from run to run.
"""

from __future__ import annotations

import json
from typing import Any

from dra.allocator import AllocatedState, AllocationError, Allocator, Features
from dra.allocator.variants import Behaviour, choose_variant


def _features(problem: dict[str, Any]) -> Features:
    return Features.from_mapping(problem.get("features") or {})


def behaviour_for(problem: dict[str, Any], minor: str) -> Behaviour:
    features = _features(problem)
    return Behaviour(minor, problem.get("variant") or choose_variant(minor, features))


def solve_ours(problem: dict[str, Any], minor: str) -> dict[str, Any]:
    """Our allocator's answer to ``problem`` under ``minor``, in the oracle's answer shape."""
    from dra.api import DeviceClass, DeviceID, Node, Quantity, ResourceClaim, ResourceSlice

    features = _features(problem)
    behaviour = behaviour_for(problem, minor)
    classes = [DeviceClass.from_dict(c) for c in problem.get("classes") or []]
    slices = [ResourceSlice.from_dict(s) for s in problem.get("slices") or []]
    claims = [ResourceClaim.from_dict(c) for c in problem.get("claims") or []]
    node_dict = problem.get("node")
    if node_dict is None and problem.get("nodeName"):
        node_dict = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": problem["nodeName"]}}
    node = Node.from_dict(node_dict) if node_dict else None
    state = AllocatedState()
    allocated = problem.get("allocated") or {}
    for d in allocated.get("devices") or []:
        state.devices.add(DeviceID(d["driver"], d["pool"], d["device"]))
    for d in allocated.get("sharedDeviceIDs") or []:
        state.shared_devices.add(DeviceID(d["driver"], d["pool"], d["device"]))
    for entry in allocated.get("consumedCapacity") or []:
        d = entry["device"]
        state.capacity[DeviceID(d["driver"], d["pool"], d["device"])] = {
            k: Quantity(str(v)) for k, v in (entry.get("consumedCapacity") or {}).items()
        }
    answer: dict[str, Any] = {"id": problem.get("id"), "results": None, "unschedulable": False,
                              "error": None, "nodeLocal": False, "variant": behaviour.variant}
    try:
        cel = problem.get("celFeatures")
        cel_gates = None if cel is None else {
            "DRAConsumableCapacity": bool(cel.get("EnableConsumableCapacity")),
            "DRAListTypeAttributes": bool(cel.get("EnableListTypeAttributes")),
        }
        alloc = Allocator(features, classes, slices, state, behaviour=behaviour, cel_gates=cel_gates)
        results = alloc.allocate_dicts(node, claims)
    except AllocationError as err:
        answer["error"] = str(err)
        answer["nodeLocal"] = bool(getattr(err, "node_local", False))
        return answer
    if results is None:
        answer["unschedulable"] = True
    else:
        answer["results"] = results
    return answer


def _qty(v: Any) -> str:
    from dra.api import Quantity

    return str(Quantity(str(v)))


def _device_key(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "request": r.get("request"), "driver": r.get("driver"), "pool": r.get("pool"), "device": r.get("device"),
    }
    if r.get("adminAccess"):
        out["adminAccess"] = True
    if r.get("shareID"):
        out["shareID"] = "<present>"
    if r.get("consumedCapacity"):
        out["consumedCapacity"] = {k: _qty(v) for k, v in sorted(r["consumedCapacity"].items())}
    for field in ("bindingConditions", "bindingFailureConditions", "skipNodeOperations"):
        if r.get(field):
            out[field] = list(r[field])
    if r.get("tolerations"):
        out["tolerations"] = r["tolerations"]
    return out


def _selector(sel: Any) -> Any:
    if not sel:
        return None
    terms = []
    for term in sel.get("nodeSelectorTerms") or []:
        t = {}
        for kind in ("matchExpressions", "matchFields"):
            reqs = sorted(json.dumps({"key": r.get("key"), "operator": r.get("operator"),
                                      "values": sorted(r.get("values") or [])}, sort_keys=True)
                          for r in term.get(kind) or [])
            if reqs:
                t[kind] = reqs
        terms.append(json.dumps(t, sort_keys=True))
    return sorted(terms)


def canonical_result(result: dict[str, Any], *, with_devices: bool = True) -> dict[str, Any]:
    devices = result.get("devices") or {}
    out: dict[str, Any] = {"nodeSelector": _selector(result.get("nodeSelector"))}
    if with_devices:
        out["results"] = [_device_key(r) for r in devices.get("results") or []]
        out["config"] = [
            {"source": c.get("source"), "requests": sorted(c.get("requests") or []),
             "opaque": c.get("opaque")}
            for c in devices.get("config") or []
        ]
    return out


def outcome(answer: dict[str, Any]) -> str:
    if answer.get("error") is not None:
        return "error"
    if answer.get("unschedulable") or answer.get("results") is None:
        return "unschedulable"
    return "allocated"


def pool_count(problem: dict[str, Any]) -> int:
    return len({((s.get("spec") or {}).get("driver"), ((s.get("spec") or {}).get("pool") or {}).get("name"))
                for s in problem.get("slices") or []})


def _pool_orders(problem: dict[str, Any]) -> list[dict[str, Any]]:
    """The problem with its pools in every other order (slice order kept within a pool)."""
    import itertools

    groups: dict[Any, list[dict[str, Any]]] = {}
    for s in problem.get("slices") or []:
        spec = s.get("spec") or {}
        groups.setdefault((spec.get("driver"), (spec.get("pool") or {}).get("name")), []).append(s)
    keys = list(groups)
    out = []
    for order in list(itertools.permutations(keys))[1:24]:
        out.append(dict(problem, slices=[s for k in order for s in groups[k]]))
    return out


def differences(problem: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any], minor: str) -> list[str]:
    """What differs between our answer and upstream's (empty when they agree)."""
    diffs: list[str] = []
    if theirs.get("panic"):
        return [f"upstream panicked: {str(theirs.get('error'))[:300]}"]
    if theirs.get("variant") and theirs["variant"] != ours.get("variant"):
        diffs.append(f"variant: ours {ours.get('variant')}, upstream {theirs['variant']}")
    o, t = outcome(ours), outcome(theirs)
    behaviour = behaviour_for(problem, minor)
    unordered = not behaviour.ordered and pool_count(problem) > 1
    if o != t and unordered:
        for reordered in _pool_orders(problem):
            again = solve_ours(reordered, minor)
            if outcome(again) == t:
                ours, o = again, t
                break
    if o != t:
        detail = f" (upstream error: {theirs.get('error')})" if t == "error" else ""
        detail += f" (our error: {ours.get('error')})" if o == "error" else ""
        diffs.append(f"outcome: ours {o}, upstream {t}{detail}")
        return diffs
    if t == "error":
        if bool(ours.get("nodeLocal")) != bool(theirs.get("nodeLocal")):
            diffs.append(f"error class: ours nodeLocal={ours.get('nodeLocal')}, upstream "
                         f"nodeLocal={theirs.get('nodeLocal')} ({theirs.get('error')})")
        return diffs
    if t != "allocated":
        return diffs
    exact = not unordered
    ours_c = [canonical_result(r, with_devices=exact) for r in ours["results"]]
    theirs_c = [canonical_result(r, with_devices=exact) for r in theirs["results"]]
    if ours_c != theirs_c:
        diffs.append("allocation:\n  ours:     " + json.dumps(ours_c, sort_keys=True)
                     + "\n  upstream: " + json.dumps(theirs_c, sort_keys=True))
    return diffs
