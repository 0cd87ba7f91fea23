"""The device backend of a real node: NVML (pynvml) for MIG and health, NVIDIA tools for sharing.

* MIG: GPU instances are created at the exact placement the published device name encodes
  (``nvmlDeviceCreateGpuInstanceWithPlacement``), with one full compute instance, and found
  again by (profile, placement) to destroy them, so rollback needs no handle from before a
  crash.
* Time slicing: ``nvidia-smi compute-policy -i <uuid> --set-timeslice=<0..3>``.
* MPS: one ``nvidia-cuda-mps-control -d`` per claim group, with its pipe/log directories under
  the plugin's state directory, limited to the claim's devices, and configured through the
  control daemon's commands (active thread percentage, pinned memory limits).
* Health: an NVML event set for critical XIDs and ECC errors, waited on in short slices.
  NVML has no "recovered" event; a GPU is reported recovered once it has answered NVML for
  ``recovery_quiet_s`` seconds without a new critical event.

No GPU was available to this project's tests: ``tests/test_plugin_nvml_backend.py`` runs
this code against a fake ``pynvml`` with the same call shapes and against fake NVIDIA tools,
which pins the calls made but cannot show that a real driver accepts them.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from pathlib import Path

from dra.plugin.backend import (
    TIME_SLICE_LEVELS,
    BackendError,
    HealthEvent,
    MigInstance,
    MpsDaemon,
    MpsSettings,
)

log = logging.getLogger(__name__)

GI_PROFILE_INDEXES = range(0x12)
CI_PROFILE_INDEXES = range(0x08)
# A GPU has at most 8 memory slices, so at most 8 instances of any one profile.
MAX_INSTANCES = 8


class NvmlBackend:
    def __init__(self, state_dir: Path, gpu_uuids: list[str], *, recovery_quiet_s: float = 300.0) -> None:
        import pynvml

        self._nvml = pynvml
        pynvml.nvmlInit()
        self.state_dir = Path(state_dir)
        self._gpus = list(gpu_uuids)
        self._lock = threading.Lock()
        self._quiet = recovery_quiet_s
        self._last_bad: dict[str, float] = {}
        self._events = None
        self._mps: dict[str, subprocess.Popen] = {}

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
            info = self._gi_profile(handle, gi_profile_id)
            for gi in self._instances(handle, info):
                if nv.nvmlGpuInstanceGetInfo(gi).placement.start == start:
                    return self._describe(parent_uuid, handle, profile, gi)
            placement = nv.c_nvmlGpuInstancePlacement_t()
            placement.start, placement.size = start, size
            try:
                gi = nv.nvmlDeviceCreateGpuInstanceWithPlacement(handle, info.id, placement)
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
        _run(["nvidia-smi", "compute-policy", "-i", gpu_uuid, f"--set-timeslice={level}"])

    def start_mps(self, daemon_id: str, gpu_uuids: list[str], settings: MpsSettings) -> MpsDaemon:
        base = self.state_dir / "mps" / daemon_id
        daemon = MpsDaemon(daemon_id, str(base / "pipe"), str(base / "log"), str(base / "shm"))
        for sub in ("pipe", "log", "shm"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, CUDA_VISIBLE_DEVICES=",".join(gpu_uuids),
                   CUDA_MPS_PIPE_DIRECTORY=daemon.pipe_dir, CUDA_MPS_LOG_DIRECTORY=daemon.log_dir)
        if not (base / "pipe" / "control").exists():
            _run(["nvidia-cuda-mps-control", "-d"], env=env)
        commands = []
        if settings.active_thread_percentage is not None:
            commands.append(f"set_default_active_thread_percentage {settings.active_thread_percentage}")
        for uuid, limit in sorted(settings.pinned_memory_limits.items()):
            commands.append(f"set_default_device_pinned_mem_limit {uuid} {max(1, limit // (1 << 20))}M")
        for command in commands:
            _run(["nvidia-cuda-mps-control"], env=env, stdin=command + "\n")
        return daemon

    def stop_mps(self, daemon_id: str) -> None:
        pipe = self.state_dir / "mps" / daemon_id / "pipe"
        if (pipe / "control").exists():
            env = dict(os.environ, CUDA_MPS_PIPE_DIRECTORY=str(pipe))
            _run(["nvidia-cuda-mps-control"], env=env, stdin="quit\n")

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
            if now - since >= self._quiet and self._answers(uuid):
                del self._last_bad[uuid]
                events.append(HealthEvent(uuid, "recovered"))
        return events

    def _answers(self, uuid: str) -> bool:
        try:
            self._nvml.nvmlDeviceGetHandleByUUID(uuid)
            return True
        except self._nvml.NVMLError:
            return False

    def close(self) -> None:
        nv = self._nvml
        if self._events is not None:
            nv.nvmlEventSetFree(self._events)
            self._events = None
        nv.nvmlShutdown()


def _full_ci_index(slice_count: int) -> int:
    # NVML_COMPUTE_INSTANCE_PROFILE_{1,2,3,4,7,8,6}_SLICE = 0,1,2,3,4,5,6: the full CI of a GI.
    return {1: 0, 2: 1, 3: 2, 4: 3, 7: 4, 8: 5, 6: 6}.get(slice_count, 0)


def _run(argv: list[str], env: dict | None = None, stdin: str | None = None) -> None:
    try:
        result = subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BackendError(f"{argv[0]}: {err}") from None
    if result.returncode != 0:
        raise BackendError(f"{' '.join(argv)}: {result.stderr.strip() or result.stdout.strip()}")
