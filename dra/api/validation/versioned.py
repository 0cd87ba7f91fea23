"""Which fields a Kubernetes minor declares, and which feature gate guards them.

The models in :mod:`dra.api` hold the union of the fields of 1.34 to 1.37, so that an object
written for any of them loads and is written back unchanged. This module says, per object and
per :class:`~dra.versions.KubernetesVersion`, what the API server of that version does with a
field that is newer than it or whose gate is off:

* a field the minor's ``resource.k8s.io/v1`` types do not declare is refused by the strict
  decoder: ``unknown field "ints"`` (with the minor that added or removed it);
* a field whose gate is off is dropped by the API server on create (``dropDisabledFields``):
  we report it as ``Forbidden: disabled by feature gate X`` so that nothing is lost silently.

Only the fields added after 1.35 are gated here; the 1.34/1.35 fields keep their 1.35 rules.
Sources: ``k8s.io/api`` ``resource/v1/types.go`` at v0.36.3 and v0.37.2 (``+featureGate`` tags),
``pkg/registry/resource/*/strategy.go`` (dropped fields).
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

from dra.api.deviceclass import DeviceClass
from dra.api.devicetaintrule import DeviceTaintRule
from dra.api.errors import FieldError
from dra.api.resourceclaim import DeviceClaim, ResourceClaim, ResourceClaimTemplate
from dra.api.resourceslice import LIST_KINDS, ResourceSlice
from dra.api.validation.common import Options
from dra.api.validation.errs import child, forbidden, index, key

__all__ = ["FIELD_VERSIONS", "validate_versioned_fields"]

# JSON field name -> (first minor that declares it, last minor that declares it or None, gate)
FIELD_VERSIONS: dict[str, tuple[str, Optional[str], str]] = {
    "ints": ("1.36", None, "DRAListTypeAttributes"),
    "bools": ("1.36", None, "DRAListTypeAttributes"),
    "strings": ("1.36", None, "DRAListTypeAttributes"),
    "versions": ("1.36", None, "DRAListTypeAttributes"),
    "nodeAllocatableResourceMappings": ("1.36", "1.36", "DRANodeAllocatableResources"),
    "nodeAllocatableResources": ("1.37", None, "DRANodeAllocatableResources"),
    "partitionTypeAttribute": ("1.37", None, "DRAPartitionableDevicesType"),
    "skipNodeOperations": ("1.37", None, "DRAOptionalNodeOperations"),
    "compatibilityGroups": ("1.37", None, "DRADeviceCompatibilityGroups"),
    "derivedAttributes": ("1.37", None, "DRADerivedAttributes"),
}


def _check(name: str, parent: str, opts: Options) -> list[FieldError]:
    since, until, gate = FIELD_VERSIONS[name]
    minor = opts.minor
    if not opts.at_least(since):
        return [FieldError(parent, f'unknown field "{name}": resource.k8s.io/v1 of Kubernetes {minor} does not declare it (added in {since})')]
    if until is not None and opts.at_least(_next(until)):
        return [FieldError(parent, f'unknown field "{name}": resource.k8s.io/v1 of Kubernetes {minor} does not declare it (only {until}; removed in {_next(until)})')]
    if not opts.enabled(gate):
        return [forbidden(child(parent, name), f"disabled by feature gate {gate} (the API server drops this field)")]
    return []


def _next(minor: str) -> str:
    major, _, rest = minor.partition(".")
    return f"{major}.{int(rest) + 1}"


def _slice_fields(obj: ResourceSlice) -> Iterator[tuple[str, str]]:
    spec = obj.spec
    if spec.partition_type_attribute is not None:
        yield "partitionTypeAttribute", "spec"
    if spec.skip_node_operations is not None:
        yield "skipNodeOperations", "spec"
    for i, device in enumerate(spec.devices or []):
        dpath = index("spec.devices", i)
        for name, attr in (device.attributes or {}).items():
            for kind in LIST_KINDS:
                if getattr(attr, kind) is not None:
                    yield kind, key(child(dpath, "attributes"), name)
        if device.node_allocatable_resource_mappings is not None:
            yield "nodeAllocatableResourceMappings", dpath
        if device.node_allocatable_resources is not None:
            yield "nodeAllocatableResources", dpath
        for j, c in enumerate(device.consumes_counters or []):
            if c.compatibility_groups is not None:
                yield "compatibilityGroups", index(child(dpath, "consumesCounters"), j)


def _claim_fields(devices: Optional[DeviceClaim], path: str) -> Iterator[tuple[str, str]]:
    for i, request in enumerate((devices.requests if devices else None) or []):
        rpath = index(child(path, "requests"), i)
        if request.exactly is not None and request.exactly.derived_attributes is not None:
            yield "derivedAttributes", child(rpath, "exactly")
        for j, sub in enumerate(request.first_available or []):
            if sub.derived_attributes is not None:
                yield "derivedAttributes", index(child(rpath, "firstAvailable"), j)


def _status_fields(obj: ResourceClaim) -> Iterator[tuple[str, str]]:
    status = obj.status
    alloc = status.allocation if status else None
    results = alloc.devices.results if alloc and alloc.devices else None
    for i, result in enumerate(results or []):
        if result.skip_node_operations is not None:
            yield "skipNodeOperations", index("status.allocation.devices.results", i)


def _fields(obj: Any) -> Iterator[tuple[str, str]]:
    if isinstance(obj, ResourceSlice):
        yield from _slice_fields(obj)
    elif isinstance(obj, ResourceClaim):
        yield from _claim_fields(obj.spec.devices if obj.spec else None, "spec.devices")
        yield from _status_fields(obj)
    elif isinstance(obj, ResourceClaimTemplate):
        spec = obj.spec.spec if obj.spec else None
        yield from _claim_fields(spec.devices if spec else None, "spec.spec.devices")


def validate_versioned_fields(obj: Any, opts: Options) -> list[FieldError]:
    """``unknown field`` / ``Forbidden`` findings for post-1.35 fields under ``opts``' version."""
    errs: list[FieldError] = []
    for name, parent in _fields(obj):
        errs.extend(_check(name, parent, opts))
    if isinstance(obj, DeviceTaintRule) and obj.api_version == "resource.k8s.io/v1":
        if not opts.at_least("1.37"):
            errs.append(
                FieldError(
                    "apiVersion",
                    f'unknown field "resource.k8s.io/v1/DeviceTaintRule": Kubernetes {opts.minor} serves DeviceTaintRule '
                    "only in resource.k8s.io/v1alpha3 (v1 from 1.37)",
                )
            )
        elif not opts.enabled("DRADeviceTaintRules"):
            errs.append(forbidden("apiVersion", "DeviceTaintRule is not served: disabled by feature gate DRADeviceTaintRules"))
    if isinstance(obj, DeviceClass):
        pass  # no post-1.35 DeviceClass fields (extendedResourceName is 1.34+)
    return errs
