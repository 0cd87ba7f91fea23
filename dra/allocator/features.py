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
}

# single feature gate -> attribute name
_GATE_NAMES = {
    "DRAAdminAccess": "admin_access",
    "DRAPrioritizedList": "prioritized_list",
    "DRAPartitionableDevices": "partitionable_devices",
    "DRADeviceTaints": "device_taints",
    "DRAConsumableCapacity": "consumable_capacity",
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
}


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
        return cls(**{f.name: True for f in fields(cls)})

    @classmethod
    def kubernetes_1_35_defaults(cls) -> "Features":
        """What a 1.35 kube-scheduler enables by default (beta gates that are on)."""
        return cls(admin_access=True, prioritized_list=True)

    def names(self) -> list[str]:
        """The upstream field names of the enabled features, sorted."""
        reverse = {v: k for k, v in _FIELD_NAMES.items()}
        return sorted(reverse[f.name] for f in fields(self) if getattr(self, f.name))
