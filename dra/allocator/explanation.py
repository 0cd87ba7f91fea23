"""Why can a claim not be allocated? A per-request account in plain words.

The kube-scheduler only reports "cannot allocate all claims". :func:`explain` re-runs the
allocator's own checks device by device for every request (or each firstAvailable
alternative) of the claims that do not fit, and counts how many devices of the node each
check removed, in the order the allocator applies them:

    already in use -> binding conditions -> class selectors -> request selectors ->
    per-device node selection -> shared counters -> consumable capacity -> taints

What survives is compared with what the request needs. When every request has enough
candidates on its own, the constraints (``matchAttribute``/``distinctAttribute``) and the
competition between requests and claims are examined. The "nearest miss" is the device
that failed the fewest checks, with the checks it failed.

The explanation only reads state; it never changes what :meth:`Allocator.allocate` returns.
"""

from __future__ import annotations

from collections import Counter as Tally
from dataclasses import dataclass, field
from typing import Any, Sequence

from dra.allocator.allocator import Allocator
from dra.allocator.capacity import CapacityNotRepresentable, UnknownCapacity, capacity_fits
from dra.allocator.constraints import attribute_value, lookup_attribute
from dra.allocator.model import DeviceInfo, device_id_str
from dra.allocator.requests import ALL, ClaimPlan, RequestData
from dra.allocator.search import Search
from dra.allocator.state import AllocatedState
from dra.allocator.taints import blocking_taint


@dataclass
class Stage:
    label: str
    eliminated: int


@dataclass
class RequestExplanation:
    request: str
    device_class: str
    needed: str  # "1", "all", ...
    visible: int
    stages: list[Stage]
    remaining: int
    enough: bool
    nearest_miss: str | None = None

    def lines(self) -> list[str]:
        out = [
            f"request {self.request} (class {self.device_class}): needs {self.needed} "
            f"device{'s' if self.needed != '1' else ''}; {self.remaining} of {self.visible} "
            f"devices on the node qualify"
        ]
        for st in self.stages:
            if st.eliminated:
                out.append(f"  - {st.eliminated} ruled out: {st.label}")
        if self.nearest_miss:
            out.append(f"  nearest miss: {self.nearest_miss}")
        return out


@dataclass
class ClaimExplanation:
    claim: str
    fits_alone: bool
    requests: list[RequestExplanation] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"claim {self.claim}: cannot be allocated"]
        for finding in self.findings:
            out.append(f"  {finding}")
        for req in self.requests:
            out.extend("  " + line for line in req.lines())
        return out


@dataclass
class Explanation:
    node: str
    pool_notes: list[str]
    claims: list[ClaimExplanation]

    def text(self) -> str:
        out = [f"node {self.node or '<none>'}:"]
        out.extend(f"  {n}" for n in self.pool_notes)
        for c in self.claims:
            out.extend("  " + line for line in c.lines())
        return "\n".join(out) + "\n"


def explain(
    allocator: Allocator,
    node: Any | None,
    claims: Sequence[Any],
    *,
    allocated: AllocatedState | None = None,
) -> Explanation:
    """Explain why ``claims`` cannot all be allocated on ``node``.

    Raises :class:`AllocationError` for bad input, like :meth:`Allocator.allocate`.
    """
    state = allocated if allocated is not None else allocator.allocated
    attempt = allocator.attempt(node, claims, allocated=state)
    pools = attempt.pools
    notes = []
    for p in pools.pools:
        if p.incomplete:
            notes.append(f"pool {p.id} is being updated (not all of its ResourceSlices are published); its devices are not used")
        elif p.invalid:
            notes.append(f"pool {p.id} is invalid ({p.invalid_reason}); its devices are not used")
    if not pools.candidates:
        notes.append("no ResourceSlice offers devices to this node")

    # Which claims fail: the first claim that cannot be added to those before it.
    failing: list[tuple[int, bool]] = []
    for i in range(len(claims)):
        alone = _fits(allocator, node, [claims[i]], state)
        if not alone:
            failing.append((i, False))
        elif not _fits(allocator, node, list(claims[: i + 1]), state):
            failing.append((i, True))
            break
    explanations = []
    for i, fits_alone in failing:
        plan = attempt.plans[i]
        explanations.append(_explain_claim(allocator, attempt.search, plan, fits_alone, state))
    return Explanation(node=attempt.node.name if attempt.node else "", pool_notes=notes, claims=explanations)


def _fits(allocator: Allocator, node: Any, claims: list[Any], state: AllocatedState) -> bool:
    try:
        return allocator.allocate_dicts(node, claims, allocated=state) is not None
    except Exception:  # noqa: BLE001 - "invalid pools" etc. also mean "does not fit"
        return False


def _explain_claim(
    allocator: Allocator, search: Search, plan: ClaimPlan, fits_alone: bool, state: AllocatedState
) -> ClaimExplanation:
    out = ClaimExplanation(claim=plan.key, fits_alone=fits_alone)
    if fits_alone:
        out.findings.append(
            "it fits on its own, but not together with the claims before it (they take the devices it needs)"
        )
    passing: dict[str, list[DeviceInfo]] = {}
    needed: dict[str, int] = {}
    all_enough = True
    for entries in plan.requests:
        for rd in entries:
            req_exp, ok_devices = _explain_request(allocator, search, rd, state)
            out.requests.append(req_exp)
            passing[rd.full_name] = ok_devices
            needed[rd.full_name] = rd.num_devices
        if not any(e.enough for e in out.requests[-len(entries):]):
            all_enough = False
    if any(len(entries) > 1 for entries in plan.requests):
        out.findings.append("firstAvailable alternatives are listed one by one; the first that fits is used")
    if all_enough and not fits_alone:
        out.findings.extend(_constraint_findings(plan, passing, needed))
        total = sum(needed[e[0].full_name] for e in plan.requests if e[0].parent is None)
        if not out.findings:
            out.findings.append(
                f"every request has enough candidates on its own, but together they need {total} "
                "distinct devices and compete for the same ones"
            )
    return out


def _explain_request(
    allocator: Allocator, search: Search, rd: RequestData, state: AllocatedState
) -> tuple[RequestExplanation, list[DeviceInfo]]:
    features = allocator.features
    devices = search.candidates
    tally: Tally[str] = Tally()
    order: list[str] = []
    passing: list[DeviceInfo] = []
    best: tuple[int, int, DeviceInfo, list[str]] | None = None
    # "All" needs every matching device: ones that match but are unavailable block it
    blockers: list[tuple[DeviceInfo, list[str]]] = []

    rank: dict[str, int] = {}

    details: dict[str, str] = {}

    def note(label: str, failed: list[str], stage: int, detail: str | None = None) -> None:
        if label not in rank:
            rank[label] = stage
            order.append(label)
        failed.append(label)
        if detail:
            details[label] = detail

    def described(failed: list[str]) -> list[str]:
        return [f"{label} ({details[label]})" if label in details else label for label in failed]

    for pos, device in enumerate(devices):
        failed: list[str] = []
        details.clear()
        if not rd.admin and device.index in search.allocated:
            note("already allocated to another claim", failed, 0)
        if device.binding_conditions and not features.device_binding_and_status:
            note("has binding conditions, but DRADeviceBindingConditions is off", failed, 1)
        for i, expr in enumerate(rd.class_selectors):
            if not allocator._matches(expr, device, i, rd, from_class=True):
                note(f"class {rd.class_name} selector #{i}: {expr}", failed, 10 + i)
        for i, expr in enumerate(rd.selectors):
            if not allocator._matches(expr, device, i, rd, from_class=False):
                note(f"request selector #{i}: {expr}", failed, 100 + i)
        if device.slice.per_device and device.index in search.pools.node_excluded:
            note("device is not reachable from this node (per-device node selection)", failed, 200)
        if search.skip_node_operations and device.slice.skip_node_operations:
            if not features.optional_node_operations:
                note("its slice skips node operations, but DRAOptionalNodeOperations is off", failed, 250)
            elif not search.node_optional_operations:
                note("its slice skips node operations, but the node does not declare DRAOptionalNodeOperations",
                     failed, 250)
        if features.compatibility_groups and device.consumes and device.index not in search.allocated_capacity:
            pool = search.pools.pool_of[device.index]
            undo = search.compat.check_and_take(id(pool), pool.all_devices, device)
            if undo is None:
                note("its compatibility groups do not intersect those of devices in use on its counter set",
                     failed, 300)
            else:
                undo()
        if device.consumes:
            if not features.partitionable_devices:
                note("consumes shared counters, but DRAPartitionableDevices is off", failed, 300)
            else:
                short = _counter_shortfall(search, device)
                if short:
                    note("not enough shared counters left", failed, 300, short)
        if features.consumable_capacity:
            try:
                fits = capacity_fits(device, rd.capacity, search.allocated_capacity.get(device.index), None,
                                     search.features.fractional_capacity_range)
                if not fits:
                    note("not enough capacity left or request outside the device's request policy", failed, 400)
            except UnknownCapacity as err:
                note(f"requests capacity {err.args[0]!r} that the device does not have", failed, 400)
            except CapacityNotRepresentable as err:
                note(str(err), failed, 400)
        if features.device_taints and device.taints:
            taint = blocking_taint(device.taints, rd.tolerations)
            if taint is not None:
                value = f"={taint.value}" if taint.value else ""
                note(f"taint {taint.key}{value}:{taint.effect} is not tolerated", failed, 500)
        if failed:
            tally[failed[0]] += 1
            if best is None or len(failed) < best[0]:
                best = (len(failed), pos, device, described(failed))
            if all(not (1 <= rank[label] <= 200) for label in failed):
                blockers.append((device, described(failed)))
        else:
            passing.append(device)

    order.sort(key=lambda label: rank[label])
    stages = [Stage(label, tally[label]) for label in order]
    if rd.mode == ALL:
        needed = "all"
        enough = len(passing) > 0 and not blockers
        if blockers:
            device, failed = blockers[0]
            best = (len(failed), 0, device, [
                f"matches, but allocationMode All needs every matching device and {len(blockers)} "
                "of them cannot be used", *failed])
    else:
        needed = str(rd.num_devices)
        enough = len(passing) >= rd.num_devices
    nearest = None
    if not enough and best is not None:
        nearest = f"{device_id_str(best[2].id)} - " + "; ".join(dict.fromkeys(best[3]))
    elif not devices:
        nearest = None
    exp = RequestExplanation(
        request=rd.full_name,
        device_class=rd.class_name,
        needed=needed,
        visible=len(devices),
        stages=stages,
        remaining=len(passing),
        enough=enough,
        nearest_miss=nearest,
    )
    return exp, passing


def _counter_shortfall(search: Search, device: DeviceInfo) -> str:
    available, _negative = search._pool_available(device, search._counter_key(device))
    short = []
    for set_name, counters in device.consumes:
        have = available.get(set_name, {})
        for counter, amount in counters:
            left = have.get(counter)
            if left is not None and left < amount:
                short.append(f"{set_name}/{counter} needs {_fmt(amount)}, {_fmt(max(left, 0))} left")
    if len(short) > 3:
        short = [*short[:3], f"and {len(short) - 3} more"]
    return "; ".join(short)


def _fmt(value: Any) -> str:
    """A counter amount as a Quantity string (big byte counts become Gi/Mi)."""
    from fractions import Fraction

    from dra.api import Quantity

    if isinstance(value, Fraction):
        return str(Quantity.from_fraction(value))
    if value >= 1 << 20:
        return str(Quantity.from_int(value, "BinarySI"))
    return str(value)


def _constraint_findings(
    plan: ClaimPlan, passing: dict[str, list[DeviceInfo]], needed: dict[str, int]
) -> list[str]:
    findings = []
    for cls, attr, reqs in plan.constraint_specs:
        names = [
            e.full_name for entries in plan.requests for e in entries
            if not reqs or e.base_name in reqs or e.full_name in reqs
        ]
        if not names:
            continue
        missing = {
            device_id_str(d.id) for n in names for d in passing[n] if lookup_attribute(d, attr) is None
        }
        if cls.__name__ == "MatchAttribute":
            by_value: dict[Any, dict[str, int]] = {}
            for n in names:
                for d in passing[n]:
                    a = lookup_attribute(d, attr)
                    if a is None:
                        continue
                    by_value.setdefault(attribute_value(a), Tally())[n] += 1
            fitting = [v for v, per in by_value.items() if all(per[n] >= needed[n] for n in names)]
            if not fitting:
                parts = []
                for v, per in sorted(by_value.items(), key=lambda kv: str(kv[0])):
                    shown = v[1] if v else "?"
                    parts.append(f"{shown}: " + ", ".join(f"{n} {per[n]}/{needed[n]}" for n in names))
                detail = "; ".join(parts) if parts else "no candidate has the attribute"
                findings.append(
                    f"constraint matchAttribute {attr}: no single value offers enough devices "
                    f"({detail})" + (f"; {len(missing)} candidates lack the attribute" if missing else "")
                )
        else:
            values = {
                attribute_value(a)
                for n in names for d in passing[n]
                if (a := lookup_attribute(d, attr)) is not None
            }
            total = sum(needed[n] for n in names)
            if len(values) < total:
                findings.append(
                    f"constraint distinctAttribute {attr}: only {len(values)} distinct values among "
                    f"the candidates, {total} devices need different ones"
                    + (f"; {len(missing)} candidates lack the attribute" if missing else "")
                )
    return findings
