"""What the plugin asks of the GPUs: the seam between device state and hardware.

Two implementations:

* :class:`dra.plugin.builtin_backend.BuiltinBackend` for built-in profiles (no GPU): it
  keeps the "hardware" state (MIG instances, time-slice levels, MPS daemons) in a JSON file,
  so that it survives a plugin restart the way real GPU state does, and lets tests inject
  health events;
* :class:`dra.plugin.nvml_backend.NvmlBackend` for real nodes (pynvml / nvidia-smi).

Every operation is idempotent where rollback needs it: destroying a MIG instance that is not
there, resetting a time slice that was never set, or stopping an MPS daemon that is not
running all succeed, because a rollback after a crash does not know how far the prepare got.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Time-slice levels as nvidia-smi's --set-timeslice takes them.
TIME_SLICE_LEVELS = {"Default": 0, "Short": 1, "Medium": 2, "Long": 3}

# nvmlComputeMode_t (nvml.h): NVML_COMPUTEMODE_DEFAULT .. NVML_COMPUTEMODE_EXCLUSIVE_PROCESS.
COMPUTE_MODES = {0: "Default", 1: "ExclusiveThread", 2: "Prohibited", 3: "ExclusiveProcess"}


@dataclass(frozen=True)
class MigInstance:
    """A MIG device (GPU instance + compute instance) that exists on a GPU."""

    parent_uuid: str
    profile: str
    gi_profile_id: int
    placement_start: int
    placement_size: int
    gi_id: int
    ci_id: int
    uuid: str

    def to_json(self) -> dict:
        return {
            "parentUUID": self.parent_uuid,
            "profile": self.profile,
            "giProfileID": self.gi_profile_id,
            "placementStart": self.placement_start,
            "placementSize": self.placement_size,
            "giID": self.gi_id,
            "ciID": self.ci_id,
            "uuid": self.uuid,
        }

    @classmethod
    def from_json(cls, data: dict) -> "MigInstance":
        return cls(
            parent_uuid=data["parentUUID"],
            profile=data["profile"],
            gi_profile_id=int(data["giProfileID"]),
            placement_start=int(data["placementStart"]),
            placement_size=int(data["placementSize"]),
            gi_id=int(data["giID"]),
            ci_id=int(data["ciID"]),
            uuid=data["uuid"],
        )


@dataclass(frozen=True)
class MpsDaemon:
    """A running MPS control daemon serving one claim's devices."""

    daemon_id: str
    pipe_dir: str
    log_dir: str
    shm_dir: str
    # ``deployment/<namespace>/<name>`` when the daemon runs as its own workload (mps_pods)
    workload: str | None = None


@dataclass(frozen=True)
class MpsSettings:
    active_thread_percentage: int | None
    # Pinned device memory limit per device UUID, in bytes.
    pinned_memory_limits: dict[str, int]


@dataclass(frozen=True)
class HealthEvent:
    """Something NVML reported about a device.

    ``kind``: ``xid`` (with ``code``), ``ecc-dbe`` / ``ecc-sbe`` (double/single bit ECC),
    ``gpu-lost``, or ``recovered`` (the device is healthy again: all taints are cleared).
    """

    uuid: str
    kind: str
    code: int = 0


class BackendError(Exception):
    """A hardware operation failed (e.g. no room for a MIG instance)."""

    error_type = "device"


class DeviceBackend(Protocol):
    def create_mig(
        self, parent_uuid: str, profile: str, gi_profile_id: int, start: int, size: int
    ) -> MigInstance: ...

    def destroy_mig(self, parent_uuid: str, gi_profile_id: int, start: int) -> bool: ...

    def list_mig(self) -> list[MigInstance]: ...

    def set_time_slice(self, gpu_uuid: str, interval: str) -> None: ...

    def time_slice(self, gpu_uuid: str) -> str | None:
        """The GPU's current time-slice interval as far as the backend can know it (None: unknown)."""
        ...

    def compute_mode(self, gpu_uuid: str) -> str | None:
        """The GPU's compute mode (:data:`COMPUTE_MODES` values; None: cannot be read)."""
        ...

    def start_mps(self, daemon_id: str, gpu_uuids: list[str], settings: MpsSettings) -> MpsDaemon: ...

    def stop_mps(self, daemon_id: str) -> None: ...

    def remove_stale_mps(self, keep: set[str]) -> list[str]: ...

    def wait_health_events(self, timeout: float) -> list[HealthEvent]: ...

    def close(self) -> None: ...
