"""Which upstream allocator runs, and how it behaves, per Kubernetes minor.

The upstream library carries three implementations (``structured/internal/{stable,
incubating,experimental}``). ``NewAllocator`` takes the first one, in that order, whose
``SupportedFeatures`` cover every enabled feature; kube-scheduler never picks one by name.
The feature set itself comes from the scheduler's gates (``AllocatorFeatures``):
``DeviceBindingAndStatus`` = DRADeviceBindingConditions and DRAResourceClaimDeviceStatus
(1.35+); in 1.34 the two halves are separate fields and ``DeviceStatus`` alone already
requires the experimental variant.

Behaviour that differs between (minor, variant), read from the v0.34.4, v0.35.4, v0.36.3
and v0.37.2 sources of ``k8s.io/dynamic-resource-allocation`` and confirmed with the
oracle (``dra.testing.oracle``):

=========================  =====================  ===================================
behaviour                  where                  what
=========================  =====================  ===================================
shared counters keyed by   1.34 all, 1.35 stable   slice name: counter sets come from
                                                   the device's own slice
                           1.35 inc/exp, 1.36     pool *name* (two drivers with the same
                                                   pool name share one entry)
                           1.37                   (driver, pool)
start location             1.36+ inc/exp          the next device of a request is only
                                                   looked for after the previous one
deterministic order        1.36+ inc/exp          pools by (driver, pool), slices by name,
                                                   binding-condition pools last
=========================  =====================  ===================================
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

from dra.allocator.features import Features

STABLE, INCUBATING, EXPERIMENTAL = "stable", "incubating", "experimental"
VARIANTS = (STABLE, INCUBATING, EXPERIMENTAL)

_BASE4 = frozenset({"admin_access", "prioritized_list", "partitionable_devices", "device_taints"})
_SIX = _BASE4 | {"device_binding_and_status", "consumable_capacity"}
_ALL_137 = _SIX | {
    "list_type_attributes", "fractional_capacity_range", "optional_node_operations",
    "derived_attributes", "compatibility_groups",
}

# minor -> variant -> features it supports (our attribute names), from SupportedFeatures.
SUPPORTED: Mapping[str, Mapping[str, frozenset[str]]] = {
    "1.34": {STABLE: frozenset(), INCUBATING: _BASE4,
             EXPERIMENTAL: _SIX | {"device_status_1_34"}},
    "1.35": {STABLE: frozenset(), INCUBATING: _BASE4, EXPERIMENTAL: _SIX},
    "1.36": {STABLE: _BASE4, INCUBATING: _SIX, EXPERIMENTAL: _SIX | {"list_type_attributes"}},
    "1.37": {STABLE: _BASE4, INCUBATING: _SIX | {"fractional_capacity_range"}, EXPERIMENTAL: _ALL_137},
}


class NoVariant(ValueError):
    """No upstream variant supports the requested feature set (upstream: internal error)."""


def enabled_features(features: Features) -> frozenset[str]:
    return frozenset(name for name, on in vars(features).items() if on)


def choose_variant(minor: str, features: Features) -> str:
    """The variant ``NewAllocator`` of ``minor`` picks for ``features``."""
    want = enabled_features(features)
    for name in VARIANTS:
        if want <= SUPPORTED[minor][name]:
            return name
    raise NoVariant(
        f"internal error: no allocator available for feature set {sorted(want)} in Kubernetes {minor}"
    )


@dataclass(frozen=True)
class Behaviour:
    """How the search runs: the (minor, variant) pair and what follows from it."""

    minor: str = "1.35"
    variant: str = INCUBATING

    @property
    def ordered(self) -> bool:
        """1.36+ incubating/experimental: pools by (driver, pool), slices by name."""
        return self.minor >= "1.36" and self.variant != STABLE

    @property
    def start_location(self) -> bool:
        """1.36+ incubating/experimental: a request's next device comes after the previous one."""
        return self.ordered

    @property
    def counters_key(self) -> str:
        """``"slice"``, ``"pool-name"`` or ``"driver-pool"``: how shared counters are cached."""
        if self.minor == "1.34" or (self.minor == "1.35" and self.variant == STABLE):
            return "slice"
        if self.minor in ("1.35", "1.36"):
            return "pool-name"
        return "driver-pool"

    @classmethod
    def of(cls, minor: str, features: Features, variant: str | None = None) -> "Behaviour":
        return cls(minor=minor, variant=variant or choose_variant(minor, features))

    def with_variant(self, variant: str) -> "Behaviour":
        return replace(self, variant=variant)


def features_for_gates(minor: str, gates: Mapping[str, bool]) -> Features:
    """The scheduler's ``AllocatorFeatures``: gates of ``minor`` -> allocator Features."""
    on = {g for g, v in gates.items() if v}
    f = Features(
        admin_access="DRAAdminAccess" in on,
        prioritized_list="DRAPrioritizedList" in on,
        partitionable_devices="DRAPartitionableDevices" in on,
        device_taints="DRADeviceTaints" in on,
        consumable_capacity="DRAConsumableCapacity" in on,
        device_binding_and_status={"DRADeviceBindingConditions", "DRAResourceClaimDeviceStatus"} <= on,
    )
    if minor == "1.34":
        # 1.34 passes DeviceStatus on its own (field DeviceStatus = DRAResourceClaimDeviceStatus).
        f = replace(f, device_status_1_34="DRAResourceClaimDeviceStatus" in on)
    if minor >= "1.37":
        # 1.36's scheduler enables list types only in CEL, not in the allocator Features.
        f = replace(
            f,
            list_type_attributes="DRAListTypeAttributes" in on,
            fractional_capacity_range="DRAFractionalCapacityRange" in on,
            optional_node_operations="DRAOptionalNodeOperations" in on,
            derived_attributes="DRADerivedAttributes" in on,
            compatibility_groups="DRADeviceCompatibilityGroups" in on,
        )
    return f
