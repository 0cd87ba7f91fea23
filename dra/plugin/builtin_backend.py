"""A GPU backend without GPUs, for built-in profiles and tests.

It behaves like the hardware where the plugin can observe it: MIG instances occupy memory
slices and cannot overlap, get GPU-instance ids and MIG UUIDs, and persist across plugin
restarts (they live in ``<state-dir>/builtin-hardware.json``, like real MIG configuration
lives on the GPU until reboot); time-slice levels and MPS daemons are recorded the same way.

Health events are injected either in-process (:meth:`inject`) or by appending JSON lines
``{"uuid": ..., "kind": "xid", "code": 79}`` to ``<state-dir>/builtin-events.jsonl``, which
lets a test drive a plugin running as a separate process.
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid as uuidlib
from pathlib import Path

from dra.plugin.backend import (
    TIME_SLICE_LEVELS,
    BackendError,
    HealthEvent,
    MigInstance,
    MpsDaemon,
    MpsSettings,
)
from dra.plugin.files import atomic_write

HARDWARE_FILE = "builtin-hardware.json"
EVENTS_FILE = "builtin-events.jsonl"


class BuiltinBackend:
    def __init__(self, state_dir: Path, gpu_uuids: list[str], durable: bool = True) -> None:
        self.state_dir = Path(state_dir)
        self._gpus = set(gpu_uuids)
        self._durable = durable
        self._lock = threading.Lock()
        self._events: list[HealthEvent] = []
        self._event_ready = threading.Condition(self._lock)
        self._events_offset = 0
        self._path = self.state_dir / HARDWARE_FILE
        self._mig: list[MigInstance] = []
        self._time_slice: dict[str, str] = {}
        # Tests set a GPU's compute mode here (as `nvidia-smi -c` would on a node).
        self._compute_mode: dict[str, str] = {}
        self._mps: dict[str, dict] = {}
        self.operations: list[str] = []  # a log of what was done, for tests
        self._load()

    # -- persistence ---------------------------------------------------------------------

    def _load(self) -> None:
        try:
            data = json.loads(self._path.read_text())
        except FileNotFoundError:
            return
        self._mig = [MigInstance.from_json(m) for m in data.get("migInstances", [])]
        self._time_slice = dict(data.get("timeSlice", {}))
        self._compute_mode = dict(data.get("computeMode", {}))
        self._mps = dict(data.get("mpsDaemons", {}))

    def _save(self) -> None:
        if not self._durable:
            return
        data = {
            "migInstances": [m.to_json() for m in self._mig],
            "timeSlice": self._time_slice,
            "computeMode": self._compute_mode,
            "mpsDaemons": self._mps,
        }
        atomic_write(self._path, json.dumps(data, indent=1, sort_keys=True).encode())

    def _check_gpu(self, gpu_uuid: str) -> None:
        if gpu_uuid not in self._gpus:
            raise BackendError(f"no GPU with UUID {gpu_uuid}")

    # -- MIG -----------------------------------------------------------------------------

    def create_mig(
        self, parent_uuid: str, profile: str, gi_profile_id: int, start: int, size: int
    ) -> MigInstance:
        with self._lock:
            self._check_gpu(parent_uuid)
            wanted = set(range(start, start + size))
            for inst in self._mig:
                if inst.parent_uuid != parent_uuid:
                    continue
                if inst.gi_profile_id == gi_profile_id and inst.placement_start == start:
                    return inst  # already there: creation is idempotent
                taken = set(range(inst.placement_start, inst.placement_start + inst.placement_size))
                if taken & wanted:
                    raise BackendError(
                        f"GPU {parent_uuid}: MIG placement {profile}@{start} overlaps "
                        f"existing instance {inst.profile}@{inst.placement_start} (insufficient resources)"
                    )
            used = {i.gi_id for i in self._mig if i.parent_uuid == parent_uuid}
            gi_id = next(n for n in range(1, 64) if n not in used)
            mig_uuid = "MIG-" + str(uuidlib.uuid5(uuidlib.NAMESPACE_OID, f"{parent_uuid}/{gi_id}/{start}"))
            inst = MigInstance(parent_uuid, profile, gi_profile_id, start, size, gi_id, 0, mig_uuid)
            self._mig.append(inst)
            self.operations.append(f"create-mig {parent_uuid} {profile}@{start}")
            self._save()
            return inst

    def destroy_mig(self, parent_uuid: str, gi_profile_id: int, start: int) -> bool:
        with self._lock:
            keep = [
                i for i in self._mig
                if not (i.parent_uuid == parent_uuid and i.gi_profile_id == gi_profile_id and i.placement_start == start)
            ]
            removed = len(keep) != len(self._mig)
            if removed:
                self._mig = keep
                self.operations.append(f"destroy-mig {parent_uuid} {gi_profile_id}@{start}")
                self._save()
            return removed

    def list_mig(self) -> list[MigInstance]:
        with self._lock:
            return list(self._mig)

    # -- sharing -------------------------------------------------------------------------

    def set_time_slice(self, gpu_uuid: str, interval: str) -> None:
        if interval not in TIME_SLICE_LEVELS:
            raise BackendError(f"unknown time-slice interval {interval!r}")
        with self._lock:
            self._check_gpu(gpu_uuid)
            if interval == "Default":
                changed = self._time_slice.pop(gpu_uuid, None) is not None
            else:
                changed = self._time_slice.get(gpu_uuid) != interval
                self._time_slice[gpu_uuid] = interval
            if changed:
                self.operations.append(f"time-slice {gpu_uuid} {interval}")
                self._save()

    def time_slice(self, gpu_uuid: str) -> str:
        with self._lock:
            return self._time_slice.get(gpu_uuid, "Default")

    def compute_mode(self, gpu_uuid: str) -> str:
        with self._lock:
            return self._compute_mode.get(gpu_uuid, "Default")

    def set_compute_mode(self, gpu_uuid: str, mode: str) -> None:
        """What an operator's ``nvidia-smi -c`` does on a node (for tests)."""
        with self._lock:
            self._check_gpu(gpu_uuid)
            self._compute_mode[gpu_uuid] = mode
            self._save()

    def start_mps(self, daemon_id: str, gpu_uuids: list[str], settings: MpsSettings) -> MpsDaemon:
        base = self.state_dir / "mps" / daemon_id
        daemon = MpsDaemon(daemon_id, str(base / "pipe"), str(base / "log"), str(base / "shm"))
        with self._lock:
            for gpu in gpu_uuids:
                if gpu.startswith("MIG-"):
                    continue
                self._check_gpu(gpu)
            if daemon_id not in self._mps:
                for sub in ("pipe", "log", "shm"):
                    (base / sub).mkdir(parents=True, exist_ok=True)
                self._mps[daemon_id] = {
                    "devices": list(gpu_uuids),
                    "activeThreadPercentage": settings.active_thread_percentage,
                    "pinnedMemoryLimits": settings.pinned_memory_limits,
                }
                self.operations.append(f"start-mps {daemon_id}")
                self._save()
        return daemon

    def stop_mps(self, daemon_id: str) -> None:
        with self._lock:
            if self._mps.pop(daemon_id, None) is not None:
                self.operations.append(f"stop-mps {daemon_id}")
                self._save()
        shutil.rmtree(self.state_dir / "mps" / daemon_id, ignore_errors=True)

    def remove_stale_mps(self, keep: set[str]) -> list[str]:
        with self._lock:
            stale = sorted(d for d in self._mps if d not in keep)
        for daemon_id in stale:
            self.stop_mps(daemon_id)
        base = self.state_dir / "mps"
        for leftover in sorted(base.iterdir()) if base.is_dir() else ():
            if leftover.is_dir() and leftover.name not in keep:
                shutil.rmtree(leftover, ignore_errors=True)
                if leftover.name not in stale:
                    stale.append(leftover.name)
        return sorted(stale)

    def mps_daemons(self) -> dict[str, dict]:
        with self._lock:
            return dict(self._mps)

    # -- health --------------------------------------------------------------------------

    def inject(self, event: HealthEvent) -> None:
        with self._event_ready:
            self._events.append(event)
            self._event_ready.notify_all()

    def _read_event_file(self) -> None:
        path = self.state_dir / EVENTS_FILE
        try:
            with open(path, "rb") as handle:
                handle.seek(self._events_offset)
                chunk = handle.read()
        except FileNotFoundError:
            return
        # Only complete lines: a writer may be in the middle of one.
        end = chunk.rfind(b"\n") + 1
        self._events_offset += end
        for line in chunk[:end].splitlines():
            if line.strip():
                data = json.loads(line)
                self._events.append(HealthEvent(data["uuid"], data["kind"], int(data.get("code", 0))))

    def wait_health_events(self, timeout: float) -> list[HealthEvent]:
        with self._event_ready:
            self._read_event_file()
            if not self._events:
                # Poll the file at a short cadence while waiting for in-process events.
                self._event_ready.wait(min(timeout, 0.2))
                self._read_event_file()
            events, self._events = self._events, []
            return events

    def close(self) -> None:
        pass
