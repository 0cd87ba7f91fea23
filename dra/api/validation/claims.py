"""Rules for DeviceClass, ResourceClaim (spec and status), ResourceClaimTemplate and
DeviceTaintRule (``pkg/apis/resource/validation``)."""

from __future__ import annotations

import ipaddress
import re
from typing import Optional

from dra.api.deviceclass import DeviceClass, DeviceConfiguration, DeviceSelector
from dra.api.devicetaintrule import DeviceTaintRule
from dra.api.errors import FieldError
from dra.api.resourceclaim import (
    AllocatedDeviceStatus,
    AllocationResult,
    DeviceClaim,
    DeviceConstraint,
    DeviceRequest,
    DeviceRequestAllocationResult,
    DeviceSubRequest,
    ExactDeviceRequest,
    ResourceClaim,
    ResourceClaimStatus,
    ResourceClaimTemplate,
)
from dra.api.validation.common import (
    CEL_SELECTOR_EXPRESSION_MAX_LENGTH,
    OPAQUE_PARAMETERS_MAX_LENGTH,
    Options,
    no_check,
    validate_binding_parameters,
    validate_cel_expression,
    validate_list,
    validate_node_selector,
    validate_object_meta,
    validate_raw_object,
    validate_taint,
    validate_template_object_meta,
    validate_toleration,
)
from dra.api.validation.errs import (
    child,
    forbidden,
    index,
    invalid,
    not_supported,
    required,
    too_long,
    too_many,
)
from dra.api.validation.names import (
    is_extended_resource_name,
    validate_dns_label,
    validate_dns_subdomain,
    validate_driver_name,
    validate_fully_qualified_name,
    validate_pool_name,
)

DEVICE_REQUESTS_MAX = 32
DEVICE_CONSTRAINTS_MAX = 32
DEVICE_CONFIG_MAX = 32
DEVICE_SELECTORS_MAX = 32
FIRST_AVAILABLE_MAX = 8
DEVICE_TOLERATIONS_MAX = 16
ALLOCATION_RESULTS_MAX = 32
RESERVED_FOR_MAX = 256
DEVICE_STATUS_MAX_CONDITIONS = 8
DEVICE_STATUS_DATA_MAX = 10240
NETWORK_MAX_IPS = 16
NETWORK_INTERFACE_NAME_MAX = 256
NETWORK_HARDWARE_ADDRESS_MAX = 128
_REQUEST_REF_MSG = "must be the name of a request in the claim or the name of a request and a subrequest separated by '/'"
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

RequestNames = dict[str, Optional[set[str]]]


# -- DeviceClass ---------------------------------------------------------------------------


def validate_device_class(obj: DeviceClass, opts: Options) -> list[FieldError]:
    errs = validate_object_meta(obj.metadata)
    spec = obj.spec
    errs.extend(validate_list(spec.selectors, DEVICE_SELECTORS_MAX, lambda s, p: validate_selector(s, p, opts), "spec.selectors"))
    errs.extend(validate_list(spec.config, DEVICE_CONFIG_MAX, lambda c, p: validate_configuration(c, p, opts), "spec.config"))
    if spec.extended_resource_name is not None and not is_extended_resource_name(spec.extended_resource_name):
        errs.append(invalid("spec.extendedResourceName", spec.extended_resource_name, "must be a valid extended resource name"))
    return errs


def validate_selector(selector: DeviceSelector, path: str, opts: Options) -> list[FieldError]:
    if selector.cel is None:
        return [required(child(path, "cel"))]
    return validate_cel_expression(selector.cel.expression, child(child(path, "cel"), "expression"), opts)


def validate_configuration(config: DeviceConfiguration, path: str, opts: Options) -> list[FieldError]:
    if config.opaque is None:
        return [required(child(path, "opaque"))]
    opath = child(path, "opaque")
    errs = validate_driver_name(config.opaque.driver, child(opath, "driver"))
    errs.extend(validate_raw_object(config.opaque.parameters, child(opath, "parameters"), OPAQUE_PARAMETERS_MAX_LENGTH, opts))
    return errs


# -- ResourceClaim spec -------------------------------------------------------------------


def validate_resource_claim(obj: ResourceClaim, opts: Options) -> list[FieldError]:
    errs = validate_object_meta(obj.metadata, namespaced=True)
    errs.extend(validate_device_claim(obj.spec.devices or DeviceClaim(), "spec.devices", opts))
    if obj.status is not None:
        names = gather_request_names(obj.spec.devices or DeviceClaim())
        errs.extend(validate_claim_status(obj.status, names, "status", opts))
    return errs


def validate_resource_claim_template(obj: ResourceClaimTemplate, opts: Options) -> list[FieldError]:
    errs = validate_object_meta(obj.metadata, namespaced=True)
    errs.extend(validate_template_object_meta(obj.spec.metadata, "spec.metadata"))
    errs.extend(validate_device_claim(obj.spec.spec.devices or DeviceClaim(), "spec.spec.devices", opts))
    return errs


def gather_request_names(claim: DeviceClaim) -> RequestNames:
    names: RequestNames = {}
    for req in claim.requests or []:
        names[req.name] = {s.name for s in req.first_available} if req.first_available else None
    return names


def _has_request(names: RequestNames, ref: str) -> bool:
    parts = ref.split("/")
    if len(parts) > 2 or parts[0] not in names:
        return False
    if len(parts) == 1:
        return True
    subs = names[parts[0]]
    return subs is not None and parts[1] in subs


def validate_request_ref(ref: str, path: str, names: RequestNames) -> list[FieldError]:
    parts = ref.split("/")
    if len(parts) > 2:
        return [invalid(path, ref, _REQUEST_REF_MSG)]
    errs: list[FieldError] = []
    for part in parts:
        errs.extend(validate_dns_label(part, path))
    if not _has_request(names, ref):
        errs.append(invalid(path, ref, _REQUEST_REF_MSG))
    return errs


def validate_device_claim(claim: DeviceClaim, path: str, opts: Options) -> list[FieldError]:
    names = gather_request_names(claim)
    errs = validate_list(
        claim.requests,
        DEVICE_REQUESTS_MAX,
        lambda r, p: validate_request(r, p, opts),
        child(path, "requests"),
        key_of=lambda r: r.name,
    )
    errs.extend(
        validate_list(claim.constraints, DEVICE_CONSTRAINTS_MAX, lambda c, p: validate_constraint(c, p, names), child(path, "constraints"))
    )
    errs.extend(_validate_derived_attributes(claim, path, opts))

    def each_config(config: object, p: str) -> list[FieldError]:
        refs = validate_list(
            getattr(config, "requests", None),
            DEVICE_REQUESTS_MAX,
            lambda r, rp: validate_request_ref(r, rp, names),
            child(p, "requests"),
            key_of=lambda r: r,
        )
        return refs + validate_configuration(config, p, opts)  # type: ignore[arg-type]

    errs.extend(validate_list(claim.config, DEVICE_CONFIG_MAX, each_config, child(path, "config")))
    return errs


DERIVED_ATTRIBUTES_MAX = 8  # +k8s:maxItems=8 (1.37)
DERIVED_ATTRIBUTES_TOTAL_MAX_COST = 1_000_000  # DeviceClaimDerivedAttributeCELMaxCost (1.37)


def _validate_derived_attributes(claim: DeviceClaim, path: str, opts: Options | None = None) -> list[FieldError]:
    """1.37 ``derivedAttributes``: fully qualified, unique, at most 8, and each one used by a
    matchAttribute/distinctAttribute constraint that targets its request (or all requests, or
    the parent of a subrequest). New expressions are compiled as derived attributes (scalar or
    list result) through the CEL hook's ``derived`` (when it has one), each within the cost
    limit and all of the claim's together too (DeviceClaimDerivedAttributeCELMaxCost)."""
    derived_check = None
    if opts is not None and not opts.stored and opts.cel_check is not None:
        derived_check = getattr(opts.cel_check, "derived", None)
    total = [0]
    used: dict[str, set[str]] = {}
    for c in claim.constraints or []:
        attr = c.match_attribute or c.distinct_attribute
        if attr:
            for target in c.requests or [""]:
                used.setdefault(target, set()).add(attr)

    def is_used(name: str, request: str) -> bool:
        parent = request.split("/", 1)[0]
        return any(name in used.get(t, ()) for t in ("", request, parent))

    errs: list[FieldError] = []
    for i, req in enumerate(claim.requests or []):
        rpath = index(child(path, "requests"), i)
        owners = [(req.exactly, child(rpath, "exactly"), req.name)] if req.exactly is not None else []
        owners += [(sub, index(child(rpath, "firstAvailable"), j), f"{req.name}/{sub.name}")
                   for j, sub in enumerate(req.first_available or [])]
        for owner, opath, request_name in owners:
            attrs = owner.derived_attributes
            if attrs is None:
                continue

            def each(attr: object, p: str, request_name: str = request_name) -> list[FieldError]:
                name, expression = getattr(attr, "name", ""), getattr(attr, "expression", "")
                found: list[FieldError] = []
                if not name:
                    found.append(required(child(p, "name")))
                else:
                    found.extend(validate_fully_qualified_name(name, child(p, "name")))
                    if not is_used(name, request_name):
                        found.append(invalid(child(p, "name"), name, "must be referenced by at least one matchAttribute or "
                                                                       "distinctAttribute constraint targeting this request"))
                if not expression:
                    found.append(required(child(p, "expression")))
                elif len(expression.encode()) > CEL_SELECTOR_EXPRESSION_MAX_LENGTH:
                    found.append(too_long(child(p, "expression"), CEL_SELECTOR_EXPRESSION_MAX_LENGTH))
                elif derived_check is not None:
                    cel_errs, cost = derived_check(expression, child(p, "expression"))
                    found.extend(cel_errs)
                    total[0] += cost
                return found

            errs.extend(validate_list(attrs, DERIVED_ATTRIBUTES_MAX, each, child(opath, "derivedAttributes"),
                                      key_of=lambda a: a.name))
    if total[0] > DERIVED_ATTRIBUTES_TOTAL_MAX_COST:
        errs.append(forbidden(path, "too complex, total cost of derived attribute CEL expressions in the "
                                    "claim exceeds cost limit"))
    return errs


def validate_request(req: DeviceRequest, path: str, opts: Options) -> list[FieldError]:
    errs = validate_dns_label(req.name, child(path, "name"))
    has_first = bool(req.first_available)
    has_exact = req.exactly is not None
    if not has_first and not has_exact:
        errs.append(required(path, "exactly one of `exactly` or `firstAvailable` is required"))
    elif has_first and has_exact:
        errs.append(invalid(path, None, "exactly one of `exactly` or `firstAvailable` is required, but multiple fields are set"))
    elif has_first:
        errs.extend(
            validate_list(
                req.first_available,
                FIRST_AVAILABLE_MAX,
                lambda s, p: validate_sub_request(s, p, opts),
                child(path, "firstAvailable"),
                key_of=lambda s: s.name,
            )
        )
    else:
        errs.extend(_validate_exact(req.exactly, child(path, "exactly"), opts))  # type: ignore[arg-type]
    return errs


def validate_sub_request(sub: DeviceSubRequest, path: str, opts: Options) -> list[FieldError]:
    errs = validate_dns_label(sub.name, child(path, "name"))
    errs.extend(_validate_exact(sub, path, opts))
    return errs


def _validate_exact(req: ExactDeviceRequest | DeviceSubRequest, path: str, opts: Options) -> list[FieldError]:
    errs: list[FieldError] = []
    cpath = child(path, "deviceClassName")
    if not req.device_class_name:
        errs.append(required(cpath))
    else:
        errs.extend(validate_dns_subdomain(req.device_class_name, cpath))
    errs.extend(validate_list(req.selectors, DEVICE_SELECTORS_MAX, lambda s, p: validate_selector(s, p, opts), child(path, "selectors")))
    # The API server defaults before validating: empty mode -> ExactCount, count 0 -> 1.
    mode = req.allocation_mode or "ExactCount"
    count = req.count or 0
    if mode == "ExactCount" and count == 0:
        count = 1
    if mode == "All":
        if count != 0:
            errs.append(invalid(child(path, "count"), count, "must not be specified when allocationMode is 'All'"))
    elif mode == "ExactCount":
        if count <= 0:
            errs.append(invalid(child(path, "count"), count, "must be greater than zero"))
    else:
        errs.append(not_supported(child(path, "allocationMode"), mode, ["All", "ExactCount"]))
    errs.extend(
        validate_list(req.tolerations, DEVICE_TOLERATIONS_MAX, lambda t, p: validate_toleration(t, p, opts), child(path, "tolerations"))
    )
    return errs


def validate_constraint(c: DeviceConstraint, path: str, names: RequestNames) -> list[FieldError]:
    errs = validate_list(
        c.requests, DEVICE_REQUESTS_MAX, lambda r, p: validate_request_ref(r, p, names), child(path, "requests"), key_of=lambda r: r
    )
    if c.match_attribute is not None and c.distinct_attribute is not None:
        errs.append(invalid(path, None, 'exactly one of "matchAttribute" or "distinctAttribute" is required, but multiple fields are set'))
    elif c.match_attribute is not None:
        errs.extend(validate_fully_qualified_name(c.match_attribute, child(path, "matchAttribute")))
    elif c.distinct_attribute is not None:
        errs.extend(validate_fully_qualified_name(c.distinct_attribute, child(path, "distinctAttribute")))
    else:
        errs.append(required(path, 'exactly one of "matchAttribute" or "distinctAttribute" is required'))
    return errs


# -- ResourceClaim status -------------------------------------------------------------------


def validate_claim_status(status: ResourceClaimStatus, names: RequestNames, path: str, opts: Options) -> list[FieldError]:
    def each_ref(ref: object, p: str) -> list[FieldError]:
        out = []
        for field_name in ("resource", "name", "uid"):
            if not getattr(ref, field_name):
                out.append(required(child(p, field_name)))
        return out

    errs = validate_list(status.reserved_for, RESERVED_FOR_MAX, each_ref, child(path, "reservedFor"), key_of=lambda r: r.uid)
    allocated: set[tuple[str, str, str, Optional[str]]] = set()
    if status.allocation is not None and status.allocation.devices is not None:
        for r in status.allocation.devices.results or []:
            allocated.add((r.driver, r.pool, r.device, r.share_id))
    errs.extend(
        validate_list(
            status.devices,
            -1,
            lambda d, p: validate_device_status(d, p, allocated, opts),
            child(path, "devices"),
            key_of=lambda d: (d.driver, d.pool, d.device, d.share_id),
        )
    )
    if status.reserved_for and status.allocation is None:
        errs.append(forbidden(child(path, "reservedFor"), "may not be specified when `allocated` is not set"))
    if status.allocation is not None:
        errs.extend(validate_allocation_result(status.allocation, names, child(path, "allocation"), opts))
    return errs


def validate_allocation_result(alloc: AllocationResult, names: RequestNames, path: str, opts: Options) -> list[FieldError]:
    dpath = child(path, "devices")
    devices = alloc.devices
    errs: list[FieldError] = []
    if devices is not None:
        errs.extend(
            validate_list(devices.results, ALLOCATION_RESULTS_MAX, lambda r, p: validate_result(r, p, names, opts), child(dpath, "results"))
        )

        def each_config(config: object, p: str) -> list[FieldError]:
            out: list[FieldError] = []
            source = getattr(config, "source", "")
            if not source:
                out.append(required(child(p, "source")))
            elif source not in ("FromClaim", "FromClass"):
                out.append(not_supported(child(p, "source"), source, ["FromClaim", "FromClass"]))
            out.extend(
                validate_list(
                    getattr(config, "requests", None),
                    DEVICE_REQUESTS_MAX,
                    lambda r, rp: validate_request_ref(r, rp, names),
                    child(p, "requests"),
                    key_of=lambda r: r,
                )
            )
            return out + validate_configuration(config, p, opts)  # type: ignore[arg-type]

        errs.extend(validate_list(devices.config, 2 * DEVICE_CONFIG_MAX, each_config, child(dpath, "config")))
    if alloc.node_selector is not None:
        errs.extend(validate_node_selector(alloc.node_selector, child(path, "nodeSelector")))
    return errs


def validate_uid(uid: str, path: str) -> list[FieldError]:
    if _UUID_RE.match(uid):
        return []
    if re.match(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", uid):
        return [
            invalid(
                path,
                uid,
                "uid must be in RFC 4122 normalized form, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` with lowercase hexadecimal characters",
            )
        ]
    return [invalid(path, uid, f"error validating uid: invalid UUID format ({uid!r})")]


def validate_result(r: DeviceRequestAllocationResult, path: str, names: RequestNames, opts: Options) -> list[FieldError]:
    errs = validate_request_ref(r.request, child(path, "request"), names)
    errs.extend(validate_driver_name(r.driver, child(path, "driver")))
    errs.extend(validate_pool_name(r.pool, child(path, "pool")))
    errs.extend(validate_dns_label(r.device, child(path, "device")))
    errs.extend(validate_binding_parameters(r.binding_conditions, r.binding_failure_conditions, path))
    errs.extend(
        validate_list(r.tolerations, DEVICE_TOLERATIONS_MAX, lambda t, p: validate_toleration(t, p, opts), child(path, "tolerations"))
    )
    if r.share_id is not None:
        errs.extend(validate_uid(r.share_id, child(path, "shareID")))
    return errs


def validate_device_status(
    d: AllocatedDeviceStatus, path: str, allocated: set[tuple[str, str, str, Optional[str]]], opts: Options
) -> list[FieldError]:
    errs = validate_driver_name(d.driver, child(path, "driver"))
    errs.extend(validate_pool_name(d.pool, child(path, "pool")))
    errs.extend(validate_dns_label(d.device, child(path, "device")))
    if d.share_id is not None:
        errs.extend(validate_uid(d.share_id, child(path, "shareID")))
    if (d.driver, d.pool, d.device, d.share_id) not in allocated:
        shown = f"{d.driver}/{d.pool}/{d.device}" + (f"/{d.share_id}" if d.share_id else "")
        errs.append(invalid(path, shown, "must be an allocated device in the claim"))
    if len(d.conditions or []) > DEVICE_STATUS_MAX_CONDITIONS:
        errs.append(too_many(child(path, "conditions"), len(d.conditions or []), DEVICE_STATUS_MAX_CONDITIONS))
    if d.data is not None:
        errs.extend(validate_raw_object(d.data, child(path, "data"), DEVICE_STATUS_DATA_MAX, Options(opts.k8s_version, version=opts.version)))
    nd = d.network_data
    if nd is not None:
        npath = child(path, "networkData")
        if len(nd.interface_name or "") > NETWORK_INTERFACE_NAME_MAX:
            errs.append(too_long(child(npath, "interfaceName"), NETWORK_INTERFACE_NAME_MAX))
        if len(nd.hardware_address or "") > NETWORK_HARDWARE_ADDRESS_MAX:
            errs.append(too_long(child(npath, "hardwareAddress"), NETWORK_HARDWARE_ADDRESS_MAX))
        errs.extend(validate_list(nd.ips, NETWORK_MAX_IPS, _validate_interface_address, child(npath, "ips"), key_of=lambda a: a))
    return errs


def _validate_interface_address(addr: str, path: str) -> list[FieldError]:
    try:
        ipaddress.ip_interface(addr)
        if "/" not in addr:
            raise ValueError
    except ValueError:
        return [invalid(path, addr, "must be a valid address in CIDR form, (e.g. 10.9.8.7/24 or 2001:db8::1/64)")]
    return []


# -- DeviceTaintRule -----------------------------------------------------------------------


def validate_device_taint_rule(obj: DeviceTaintRule, opts: Options) -> list[FieldError]:
    errs = validate_object_meta(obj.metadata)
    sel = obj.spec.device_selector
    if sel is not None:
        if sel.driver is not None:
            errs.extend(validate_driver_name(sel.driver, "spec.deviceSelector.driver"))
        if sel.pool is not None:
            errs.extend(validate_pool_name(sel.pool, "spec.deviceSelector.pool"))
        if sel.device is not None:
            errs.extend(validate_dns_label(sel.device, "spec.deviceSelector.device"))
    errs.extend(validate_taint(obj.spec.taint, "spec.taint", opts))
    return errs


__all__ = [
    "validate_device_class",
    "validate_resource_claim",
    "validate_resource_claim_template",
    "validate_device_taint_rule",
    "validate_allocation_result",
    "gather_request_names",
    "no_check",
]
