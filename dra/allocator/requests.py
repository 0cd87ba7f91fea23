"""Step 2 of allocation: check each claim and describe its requests for the search.

Follows upstream 1.35 (``Allocate`` before the search): feature checks, selector shape,
admin access, the device class, the allocation mode, the claim-size limit (32 devices)
and the constraints. Everything found wrong here is an :class:`AllocationError` naming the
claim and request. For ``All`` requests the exact device list is fixed here.

API defaulting is applied as the API server would have done it before the scheduler sees
a claim: an empty ``allocationMode`` means ``ExactCount`` and a missing or zero ``count``
means 1 (``SetDefaults_ExactDeviceRequest``: ``count`` is a plain int64 upstream, so 0 is unset).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from dra.allocator.constraints import Constraint, DistinctAttribute, MatchAttribute
from dra.allocator.errors import AllocationError
from dra.allocator.model import DeviceInfo

if TYPE_CHECKING:
    from dra.allocator.pools import GatheredPools

MAX_DEVICES_PER_CLAIM = 32  # resourceapi.AllocationResultsMaxSize

EXACT_COUNT = "ExactCount"
ALL = "All"


def claim_key(claim: Any) -> str:
    """``namespace/name`` or just ``name`` (klog.KObj)."""
    meta = getattr(claim, "metadata", None)
    name = (getattr(meta, "name", None) or "") if meta else ""
    ns = (getattr(meta, "namespace", None) or "") if meta else ""
    return f"{ns}/{name}" if ns else name


class RequestData:
    """One request without sub-requests, or one sub-request of a firstAvailable list."""

    __slots__ = (
        "claim_index", "request_index", "sub_index", "name", "parent", "full_name",
        "base_name", "sub_name", "device_class", "class_name", "class_selectors",
        "selectors", "mode", "count", "admin", "tolerations", "capacity", "all_devices",
        "num_devices", "obj", "claim_key", "signature", "derived",
    )

    def __init__(self) -> None:
        self.parent: str | None = None
        self.sub_name: str | None = None
        self.all_devices: list[DeviceInfo] = []
        self.device_class: Any = None
        # 1.37 derivedAttributes: fully qualified name -> CEL expression (constraints only)
        self.derived: dict[str, str] | None = None


class ClaimPlan:
    """The checked form of one claim: per request either a RequestData or sub-requests."""

    __slots__ = ("index", "claim", "key", "requests", "constraint_specs", "min_devices", "has_all")

    def __init__(self, index: int, claim: Any) -> None:
        self.index = index
        self.claim = claim
        self.key = claim_key(claim)
        # per request: list of RequestData (one entry unless firstAvailable)
        self.requests: list[list[RequestData]] = []
        self.constraint_specs: list[tuple[type[Constraint], str, list[str] | None]] = []
        self.min_devices = 0
        self.has_all = False

    def at(self, index: int) -> "ClaimPlan":
        """The same plan for the claim at another position of the claim list."""
        if index == self.index:
            return self
        other = ClaimPlan.__new__(ClaimPlan)
        for name in ClaimPlan.__slots__:
            setattr(other, name, getattr(self, name))
        other.index = index
        return other

    def new_constraints(
        self, *, distinct_per_device: bool = False, distinct_identity: bool = False, list_mode: bool = False
    ) -> list[Constraint]:
        """Fresh constraint state; ``distinct_per_device`` is the 1.37 distinctAttribute
        (every device checked against every other, k/k #140600)."""
        out: list[Constraint] = []
        for cls, attr, reqs in self.constraint_specs:
            c = cls(attr, reqs)
            if distinct_per_device and getattr(c, "kind", "") == "distinctAttribute":
                c.per_device = True  # type: ignore[attr-defined]
            if distinct_identity and getattr(c, "kind", "") == "distinctAttribute":
                c.identity = True  # type: ignore[attr-defined]
            if list_mode:
                c.list_mode = True  # type: ignore[attr-defined]
            out.append(c)
        return out


def _claim_devices(claim: Any) -> Any:
    spec = getattr(claim, "spec", None)
    return getattr(spec, "devices", None) if spec is not None else None


def claim_requests(claim: Any) -> list[Any]:
    devices = _claim_devices(claim)
    return list(getattr(devices, "requests", None) or []) if devices is not None else []


def claim_constraints(claim: Any) -> list[Any]:
    devices = _claim_devices(claim)
    return list(getattr(devices, "constraints", None) or []) if devices is not None else []


def claim_configs(claim: Any) -> list[Any]:
    devices = _claim_devices(claim)
    return list(getattr(devices, "config", None) or []) if devices is not None else []


class Preparer:
    """Runs the per-claim checks for one allocation attempt."""

    def __init__(
        self,
        *,
        features: Any,
        classes: dict[str, Any],
        pools: "GatheredPools",
        selectable: Callable[[RequestData, DeviceInfo], bool],
        capacity_ok: Callable[[RequestData, DeviceInfo], bool],
        cache: dict[int, tuple[Any, ClaimPlan]] | None = None,
        derived_field: bool = False,
    ) -> None:
        # Plans of claims without "All" requests depend only on the claim, the classes
        # and the features, so they are kept per claim object between attempts.
        self.cache = cache
        self.features = features
        self.classes = classes
        self.pools = pools
        self.selectable = selectable
        self.capacity_ok = capacity_ok
        # 1.37+: derivedAttributes exist (before, upstream's decoder drops the field)
        self.derived_field = derived_field

    def prepare(self, claims: Sequence[Any]) -> list[ClaimPlan]:
        plans = []
        cache = self.cache
        for index, claim in enumerate(claims):
            if cache is not None:
                hit = cache.get(id(claim))
                if hit is not None and hit[0] is claim:
                    plans.append(hit[1].at(index))
                    continue
            plan = self._prepare_claim(index, claim)
            if cache is not None and not plan.has_all:
                if len(cache) >= 4096:
                    cache.clear()
                cache[id(claim)] = (claim, plan)
            plans.append(plan)
        return plans

    def _prepare_claim(self, index: int, claim: Any) -> ClaimPlan:
        plan = ClaimPlan(index, claim)
        ck = plan.key
        features = self.features
        for ri, request in enumerate(claim_requests(claim)):
            subs = list(request.first_available or [])
            if subs and not features.prioritized_list:
                raise AllocationError(
                    f"claim {ck}, request {request.name}: has subrequests, but the "
                    "DRAPrioritizedList feature is disabled"
                )
            if not features.consumable_capacity:
                exactly = request.exactly
                if exactly is not None and exactly.capacity is not None:
                    raise AllocationError(
                        f"claim {ck}, request {request.name}: has capacity requests, but the "
                        "DRAConsumableCapacity feature is disabled"
                    )
                for sub in subs:
                    if sub.capacity is not None:
                        raise AllocationError(
                            f"claim {ck}, subrequest {sub.name}: has capacity requests, but the "
                            "DRAConsumableCapacity feature is disabled"
                        )
            if subs:
                entries = [
                    self._request_data(plan, ri, si, sub, request.name, is_sub=True)
                    for si, sub in enumerate(subs)
                ]
                plan.min_devices += min(e.num_devices for e in entries)
            else:
                entry = self._request_data(plan, ri, 0, request.exactly, request.name, is_sub=False)
                entries = [entry]
                plan.min_devices += entry.num_devices
            plan.requests.append(entries)
        if plan.min_devices > MAX_DEVICES_PER_CLAIM:
            per_request = ", ".join(
                f"request {entries[0].base_name}: {min(e.num_devices for e in entries)}"
                for entries in plan.requests
            )
            raise AllocationError(
                f"claim {ck}: number of requested devices {plan.min_devices} exceeds the claim "
                f"limit of {MAX_DEVICES_PER_CLAIM} ({per_request})"
            )
        for ci, constraint in enumerate(claim_constraints(claim)):
            if constraint.match_attribute is not None:
                plan.constraint_specs.append((MatchAttribute, constraint.match_attribute, constraint.requests))
            elif constraint.distinct_attribute is not None:
                plan.constraint_specs.append(
                    (DistinctAttribute, constraint.distinct_attribute, constraint.requests)
                )
            else:
                raise AllocationError(
                    f"claim {ck}, constraint #{ci}: empty constraint (unsupported constraint type?)"
                )
        return plan

    def _request_data(
        self, plan: ClaimPlan, ri: int, si: int, req: Any, request_name: str, *, is_sub: bool
    ) -> RequestData:
        ck = plan.key
        rd = RequestData()
        rd.obj = req
        rd.claim_key = ck
        rd.claim_index = plan.index
        rd.request_index = ri
        rd.sub_index = si
        if is_sub:
            rd.name = req.name
            rd.parent = request_name
            rd.sub_name = req.name
            rd.base_name = request_name
            rd.full_name = f"{request_name}/{req.name}"
        else:
            rd.name = request_name
            rd.base_name = request_name
            rd.full_name = request_name
        shown = rd.name  # upstream names the (sub-)request itself in messages
        derived = getattr(req, "derived_attributes", None) if req is not None and self.derived_field else None
        if derived:
            # Only the 1.37 experimental variant with DRADerivedAttributes evaluates them;
            # everything else refuses the request rather than ignore its constraints.
            if not self.features.derived_attributes:
                raise AllocationError(
                    f"claim {ck}, request {shown}: cannot handle request with derived attributes, "
                    "the feature is disabled"
                )
            rd.derived = {a.name: a.expression for a in derived}
        selectors = list(getattr(req, "selectors", None) or []) if req is not None else []
        for i, sel in enumerate(selectors):
            if sel.cel is None:
                raise AllocationError(
                    f"claim {ck}, request {shown}, selector #{i}: CEL expression empty "
                    "(unsupported selector type?)"
                )
        rd.selectors = [sel.cel.expression for sel in selectors]
        admin_raw = None if is_sub or req is None else req.admin_access
        if admin_raw is not None and not self.features.admin_access:
            raise AllocationError(
                f"claim {ck}, request {shown}: admin access is requested, but the feature is disabled"
            )
        rd.admin = bool(admin_raw)
        class_name = getattr(req, "device_class_name", None) if req is not None else None
        if not class_name:
            raise AllocationError(
                f"claim {ck}, request {shown}: missing device class name (unsupported request type?)"
            )
        device_class = self.classes.get(class_name)
        if device_class is None:
            raise AllocationError(
                f"claim {ck}, request {shown}: could not retrieve device class {class_name}: "
                f'deviceclass.resource.k8s.io "{class_name}" not found'
            )
        rd.device_class = device_class
        rd.class_name = class_name
        class_spec = getattr(device_class, "spec", None)
        rd.class_selectors = [
            s.cel.expression if s.cel is not None else None
            for s in (getattr(class_spec, "selectors", None) or [])
        ]
        # What selectability depends on besides the device and node (memo key).
        rd.signature = (class_name, tuple(rd.class_selectors), tuple(rd.selectors))
        rd.tolerations = list(req.tolerations or [])
        cap = req.capacity
        rd.capacity = dict(cap.requests or {}) if cap is not None else None
        mode = req.allocation_mode or EXACT_COUNT
        rd.mode = mode
        if mode == EXACT_COUNT:
            count = req.count or 1
            rd.count = count
            rd.num_devices = count
        elif mode == ALL:
            plan.has_all = True
            rd.count = 0
            rd.all_devices = self._all_devices(ck, shown, rd)
            rd.num_devices = len(rd.all_devices)
        else:
            raise AllocationError(f"claim {ck}, request {shown}: unsupported count mode {mode}")
        return rd

    def _all_devices(self, ck: str, shown: str, rd: RequestData) -> list[DeviceInfo]:
        found: list[DeviceInfo] = []
        for pool in self.pools.pools:
            if pool.incomplete:
                raise AllocationError(
                    f"claim {ck}, request {shown}: asks for all devices, but resource pool "
                    f"{pool.id} is currently being updated"
                )
            if pool.invalid:
                raise AllocationError(
                    f"claim {ck}, request {shown}: asks for all devices, but resource pool "
                    f"{pool.id} is currently invalid"
                )
            for device in pool.devices_for_node():
                if not self.selectable(rd, device):
                    continue
                if self.features.consumable_capacity and not self.capacity_ok(rd, device):
                    continue
                found.append(device)
        return found
