"""Semantic checks of the stand-in API server beyond the OpenAPI schema.

The real server runs the full ``pkg/apis/resource/validation`` on every write. The stand-in
checks only the ResourceSlice rules that a slice publisher can get wrong and that decide
whether its writes are accepted: name formats, the pool fields, exactly one node-selection
field, device-count limits, unique device names, and the immutable fields on update. Messages
follow upstream's ``field: Reason: detail`` shape. Everything else is left to the schema.
"""

from __future__ import annotations

import re
from typing import Any

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NODE_SELECTION = ("nodeName", "nodeSelector", "allNodes", "perDeviceNodeSelection")

Causes = list[tuple[str, str]]


def check(kind: str, obj: dict[str, Any], old: dict[str, Any] | None, version: str) -> Causes:
    """Field errors of ``obj`` (``old`` is the stored object on update, else None)."""
    if kind != "ResourceSlice":
        return []
    return _resource_slice(obj.get("spec") or {}, (old or {}).get("spec"), version)


def _resource_slice(spec: dict[str, Any], old: dict[str, Any] | None, version: str) -> Causes:
    causes: Causes = []
    driver = spec.get("driver") or ""
    if not driver:
        causes.append(("spec.driver", "Required value"))
    elif len(driver) > 63 or not _DNS_SUBDOMAIN.match(driver):
        causes.append(("spec.driver", f'Invalid value: "{driver}": a driver name must be a DNS subdomain '
                                      "of at most 63 characters"))
    pool = spec.get("pool") or {}
    pool_name = pool.get("name") or ""
    if not pool_name:
        causes.append(("spec.pool.name", "Required value"))
    elif len(pool_name) > 253 or not all(_DNS_SUBDOMAIN.match(p) for p in pool_name.split("/")):
        causes.append(("spec.pool.name", f'Invalid value: "{pool_name}": must be one or more DNS subdomains '
                                         "separated by slashes"))
    if isinstance(pool.get("generation"), int) and pool["generation"] < 0:
        causes.append(("spec.pool.generation", f"Invalid value: {pool['generation']}: must be greater than or "
                                               "equal to 0"))
    if isinstance(pool.get("resourceSliceCount"), int) and pool["resourceSliceCount"] <= 0:
        causes.append(("spec.pool.resourceSliceCount", f"Invalid value: {pool['resourceSliceCount']}: must be "
                                                       "greater than zero"))
    chosen = [f for f in _NODE_SELECTION if spec.get(f) not in (None, "", False)]
    if not chosen:
        causes.append(("spec", "Required value: exactly one of `nodeName`, `nodeSelector`, `allNodes`, "
                               "`perDeviceNodeSelection` is required"))
    elif len(chosen) > 1:
        causes.append(("spec", f"Invalid value: {{{', '.join('`' + c + '`' for c in chosen)}}}: exactly one of "
                               "`nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required, "
                               "but multiple fields are set"))
    for flag in ("allNodes", "perDeviceNodeSelection"):
        if spec.get(flag) is False:
            causes.append((f"spec.{flag}", "Invalid value: false: must be either unset or set to true"))
    devices = spec.get("devices") or []
    limit = 128
    if version >= "1.35" and any(d.get("taints") or d.get("consumesCounters") for d in devices):
        limit = 64
    if len(devices) > limit:
        causes.append(("spec.devices", f"Too many: {len(devices)}: must have at most {limit} items"))
    seen: set[str] = set()
    for index, device in enumerate(devices):
        name = device.get("name") or ""
        path = f"spec.devices[{index}].name"
        if not name:
            causes.append((path, "Required value"))
        elif not _DNS_LABEL.match(name) or len(name) > 63:
            causes.append((path, f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of lower '
                                 "case alphanumeric characters or '-', and must start and end with an "
                                 "alphanumeric character"))
        elif name in seen:
            causes.append((path, f'Duplicate value: "{name}"'))
        seen.add(name)
        entries = len(device.get("attributes") or {}) + len(device.get("capacity") or {})
        if entries > 32:
            causes.append((f"spec.devices[{index}]", f"Too many: {entries}: must have at most 32 attributes "
                                                     "and capacities combined"))
    if old is not None:
        for field_path, new_value, old_value in (
            ("spec.driver", spec.get("driver"), old.get("driver")),
            ("spec.nodeName", spec.get("nodeName"), old.get("nodeName")),
            ("spec.pool.name", pool.get("name"), (old.get("pool") or {}).get("name")),
        ):
            if new_value != old_value:
                causes.append((field_path, f'Invalid value: "{new_value}": field is immutable'))
    return causes


# Fields the real server drops on write while their feature gate is off (device-level unless noted).
_GATED_DEVICE_FIELDS = {
    "DRADeviceTaints": ("taints",),
    "DRAPartitionableDevices": ("consumesCounters", "nodeName", "nodeSelector", "allNodes"),
    "DRADeviceBindingConditions": ("bindsToNode", "bindingConditions", "bindingFailureConditions"),
    "DRAConsumableCapacity": ("allowMultipleAllocations",),
}
_GATED_SPEC_FIELDS = {"DRAPartitionableDevices": ("sharedCounters", "perDeviceNodeSelection")}


def drop_disabled_fields(kind: str, obj: dict[str, Any], old: dict[str, Any] | None, disabled: set[str]) -> None:
    """Remove fields of disabled features from ``obj``, unless ``old`` already used them (as upstream)."""
    if kind != "ResourceSlice" or not disabled:
        return
    spec = obj.get("spec") or {}
    old_spec = (old or {}).get("spec") or {}
    for gate in disabled:
        for name in _GATED_SPEC_FIELDS.get(gate, ()):
            if name in spec and name not in old_spec:
                del spec[name]
        fields = _GATED_DEVICE_FIELDS.get(gate, ())
        old_uses = {f for d in old_spec.get("devices") or [] for f in fields if d.get(f) not in (None, [], {})}
        for device in spec.get("devices") or []:
            for name in fields:
                if name not in old_uses:
                    device.pop(name, None)
            if gate == "DRAConsumableCapacity":
                for capacity in (device.get("capacity") or {}).values():
                    if isinstance(capacity, dict):
                        capacity.pop("requestPolicy", None)


# metav1.Time fields: the real server stores them as RFC 3339 in UTC with second precision,
# whatever offset or fraction the client sent (the python client sends "+00:00" offsets).
_TIME_FIELDS = {"timeAdded", "lastTransitionTime", "lastHeartbeatTime", "lastProbeTime", "deletionTimestamp",
                "creationTimestamp", "startedAt", "finishedAt"}


def normalize_times(value: Any) -> None:
    """Rewrite the known time fields of ``value`` in place to ``YYYY-MM-DDTHH:MM:SSZ``."""
    import datetime as dt

    if isinstance(value, list):
        for item in value:
            normalize_times(item)
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if key in _TIME_FIELDS and isinstance(item, str):
            try:
                moment = dt.datetime.fromisoformat(item.replace("Z", "+00:00"))
            except ValueError:
                continue  # left for the schema / validation to complain about
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.timezone.utc)
            value[key] = moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            normalize_times(item)


def canonicalize_quantities(kind: str, obj: dict[str, Any]) -> str | None:
    """Store ResourceSlice quantities in canonical form, as the real server's decoding does.

    Returns the decoding error message for a malformed quantity (the server answers 400).
    """
    if kind != "ResourceSlice" or not isinstance(obj.get("spec"), dict):
        return None
    from dra.api import Quantity, QuantityError
    from dra.slices.reconcile import canonical_quantities

    bad: list[str] = []

    def check(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("value", "default", "min", "max", "step") and isinstance(item, str):
                    try:
                        Quantity(item)
                    except QuantityError:
                        bad.append(item)
                else:
                    check(item)
        elif isinstance(value, list):
            for item in value:
                check(item)

    spec = obj["spec"]
    check([d.get("capacity") for d in spec.get("devices") or [] if isinstance(d, dict)])
    check([c.get("counters") for c in spec.get("sharedCounters") or [] if isinstance(c, dict)])
    if bad:
        return (f"quantities must match the regular expression "
                f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (got {bad[0]!r})")
    canonical_quantities(spec)
    return None
