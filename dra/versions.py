"""Kubernetes minors this project supports, and each one's DRA feature-gate defaults.

A Kubernetes version is data that flows down the layers: it is chosen once at the edge (the
``--kubernetes-version`` option of every command, default :data:`DEFAULT_VERSION`), turned
into a :class:`KubernetesVersion` with the gates that version enables by default (plus any
``--feature-gates`` overrides), and handed to API validation, the CEL environment, the
allocator variant, the slice builder and the simulator. No layer below the edge compares
version strings of its own.

The defaults come from upstream's feature-gate tables (``pkg/features`` and the scheduler's
gates, summarised in ``reference/dra-2026.md`` §1). A gate absent from a minor's table does
not exist in that minor; naming it there is a user error, as it is for kube-apiserver.

``BUILD_PATCHES`` names the patch release of each minor that the real-cluster tests build
(the newest served by the Go module proxy); its staging modules are ``v0.<minor>.<patch>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from dra.errors import UserError

SUPPORTED_MINORS: tuple[str, ...] = ("1.34", "1.35", "1.36", "1.37")
DEFAULT_VERSION = "1.37"

# Newest patch of each minor the Go module proxy serves (k8s.io/kubernetes vX.Y.Z).
BUILD_PATCHES: Mapping[str, str] = {
    "1.34": "1.34.4",
    "1.35": "1.35.4",
    "1.36": "1.36.3",
    "1.37": "1.37.2",
}

# gate -> default per minor; a minor missing from a gate's row means the gate does not exist there.
_GATE_DEFAULTS: Mapping[str, Mapping[str, bool]] = {
    "DynamicResourceAllocation": {"1.34": True, "1.35": True, "1.36": True, "1.37": True},
    "DRAAdminAccess": {"1.34": True, "1.35": True, "1.36": True, "1.37": True},
    "DRAPrioritizedList": {"1.34": True, "1.35": True, "1.36": True, "1.37": True},
    "DRAResourceClaimDeviceStatus": {"1.34": True, "1.35": True, "1.36": True, "1.37": True},
    "DRADeviceTaints": {"1.34": False, "1.35": False, "1.36": True, "1.37": True},
    "DRADeviceTaintRules": {"1.35": False, "1.36": False, "1.37": True},
    "DRAPartitionableDevices": {"1.34": False, "1.35": False, "1.36": True, "1.37": True},
    "DRAConsumableCapacity": {"1.34": False, "1.35": False, "1.36": True, "1.37": True},
    "DRADeviceBindingConditions": {"1.34": False, "1.35": False, "1.36": True, "1.37": True},
    "DRAExtendedResource": {"1.34": False, "1.35": False, "1.36": True, "1.37": True},
    "DRASchedulerFilterTimeout": {"1.34": True, "1.35": True, "1.36": True, "1.37": True},
    "ResourceHealthStatus": {"1.34": False, "1.35": False, "1.36": True, "1.37": True},
    "DRAResourceClaimGranularStatusAuthorization": {"1.36": True, "1.37": True},
    "DRAListTypeAttributes": {"1.36": False, "1.37": False},
    "DRANodeAllocatableResources": {"1.36": False, "1.37": False},
    "DRAWorkloadResourceClaims": {"1.36": False, "1.37": False},
    "DRAResourcePoolStatus": {"1.36": False, "1.37": False},  # alpha (ResourcePoolStatusRequest, v1alpha3)
    "DRADeviceCompatibilityGroups": {"1.37": False},
    "DRADerivedAttributes": {"1.37": False},
    "DRAOptionalNodeOperations": {"1.37": False},
    "DRAFractionalCapacityRange": {"1.37": True},  # beta, on: as kube-apiserver v1.37.2 --help says
    "DRAPartitionableDevicesType": {"1.37": False},
}


class VersionError(UserError):
    """An unsupported Kubernetes version or an unknown feature gate."""


def parse_minor(text: str, *, option: str = "--kubernetes-version") -> str:
    """``"1.36"`` from ``1.36``, ``v1.36.3`` or ``1.36.0-rc.1``; a clear error otherwise."""
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$", str(text).strip())
    if not m:
        raise VersionError(f"{option}: not a Kubernetes version: {text!r} (supported: {', '.join(SUPPORTED_MINORS)})")
    minor = f"{int(m.group(1))}.{int(m.group(2))}"
    if minor not in SUPPORTED_MINORS:
        raise VersionError(f"{option}: Kubernetes {minor} is not supported (supported: {', '.join(SUPPORTED_MINORS)})")
    return minor


def gates_of(minor: str) -> tuple[str, ...]:
    """Every DRA-related gate that exists in ``minor``, sorted."""
    return tuple(sorted(g for g, row in _GATE_DEFAULTS.items() if minor in row))


def default_gates(minor: str) -> dict[str, bool]:
    """The default value of every gate that exists in ``minor``."""
    return {g: row[minor] for g, row in sorted(_GATE_DEFAULTS.items()) if minor in row}


def parse_gate_overrides(text: str, *, option: str = "--feature-gates") -> dict[str, bool]:
    """``"A=true,B=false"`` (kube-apiserver's syntax) as a mapping; ``AllAlpha``/``AllBeta`` are not supported."""
    overrides: dict[str, bool] = {}
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        name, sep, value = part.partition("=")
        if not sep or value.strip().lower() not in ("true", "false"):
            raise VersionError(f"{option}: {part!r} is not NAME=true|false")
        overrides[name.strip()] = value.strip().lower() == "true"
    return overrides


@dataclass(frozen=True)
class KubernetesVersion:
    """One supported minor plus its effective DRA feature gates."""

    minor: str = DEFAULT_VERSION
    gates: Mapping[str, bool] = field(default_factory=dict)

    @classmethod
    def of(cls, version: str = DEFAULT_VERSION, overrides: Mapping[str, bool] | None = None) -> "KubernetesVersion":
        """``version``'s defaults with ``overrides`` applied; unknown gates are refused."""
        minor = parse_minor(version)
        gates = default_gates(minor)
        for name, value in (overrides or {}).items():
            if name not in gates:
                raise VersionError(
                    f"--feature-gates: unrecognized feature gate {name!r} for Kubernetes {minor}"
                    f" (known: {', '.join(gates_of(minor))})"
                )
            gates[name] = bool(value)
        return cls(minor=minor, gates=gates)

    @classmethod
    def all_gates_on(cls, version: str = DEFAULT_VERSION) -> "KubernetesVersion":
        """Every DRA gate of ``version`` enabled (what the real-cluster tests call 'all on')."""
        minor = parse_minor(version)
        return cls(minor=minor, gates={g: True for g in gates_of(minor)})

    def enabled(self, gate: str) -> bool:
        """Whether ``gate`` is on; a gate this minor does not have is off."""
        return bool(self.gates.get(gate, False))

    def enabled_gates(self) -> tuple[str, ...]:
        return tuple(sorted(g for g, on in self.gates.items() if on))

    def at_least(self, minor: str) -> bool:
        """``True`` when this version is ``minor`` or newer (for shapes that changed in a release)."""
        return _key(self.minor) >= _key(minor)

    @property
    def patch(self) -> str:
        """The patch release the real-cluster tests build for this minor."""
        return BUILD_PATCHES[self.minor]

    def feature_gates_flag(self) -> str:
        """``A=true,B=false,...`` for kube-apiserver/kube-scheduler ``--feature-gates`` (locked GA gates left out)."""
        return ",".join(f"{g}={'true' if on else 'false'}" for g, on in sorted(self.gates.items()))


def _key(minor: str) -> tuple[int, int]:
    major, _, rest = minor.partition(".")
    return int(major), int(rest)


def versions(names: Iterable[str] | None = None) -> list[KubernetesVersion]:
    """The default-gate version objects for ``names`` (all supported minors when ``None``)."""
    return [KubernetesVersion.of(n) for n in (names or SUPPORTED_MINORS)]
