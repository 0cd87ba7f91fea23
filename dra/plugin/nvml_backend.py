"""The device backend of a real node: NVML (pynvml) for MIG and health, NVIDIA tools for sharing.

* MIG: GPU instances are created at the exact placement the published device name encodes
  (``nvmlDeviceCreateGpuInstanceWithPlacement``, whose placement argument is a *pointer*:
  passing the struct by value made NVML read its bytes as an address, SIGSEGV), with one full
  compute instance, and found again by (profile, placement) to destroy them, so rollback needs
  no handle from before a crash. MIG mode is checked first: a GPU without MIG, or with MIG
  disabled (or only pending), refuses with a clear reason instead of an NVML error code.
* Time slicing: ``nvidia-smi compute-policy -i <uuid> --set-timeslice=<0..3>``, as NVIDIA's
  driver does. NVML has no public call that reads the compute-policy time slice back (nvml.h
  has only the vGPU scheduler's), so what this node set is kept in ``timeslice.json`` in the
  plugin's host directory (surviving a lost checkpoint), and the GPU's compute mode is read
  through ``nvmlDeviceGetComputeMode``: a GPU in EXCLUSIVE_PROCESS (an MPS daemon, or an
  operator's ``nvidia-smi -c 3``) or PROHIBITED cannot time-slice processes, and a prepare that
  asks for it there is refused (``state``), as is one whose interval differs from the GPU's.
* MPS: one ``nvidia-cuda-mps-control -d`` per claim group (``mps``), with its pipe, log and
  shm directories on the host under ``--mps-root`` (what the workload mounts through CDI),
  in its own session so that it outlives a plugin restart; re-adopted from its pid file.
* Health: an NVML event set for critical XIDs and ECC errors, waited on in short slices. NVML
  has no "recovered" event. A tainted GPU is reported recovered only when NVML confirms it:
  it answers again and ``NVML_FI_DEV_GET_GPU_RECOVERY_ACTION`` reads
  ``NVML_GPU_RECOVERY_ACTION_NONE``, checked at most every ``recovery_check_s`` and no sooner
  than that after its last bad event. A driver without that field never confirms: the taint
  stays until an operator clears it (before, every taint was dropped 300 s after the last
  event whenever a handle lookup succeeded).

Tests run this code through real pynvml against ``tests/fakenvml/fake_nvml.c``, a fake
``libnvidia-ml.so.1`` with NVML's C prototypes; no GPU was available to this project.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from dra.plugin.backend import (
    COMPUTE_MODES,
    TIME_SLICE_LEVELS,
    BackendError,
    HealthEvent,
    MigInstance,
    MpsDaemon,
    MpsSettings,
)
from dra.plugin.drivertools import DriverTools
from dra.plugin.files import atomic_write
from dra.plugin.mps import MpsControl

log = logging.getLogger(__name__)

GI_PROFILE_INDEXES = range(0x12)
CI_PROFILE_INDEXES = range(0x08)
# A GPU has at most 8 memory slices, so at most 8 instances of any one profile.
MAX_INSTANCES = 8
NVML_FI_DEV_GET_GPU_RECOVERY_ACTION = 230
NVML_GPU_RECOVERY_ACTION_NONE = 0
TIME_SLICE_FILE = "timeslice.json"


class MigUnavailable(BackendError):
    """The GPU cannot host MIG devices now (no MIG, or MIG mode off)."""

    error_type = "mig_unavailable"


class NvmlBackend:
    def __init__(
        self,
        state_dir: Path,
        gpu_uuids: list[str],
        *,
        mps_root: Path | None = None,
        driver_root_mount: Path = Path("/"),
        recovery_check_s: float = 30.0,
    ) -> None:
        import pynvml

        self._nvml = pynvml
        pynvml.nvmlInit()
        self.state_dir = Path(state_dir)
        self._gpus = list(gpu_uuids)
        self._lock = threading.Lock()
        self._check_every = recovery_check_s
        self._last_bad: dict[str, float] = {}
        self._last_check: dict[str, float] = {}
        self._events = None
        self.tools = DriverTools(Path(driver_root_mount))
        self.mps = MpsControl(Path(mps_root) if mps_root else self.state_dir / "mps", tools=self.tools)

    def mig_mode(self, uuid: str) -> tuple[int, int] | None:
        """(current, pending) MIG mode, or None for a GPU without MIG."""
        nv = self._nvml
        try:
            current, pending = nv.nvmlDeviceGetMigMode(self._handle(uuid))
        except nv.NVMLError as err:
            if getattr(err, "value", None) == nv.NVML_ERROR_NOT_SUPPORTED:
                return None
            raise BackendError(f"GPU {uuid}: reading MIG mode failed: {err}") from None
        return int(current), int(pending)

    def check_mig(self, uuid: str) -> None:
        """Refuse, in one line, a MIG operation on a GPU that cannot do it now."""
        mode = self.mig_mode(uuid)
        if mode is None:
            raise MigUnavailable(f"GPU {uuid} does not support MIG")
        current, pending = mode
        if current != 1:
            hint = " (enabled, pending a GPU reset)" if pending == 1 else ""
            raise MigUnavailable(
                f"GPU {uuid}: MIG mode is disabled{hint}; enable it with `nvidia-smi -i {uuid} -mig 1` "
                "and reset the GPU, or publish it in whole mode"
            )

    def _handle(self, uuid: str):
        try:
            return self._nvml.nvmlDeviceGetHandleByUUID(uuid)
        except self._nvml.NVMLError as err:
            raise BackendError(f"GPU {uuid}: {err}") from None

    def _gi_profile(self, handle, gi_profile_id: int):
        for index in GI_PROFILE_INDEXES:
            try:
                info = self._nvml.nvmlDeviceGetGpuInstanceProfileInfo(handle, index)
            except self._nvml.NVMLError:
                continue
            if info.id == gi_profile_id:
                return info
        raise BackendError(f"GPU-instance profile id {gi_profile_id} is not supported by this GPU")

    def _instances(self, handle, info) -> list:
        """The GPU instances of one profile (NVML fills a caller-provided array)."""
        nv = self._nvml
        count = nv.c_uint(0)
        array = (nv.c_nvmlGpuInstance_t * MAX_INSTANCES)()
        try:
            nv.nvmlDeviceGetGpuInstances(handle, info.id, array, nv.byref(count))
        except nv.NVMLError:
            return []
        return [array[i] for i in range(count.value)]

    def _compute_instances(self, gi, profile_id: int) -> list:
        nv = self._nvml
        count = nv.c_uint(0)
        array = (nv.c_nvmlComputeInstance_t * MAX_INSTANCES)()
        try:
            nv.nvmlGpuInstanceGetComputeInstances(gi, profile_id, array, nv.byref(count))
        except nv.NVMLError:
            return []
        return [array[i] for i in range(count.value)]

    def _describe(self, parent_uuid: str, handle, profile_name: str, gi) -> MigInstance:
        nv = self._nvml
        gi_info = nv.nvmlGpuInstanceGetInfo(gi)
        ci_id, mig_uuid = 0, ""
        for ci_index in range(nv.nvmlDeviceGetMaxMigDeviceCount(handle)):
            try:
                mig = nv.nvmlDeviceGetMigDeviceHandleByIndex(handle, ci_index)
            except nv.NVMLError:
                continue
            if nv.nvmlDeviceGetGpuInstanceId(mig) == gi_info.id:
                ci_id = nv.nvmlDeviceGetComputeInstanceId(mig)
                mig_uuid = nv.nvmlDeviceGetUUID(mig)
                break
        return MigInstance(
            parent_uuid, profile_name, gi_info.profileId, gi_info.placement.start, gi_info.placement.size,
            gi_info.id, ci_id, mig_uuid,
        )

    def create_mig(self, parent_uuid: str, profile: str, gi_profile_id: int, start: int, size: int) -> MigInstance:
        nv = self._nvml
        with self._lock:
            handle = self._handle(parent_uuid)
            self.check_mig(parent_uuid)
            info = self._gi_profile(handle, gi_profile_id)
            for gi in self._instances(handle, info):
                if nv.nvmlGpuInstanceGetInfo(gi).placement.start == start:
                    return self._describe(parent_uuid, handle, profile, gi)
            placement = nv.c_nvmlGpuInstancePlacement_t()
            placement.start, placement.size = start, size
            try:
                # const nvmlGpuInstancePlacement_t *placement: a pointer, not the struct.
                gi = nv.nvmlDeviceCreateGpuInstanceWithPlacement(handle, info.id, nv.byref(placement))
                ci_profile = nv.nvmlGpuInstanceGetComputeInstanceProfileInfo(
                    gi, _full_ci_index(info.sliceCount), nv.NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED
                )
                nv.nvmlGpuInstanceCreateComputeInstance(gi, ci_profile.id)
            except nv.NVMLError as err:
                raise BackendError(f"GPU {parent_uuid}: creating MIG {profile}@{start} failed: {err}") from None
            return self._describe(parent_uuid, handle, profile, gi)

    def destroy_mig(self, parent_uuid: str, gi_profile_id: int, start: int) -> bool:
        nv = self._nvml
        with self._lock:
            handle = self._handle(parent_uuid)
            mode = self.mig_mode(parent_uuid)
            if mode is None or mode[0] != 1:
                return False  # no MIG instances can exist: nothing to undo
            info = self._gi_profile(handle, gi_profile_id)
            for gi in self._instances(handle, info):
                if nv.nvmlGpuInstanceGetInfo(gi).placement.start != start:
                    continue
                try:
                    for ci_index in CI_PROFILE_INDEXES:
                        try:
                            ci_info = nv.nvmlGpuInstanceGetComputeInstanceProfileInfo(
                                gi, ci_index, nv.NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED
                            )
                        except nv.NVMLError:
                            continue
                        for ci in self._compute_instances(gi, ci_info.id):
                            nv.nvmlComputeInstanceDestroy(ci)
                    nv.nvmlGpuInstanceDestroy(gi)
                except nv.NVMLError as err:
                    raise BackendError(f"GPU {parent_uuid}: destroying MIG {gi_profile_id}@{start} failed: {err}") from None
                return True
            return False

    def list_mig(self) -> list[MigInstance]:
        out = []
        with self._lock:
            for uuid in self._gpus:
                handle = self._handle(uuid)
                mode = self.mig_mode(uuid)
                if mode is None or mode[0] != 1:
                    continue
                for index in GI_PROFILE_INDEXES:
                    try:
                        info = self._nvml.nvmlDeviceGetGpuInstanceProfileInfo(handle, index)
                    except self._nvml.NVMLError:
                        continue
                    for gi in self._instances(handle, info):
                        out.append(self._describe(uuid, handle, "", gi))
        return out

    def set_time_slice(self, gpu_uuid: str, interval: str) -> None:
        level = TIME_SLICE_LEVELS[interval]
        self.tools.run(["nvidia-smi", "compute-policy", "-i", gpu_uuid, f"--set-timeslice={level}"])
        with self._lock:
            known = self._time_slices()
            if interval == "Default":
                known.pop(gpu_uuid, None)
            else:
                known[gpu_uuid] = interval
            atomic_write(self.state_dir / TIME_SLICE_FILE, json.dumps(known, sort_keys=True).encode(),
                         durable=True)

    def _time_slices(self) -> dict[str, str]:
        try:
            data = json.loads((self.state_dir / TIME_SLICE_FILE).read_text())
        except (OSError, ValueError):
            return {}  # none set, or unreadable: the checkpoint's claims still guard conflicts
        if not isinstance(data, dict):
            return {}
        return {str(k): str(v) for k, v in data.items() if v in TIME_SLICE_LEVELS}

    def time_slice(self, gpu_uuid: str) -> str:
        """The interval this node last set on the GPU (``Default`` when none is on record)."""
        return self._time_slices().get(gpu_uuid, "Default")

    def compute_mode(self, gpu_uuid: str) -> str | None:
        nv = self._nvml
        try:
            # nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t device, nvmlComputeMode_t *mode)
            mode = nv.nvmlDeviceGetComputeMode(self._handle(gpu_uuid))
        except (nv.NVMLError, BackendError) as err:
            log.warning("cannot read the GPU's compute mode", extra={"uuid": gpu_uuid, "error": str(err)})
            return None
        return COMPUTE_MODES.get(int(mode), f"mode {int(mode)}")

    def start_mps(self, daemon_id: str, gpu_uuids: list[str], settings: MpsSettings) -> MpsDaemon:
        return self.mps.start(daemon_id, gpu_uuids, settings)

    def stop_mps(self, daemon_id: str) -> None:
        self.mps.stop(daemon_id)

    def remove_stale_mps(self, keep: set[str]) -> list[str]:
        return self.mps.remove_stale(keep)

    def _event_set(self):
        nv = self._nvml
        if self._events is None:
            self._events = nv.nvmlEventSetCreate()
            mask = nv.nvmlEventTypeXidCriticalError | nv.nvmlEventTypeDoubleBitEccError | nv.nvmlEventTypeSingleBitEccError
            for uuid in self._gpus:
                try:
                    nv.nvmlDeviceRegisterEvents(self._handle(uuid), mask, self._events)
                except nv.NVMLError as err:
                    log.warning("cannot watch GPU health", extra={"uuid": uuid, "error": str(err)})
        return self._events

    def wait_health_events(self, timeout: float) -> list[HealthEvent]:
        nv = self._nvml
        events: list[HealthEvent] = []
        try:
            data = nv.nvmlEventSetWait_v2(self._event_set(), int(timeout * 1000))
            uuid = nv.nvmlDeviceGetUUID(data.device)
            if data.eventType == nv.nvmlEventTypeXidCriticalError:
                events.append(HealthEvent(uuid, "xid", int(data.eventData)))
            elif data.eventType == nv.nvmlEventTypeDoubleBitEccError:
                events.append(HealthEvent(uuid, "ecc-dbe"))
            elif data.eventType == nv.nvmlEventTypeSingleBitEccError:
                events.append(HealthEvent(uuid, "ecc-sbe"))
        except nv.NVMLError as err:
            if getattr(err, "value", None) == nv.NVML_ERROR_GPU_IS_LOST:
                events.extend(HealthEvent(u, "gpu-lost") for u in self._gpus)
            elif getattr(err, "value", None) != nv.NVML_ERROR_TIMEOUT:
                raise
        now = time.monotonic()
        for event in events:
            if event.kind != "ecc-sbe":
                self._last_bad[event.uuid] = now
        for uuid, since in list(self._last_bad.items()):
            if now - since < self._check_every or now - self._last_check.get(uuid, 0.0) < self._check_every:
                continue
            self._last_check[uuid] = now
            if self.recovery_confirmed(uuid):
                del self._last_bad[uuid]
                events.append(HealthEvent(uuid, "recovered"))
        return events

    def recovery_confirmed(self, uuid: str) -> bool:
        """NVML says the GPU needs nothing: it answers, and its recovery action is NONE."""
        nv = self._nvml
        try:
            handle = nv.nvmlDeviceGetHandleByUUID(uuid)
            nv.nvmlDeviceGetMemoryInfo(handle)
            (value,) = nv.nvmlDeviceGetFieldValues(handle, [NVML_FI_DEV_GET_GPU_RECOVERY_ACTION])
        except nv.NVMLError:
            return False
        if value.nvmlReturn != nv.NVML_SUCCESS:
            return False  # the driver cannot say: only an operator may clear the taint
        return int(value.value.uiVal) == NVML_GPU_RECOVERY_ACTION_NONE

    def close(self) -> None:
        nv = self._nvml
        if self._events is not None:
            nv.nvmlEventSetFree(self._events)
            self._events = None
        nv.nvmlShutdown()


def _full_ci_index(slice_count: int) -> int:
    # NVML_COMPUTE_INSTANCE_PROFILE_{1,2,3,4,7,8,6}_SLICE = 0,1,2,3,4,5,6: the full CI of a GI.
    return {1: 0, 2: 1, 3: 2, 4: 3, 7: 4, 8: 5, 6: 6}.get(slice_count, 0)
