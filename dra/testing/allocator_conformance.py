"""Run transcribed upstream allocator test cases (``dra conformance allocator PATH``).

Case format: ``../shared/conformance/README.md``. Each case is run under several pool
orders (all permutations of the pools when there are at most 4, otherwise 24 seeded
shuffles), because upstream leaves the order of pools unspecified and a correct
implementation must give the expected outcome under every order. Results are compared
the way the upstream test does: ``unordered-results`` compares the device results as a
set (no config, node selector order-insensitive), ``exact`` compares the whole
AllocationResult. Share IDs are normalised to a fixed UUID; quantities are compared by
value. ``expectNumAllocateOneInvocations`` is reported but not enforced (upstream skips it
for one of its own variants).
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from dra.errors import UserError

FIXED_SHARE_ID = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"
MAX_EXHAUSTIVE_POOLS = 4
RANDOM_ORDERS = 24


class ConformanceInputError(UserError):
    pass


@dataclass
class CaseOutcome:
    name: str
    passed: bool
    message: str = ""
    notes: list[str] = field(default_factory=list)


def load_cases(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.exists():
        raise ConformanceInputError(f"{p}: no such file or directory")
    cases: list[dict[str, Any]] = []
    if p.is_dir():
        files = sorted(p.glob("*.json")) + sorted(p.glob("*.jsonl"))
        if not files:
            raise ConformanceInputError(f"{p}: no *.json or *.jsonl case files")
        for f in files:
            cases.extend(load_cases(f))
        return cases
    text = p.read_text(encoding="utf-8")
    if p.suffix == ".jsonl":
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    cases.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ConformanceInputError(f"{p}:{lineno}: invalid JSON: {err.msg}") from None
        return cases
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConformanceInputError(f"{p}:{err.lineno}: invalid JSON: {err.msg}") from None
    return data if isinstance(data, list) else [data]


# ----------------------------------------------------------------- normalising
def _quantity_str(v: Any) -> str:
    from dra.api import Quantity

    return str(Quantity(str(v)))


def _prune(value: Any) -> Any:
    """Drop None, empty lists/maps and false adminAccess, recursively."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _prune(v)
            if v is None or v == [] or v == {}:
                continue
            if k == "adminAccess" and v is False:
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def normalise_result(entry: dict[str, Any]) -> dict[str, Any]:
    e = _prune(entry)
    if e.get("shareID"):
        e["shareID"] = FIXED_SHARE_ID
    if "consumedCapacity" in e:
        e["consumedCapacity"] = {k: _quantity_str(v) for k, v in e["consumedCapacity"].items()}
    return e


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _selector_canon(selector: Any) -> Any:
    """Node selector with term/requirement/value order made irrelevant."""
    if not selector:
        return None
    terms = []
    for term in selector.get("nodeSelectorTerms") or []:
        t = {}
        for kind in ("matchExpressions", "matchFields"):
            reqs = sorted(
                _canon({"key": r.get("key"), "operator": r.get("operator"),
                        "values": sorted(r.get("values") or [])})
                for r in term.get(kind) or []
            )
            if reqs:
                t[kind] = reqs
        terms.append(_canon(t))
    return sorted(terms)


def allocation_matches(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    exp_alloc = _prune(expected["allocation"])
    act = _prune(actual)
    if expected.get("match") == "exact":
        return _canon(_normalise_alloc(exp_alloc)) == _canon(_normalise_alloc(act))
    if act.get("allocationTimestamp") or (act.get("devices") or {}).get("config"):
        return False
    exp_results = sorted(_canon(normalise_result(r)) for r in (exp_alloc.get("devices") or {}).get("results", []))
    act_results = sorted(_canon(normalise_result(r)) for r in (act.get("devices") or {}).get("results", []))
    if exp_results != act_results:
        return False
    return _selector_canon(exp_alloc.get("nodeSelector")) == _selector_canon(act.get("nodeSelector"))


def _normalise_alloc(alloc: dict[str, Any]) -> dict[str, Any]:
    out = dict(alloc)
    devices = dict(out.get("devices") or {})
    if "results" in devices:
        devices["results"] = [normalise_result(r) for r in devices["results"]]
    if devices:
        out["devices"] = devices
    if "nodeSelector" in out:
        out["nodeSelector"] = _selector_canon(out["nodeSelector"])
    return out


def _assign(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> bool:
    """ConsistOf: a one-to-one matching between expected and actual (any order)."""
    if len(expected) != len(actual):
        return False
    used = [False] * len(actual)

    def go(i: int) -> bool:
        if i == len(expected):
            return True
        for j, a in enumerate(actual):
            if not used[j] and allocation_matches(expected[i], a):
                used[j] = True
                if go(i + 1):
                    return True
                used[j] = False
        return False

    return go(0)


# ------------------------------------------------------------------- running
def pool_orders(slices: list[dict[str, Any]], seed: str) -> Iterator[list[dict[str, Any]]]:
    """The case's slices regrouped under different pool orders (slice order kept per pool)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in slices:
        spec = s.get("spec") or {}
        key = (spec.get("driver", ""), (spec.get("pool") or {}).get("name", ""))
        groups.setdefault(key, []).append(s)
    keys = list(groups)
    yield list(slices)
    if len(keys) <= 1:
        return
    if len(keys) <= MAX_EXHAUSTIVE_POOLS:
        orders = list(itertools.permutations(keys))[1:]
    else:
        rng = random.Random(seed)
        orders = []
        for _ in range(RANDOM_ORDERS):
            k = list(keys)
            rng.shuffle(k)
            orders.append(tuple(k))
    for order in orders:
        yield [s for k in order for s in groups[k]]


def run_case(case: dict[str, Any]) -> CaseOutcome:
    from dra.allocator import AllocatedState, AllocationError, Allocator, Features
    from dra.api import DeviceClass, DeviceID, Node, Quantity, ResourceClaim, ResourceSlice

    name = case.get("name", "<unnamed>")
    try:
        features = Features.from_mapping(case.get("features") or {})
        node = Node.from_dict(case["node"]) if case.get("node") else None
        classes = [DeviceClass.from_dict(c, path=f"classes[{i}]") for i, c in enumerate(case.get("classes") or [])]
        claims = [ResourceClaim.from_dict(c, path=f"claims[{i}]") for i, c in enumerate(case.get("claims") or [])]
        state = AllocatedState()
        for d in case.get("allocatedDevices") or []:
            state.devices.add(DeviceID(d["driver"], d["pool"], d["device"]))
        for entry in case.get("allocatedCapacity") or []:
            d = entry["device"]
            state.capacity[DeviceID(d["driver"], d["pool"], d["device"])] = {
                k: Quantity(str(v)) for k, v in (entry.get("consumedCapacity") or {}).items()
            }
    except UserError as err:
        return CaseOutcome(name, False, f"cannot load case: {err}")
    expect = case["expect"]
    notes: list[str] = []
    for order_index, raw_slices in enumerate(pool_orders(case.get("slices") or [], name)):
        try:
            slices = [ResourceSlice.from_dict(s, path=f"slices[{i}]") for i, s in enumerate(raw_slices)]
        except UserError as err:
            return CaseOutcome(name, False, f"cannot load case: {err}")
        allocator = Allocator(features, classes, slices, state, behaviour=_behaviour(case, features))
        where = "" if order_index == 0 else f" (pool order #{order_index})"
        try:
            results = allocator.allocate(node, claims)
            actual: Any = None if results is None else [r.to_dict() for r in results]
            error = None
        except AllocationError as err:
            actual, error = None, str(err)
        if expect["outcome"] == "error":
            want = expect["error"]["contains"]
            if error is None or want not in error:
                got = f"error {error!r}" if error else _describe(actual)
                return CaseOutcome(name, False, f"expected error containing {want!r}, got {got}{where}")
            continue
        if error is not None:
            return CaseOutcome(name, False, f"expected {expect['outcome']}, got error {error!r}{where}")
        if expect["outcome"] == "unschedulable":
            if actual is not None:
                return CaseOutcome(name, False, f"expected unschedulable, got {_describe(actual)}{where}")
            continue
        if actual is None:
            return CaseOutcome(name, False, f"expected an allocation, got unschedulable{where}")
        if not _assign(expect.get("allocations") or [], actual):
            return CaseOutcome(
                name, False,
                f"allocation differs{where}:\n    expected: {json.dumps(expect.get('allocations'))}"
                f"\n    actual:   {json.dumps(actual)}",
            )
        want_steps = case.get("expectNumAllocateOneInvocations")
        if order_index == 0 and want_steps is not None and allocator.last_stats.steps != want_steps:
            notes.append(
                f"note: {allocator.last_stats.steps} search steps, upstream counts {want_steps}"
            )
    return CaseOutcome(name, True, notes=notes)


def _behaviour(case: dict[str, Any], features: Any) -> Any:
    """The allocator variant of the case's ``kubernetesVersion`` (default 1.35, the table's release)."""
    from dra.allocator.variants import Behaviour, NoVariant

    minor = case.get("kubernetesVersion") or "1.35"
    try:
        return Behaviour.of(minor, features)
    except NoVariant:
        return Behaviour.of("1.37", features)


def _describe(actual: Any) -> str:
    if actual is None:
        return "unschedulable"
    return f"allocation {json.dumps(actual)}"


def run_allocator_conformance(path: str | Path, verbose: bool = False) -> int:
    cases = load_cases(path)
    passed = failed = 0
    for case in cases:
        outcome = run_case(case)
        if outcome.passed:
            passed += 1
            if verbose:
                print(f"PASS {outcome.name}")
                for note in outcome.notes:
                    print(f"    {note}")
        else:
            failed += 1
            print(f"FAIL {outcome.name}: {outcome.message}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
