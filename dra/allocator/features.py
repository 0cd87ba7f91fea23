"""Which optional DRA features the allocator honours.

The upstream allocator never reads feature gates itself: the caller (the kube-scheduler)
passes a plain struct. :class:`Features` is that struct. It can be built from upstream
field names (``AdminAccess``) or from Kubernetes feature-gate names (``DRAAdminAccess``);
``DeviceBindingAndStatus`` needs both ``DRADeviceBindingConditions`` and
``DRAResourceClaimDeviceStatus`` when given as gates, as in upstream ``Features.Set()``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterable

from dra.errors import UserError

# upstream Features field name -> our attribute name
_FIELD_NAMES = {
    "AdminAccess": "admin_access",
    "PrioritizedList": "prioritized_list",
    "PartitionableDevices": "partitionable_devices",
    "DeviceTaints": "device_taints",
    "ConsumableCapacity": "consumable_capacity",
    "DeviceBindingAndStatus": "device_binding_and_status",
    # 1.36+
    "ListTypeAttributes": "list_type_attributes",
    # 1.37+
    "FractionalCapacityRange": "fractional_capacity_range",
    "OptionalNodeOperations": "optional_node_operations",
    "DerivedAttributes": "derived_attributes",
    "CompatibilityGroups": "compatibility_groups",
}

# single feature gate -> attribute name
_GATE_NAMES = {
    "DRAAdminAccess": "admin_access",
    "DRAPrioritizedList": "prioritized_list",
    "DRAPartitionableDevices": "partitionable_devices",
    "DRADeviceTaints": "device_taints",
    "DRAConsumableCapacity": "consumable_capacity",
    "DRAListTypeAttributes": "list_type_attributes",
    "DRAFractionalCapacityRange": "fractional_capacity_range",
    "DRAOptionalNodeOperations": "optional_node_operations",
    "DRADerivedAttributes": "derived_attributes",
    "DRADeviceCompatibilityGroups": "compatibility_groups",
}
# DeviceBindingAndStatus is the conjunction of these two gates.
_BINDING_GATES = ("DRADeviceBindingConditions", "DRAResourceClaimDeviceStatus")
# 1.34 Features field names for the same two halves
_BINDING_1_34 = {"DeviceBinding": "DRADeviceBindingConditions", "DeviceStatus": "DRAResourceClaimDeviceStatus"}

# Gates that exist but do not change allocation (accepted and ignored).
_IGNORED_GATES = {
    "DynamicResourceAllocation",
    "DRADeviceTaintRules",
    "DRAExtendedResource",
    "DRASchedulerFilterTimeout",
    "ResourceHealthStatus",
    "DRAResourceClaimGranularStatusAuthorization",
    "DRANodeAllocatableResources",
    "DRAWorkloadResourceClaims",
    "DRAPartitionableDevicesType",
}


_SIX = (
    "admin_access", "prioritized_list", "partitionable_devices",
    "device_taints", "consumable_capacity", "device_binding_and_status",
)


class FeatureNameError(UserError):
    """An unknown feature or gate name."""


@dataclass(frozen=True)
class Features:
    """Optional allocator features; all off by default (the upstream zero value)."""

    admin_access: bool = False
    prioritized_list: bool = False
    partitionable_devices: bool = False
    device_taints: bool = False
    consumable_capacity: bool = False
    device_binding_and_status: bool = False
    list_type_attributes: bool = False
    fractional_capacity_range: bool = False
    optional_node_operations: bool = False
    derived_attributes: bool = False
    compatibility_groups: bool = False
    # 1.34 only: the scheduler passes DeviceStatus (DRAResourceClaimDeviceStatus) on its own;
    # it changes no allocation but selects the experimental variant there.
    device_status_1_34: bool = False

    @classmethod
    def from_names(cls, names: Iterable[str]) -> "Features":
        """Build from upstream field names and/or feature-gate names (case-sensitive)."""
        enabled: dict[str, bool] = {}
        binding_gates: set[str] = set()
        for raw in names:
            name = raw.strip()
            if not name:
                continue
            if name in _FIELD_NAMES:
                enabled[_FIELD_NAMES[name]] = True
            elif name in _GATE_NAMES:
                enabled[_GATE_NAMES[name]] = True
            elif name in _BINDING_GATES:
                binding_gates.add(name)
            elif name in _BINDING_1_34:
                binding_gates.add(_BINDING_1_34[name])
                if name == "DeviceStatus":
                    enabled["device_status_1_34"] = True
            elif name in _IGNORED_GATES:
                continue
            else:
                known = sorted([*_FIELD_NAMES, *_GATE_NAMES, *_BINDING_GATES, *_BINDING_1_34])
                raise FeatureNameError(
                    f"unknown feature {name!r}; known: {', '.join(known)}"
                )
        if binding_gates == set(_BINDING_GATES):
            enabled["device_binding_and_status"] = True
        return cls(**enabled)

    @classmethod
    def from_mapping(cls, mapping: dict[str, bool]) -> "Features":
        """Build from an upstream-style ``{"AdminAccess": true, ...}`` mapping."""
        return cls.from_names(name for name, on in mapping.items() if on)

    @classmethod
    def all_enabled(cls) -> "Features":
        """The six features of 1.35 (what "all on" meant before 1.36; kept for callers)."""
        return cls(**{name: True for name in _SIX})

    @classmethod
    def kubernetes_1_35_defaults(cls) -> "Features":
        """What a 1.35 kube-scheduler enables by default (beta gates that are on)."""
        return cls(admin_access=True, prioritized_list=True)

    def names(self) -> list[str]:
        """The upstream field names of the enabled features, sorted."""
        reverse = {v: k for k, v in _FIELD_NAMES.items()}
        return sorted(reverse[f.name] for f in fields(self) if getattr(self, f.name) and f.name in reverse)

    def upstream_mapping(self, minor: str = "1.35") -> dict[str, bool]:
        """The upstream ``Features`` struct of ``minor`` as ``{field: true}`` (1.34 splits binding/status)."""
        out = {name: True for name in self.names()}
        if minor == "1.34":
            if out.pop("DeviceBindingAndStatus", False):
                out["DeviceBinding"] = True
                out["DeviceStatus"] = True
            if self.device_status_1_34:
                out["DeviceStatus"] = True
        return out
