"""Device health: NVML events become device taints, and are cleared on confirmed recovery.

The monitor thread waits for backend events and keeps, per physical GPU, the taints that
its events justify (KEP-5055 device taints, keys as NVIDIA's driver where it has one).
Each *class* of event has its own taint key, so a later event of another class never
replaces an earlier one:

* fatal XID ``n`` -> ``gpu.nvidia.com/xid=<n>:NoSchedule``. Once set it stays (with the first
  fatal code) until recovery; a later fatal XID does not churn it, and no benign event can
  touch it (before, a later XID 13 replaced an XID 79 under the same key and the health
  stream reported the GPU healthy);
* XIDs that are the application's fault (13, 31, 43, 45, 68, 109) ->
  ``gpu.nvidia.com/xid-application=<n>:None`` (informational, Kubernetes 1.35+; not published
  for 1.34, which lacks that effect);
* double-bit ECC -> ``gpu.nvidia.com/ecc-dbe:NoSchedule`` (single-bit errors are corrected by
  the hardware and only logged);
* GPU lost -> ``gpu.nvidia.com/gpu-lost:NoSchedule``.

Taints are removed only when the backend reports ``recovered`` for the GPU, which the NVML
backend does only when NVML confirms it (the GPU answers again and its
``NVML_FI_DEV_GET_GPU_RECOVERY_ACTION`` reads NONE, see ``nvml_backend``), or when an operator
clears them: ``dra plugin clear-health <GPU UUID|all>`` (run in the plugin's pod) drops a file
named after the GPU into ``<plugins-dir>/<driver>/health-clear/``, which the monitor picks up
within a second (:meth:`HealthMonitor.clear`). A plugin restart also starts with no taints. NVIDIA's
driver never clears a taint until the plugin restarts (#1455).

A taint on a GPU applies to the full-GPU device and all its MIG devices. On every change the
``on_change`` callback receives the taints per device name (it republishes the slices), and
the DRAResourceHealth streams (``dra-health/v1`` from Kubernetes 1.37, ``v1alpha1`` before)
are sent a new list derived from the *same* snapshot, so the stream and the taints always
agree: a device is UNHEALTHY exactly when it has a NoSchedule/NoExecute taint, and its
``message`` says which.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from dra.plugin.backend import DeviceBackend, HealthEvent
from dra.plugin.devices import DeviceCatalog
from dra.plugin.protos import dra_health_v1_pb2 as hpb_v1
from dra.plugin.protos import dra_health_v1_pb2_grpc as hpb_v1_grpc
from dra.plugin.protos import dra_health_v1alpha1_pb2 as hpb
from dra.plugin.protos import dra_health_v1alpha1_pb2_grpc as hpb_grpc

log = logging.getLogger(__name__)

TAINT_PREFIX = "gpu.nvidia.com"
KEY_XID = f"{TAINT_PREFIX}/xid"
KEY_XID_APPLICATION = f"{TAINT_PREFIX}/xid-application"
KEY_ECC_DBE = f"{TAINT_PREFIX}/ecc-dbe"
KEY_GPU_LOST = f"{TAINT_PREFIX}/gpu-lost"
APPLICATION_XIDS = frozenset({13, 31, 43, 45, 68, 109})
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
# The kubelet marks a device Unknown when it hears nothing for this long; we resend the
# full list well within it (NVIDIA's driver: every device within the kubelet's 30 s).
HEALTH_CHECK_TIMEOUT_S = 60
RESEND_S = 20.0
MESSAGE_MAX = 1024
HEALTH_CLEAR_DIR = "health-clear"


@dataclass(frozen=True)
class Taint:
    key: str
    value: str | None
    effect: str  # NoSchedule | NoExecute | None
    time_added: str  # RFC 3339, seconds


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def taint_for(event: HealthEvent, allow_none_effect: bool) -> Taint | None:
    if event.kind == "xid":
        if event.code in APPLICATION_XIDS:
            if not allow_none_effect:
                return None
            return Taint(KEY_XID_APPLICATION, str(event.code), "None", _now())
        return Taint(KEY_XID, str(event.code), "NoSchedule", _now())
    if event.kind == "ecc-dbe":
        return Taint(KEY_ECC_DBE, None, "NoSchedule", _now())
    if event.kind == "gpu-lost":
        return Taint(KEY_GPU_LOST, None, "NoSchedule", _now())
    return None


def _replaces(old: Taint | None, new: Taint) -> bool:
    """Whether ``new`` should take the place of ``old`` under the same key.

    A blocking taint is never downgraded or churned: the first one stays until recovery.
    An informational one follows the latest code.
    """
    if old is None:
        return True
    if old.effect in BLOCKING_EFFECTS:
        return False
    return (old.value, old.effect) != (new.value, new.effect)


def describe(taints: list[Taint]) -> str:
    """The health ``message`` for a device with these taints (empty when it has none)."""
    parts = []
    for t in taints:
        if t.key == KEY_XID:
            parts.append(f"critical XID {t.value} reported by NVML")
        elif t.key == KEY_XID_APPLICATION:
            parts.append(f"application XID {t.value} reported by NVML (informational)")
        elif t.key == KEY_ECC_DBE:
            parts.append("double-bit ECC error reported by NVML")
        elif t.key == KEY_GPU_LOST:
            parts.append("GPU lost: NVML no longer reaches it")
        else:
            parts.append(f"taint {t.key}={t.value or ''}:{t.effect}")
    return truncate_message("; ".join(parts))


def truncate_message(text: str) -> str:
    """The kubelet keeps at most 1024 characters: longer text becomes 1021 + "..."."""
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 3] + "..."


class HealthMonitor:
    def __init__(
        self,
        backend: DeviceBackend,
        catalog: DeviceCatalog,
        on_change: Callable[[dict[str, list[Taint]]], None],
        *,
        allow_none_effect: bool = True,
        clear_dir: Path | None = None,
    ) -> None:
        self._backend = backend
        self._clear_dir = clear_dir
        self._catalog = catalog
        self._on_change = on_change
        self._allow_none = allow_none_effect
        self._lock = threading.Condition()
        self._by_gpu: dict[str, dict[str, Taint]] = {}
        self._generation = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Map any UUID an event may carry (GPU or existing MIG) to its physical GPU.
        self._gpu_of: dict[str, str] = {}
        for name in catalog.names():
            spec = catalog.get(name)
            self._gpu_of[spec.gpu_uuid] = spec.gpu_uuid
            if spec.uuid:
                self._gpu_of[spec.uuid] = spec.gpu_uuid

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dra-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def check_clear_requests(self) -> list[str]:
        """Apply operators' clear requests (files named after a GPU UUID, or ``all``)."""
        if self._clear_dir is None or not self._clear_dir.is_dir():
            return []
        done = []
        for request in sorted(self._clear_dir.iterdir()):
            target = request.name
            uuids = sorted(set(self._gpu_of.values())) if target == "all" else [target]
            for uuid in uuids:
                if uuid in self._gpu_of:
                    self.clear(uuid)
                else:
                    log.warning("clear-health request for an unknown GPU", extra={"uuid": uuid})
            request.unlink(missing_ok=True)
            done.append(target)
        return done

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check_clear_requests()
            except OSError as err:
                log.warning("cannot read clear-health requests", extra={"error": str(err)})
            try:
                events = self._backend.wait_health_events(1.0)
            except Exception:  # noqa: BLE001 - keep monitoring; a failed poll is retried
                log.exception("health event poll failed")
                time.sleep(1.0)
                continue
            if events:
                self.handle(events)

    def handle(self, events: list[HealthEvent]) -> bool:
        """Apply events; return True (and notify) if any device's taints changed."""
        changed = False
        with self._lock:
            for event in events:
                gpu = self._gpu_of.get(event.uuid)
                if gpu is None:
                    log.warning("health event for an unknown device", extra={"uuid": event.uuid})
                    continue
                log.info("health event", extra={"uuid": event.uuid, "kind": event.kind, "code": event.code})
                current = self._by_gpu.setdefault(gpu, {})
                if event.kind == "recovered":
                    changed |= bool(current)
                    current.clear()
                    continue
                taint = taint_for(event, self._allow_none)
                if taint is None:
                    continue
                if _replaces(current.get(taint.key), taint):
                    current[taint.key] = taint
                    changed = True
            if changed:
                self._generation += 1
                self._lock.notify_all()
            snapshot = self.taints_by_device()
        if changed:
            self._on_change(snapshot)
        return changed

    def clear(self, uuid: str) -> bool:
        """An operator's word that a GPU is healthy again: drop its taints."""
        log.warning("taints cleared by an operator", extra={"uuid": uuid})
        return self.handle([HealthEvent(uuid, "recovered")])

    def snapshot(self) -> dict[str, list[Taint]]:
        """The current taints per device name (thread-safe)."""
        with self._lock:
            return self.taints_by_device()

    def taints_by_device(self) -> dict[str, list[Taint]]:
        """The current taints per device name; the caller holds the monitor's lock."""
        out: dict[str, list[Taint]] = {}
        for name in self._catalog.names():
            spec = self._catalog.get(name)
            taints = self._by_gpu.get(spec.gpu_uuid)
            if taints:
                out[name] = sorted(taints.values(), key=lambda t: t.key)
        return out

    def wait_change(self, generation: int, timeout: float) -> int:
        with self._lock:
            self._lock.wait_for(lambda: self._generation != generation or self._stop.is_set(), timeout)
            return self._generation

    @property
    def generation(self) -> int:
        with self._lock:
            return self._generation

    def stopped(self) -> bool:
        return self._stop.is_set()


def health_list(pb, taints: dict[str, list[Taint]], catalog: DeviceCatalog, pool: str):
    """One complete NodeWatchResourcesResponse derived from a taint snapshot."""
    now = int(time.time())
    response = pb.NodeWatchResourcesResponse()
    for name in catalog.names():
        device_taints = taints.get(name, [])
        unhealthy = any(t.effect in BLOCKING_EFFECTS for t in device_taints)
        response.devices.add(
            device=pb.DeviceIdentifier(pool_name=pool, device_name=name),
            health=pb.UNHEALTHY if unhealthy else pb.HEALTHY,
            last_updated_time=now,
            health_check_timeout_seconds=HEALTH_CHECK_TIMEOUT_S,
            message=describe(device_taints),
        )
    return response


class _HealthStream:
    """Both API versions: the full list on start, on every change, and every ``RESEND_S``."""

    pb = hpb

    def __init__(self, monitor: HealthMonitor, catalog: DeviceCatalog, pool: str) -> None:
        self._monitor = monitor
        self._catalog = catalog
        self._pool = pool

    def other_version(self, cls: type) -> "_HealthStream":
        """The same stream (same monitor, catalog, pool) served under another API version."""
        return cls(self._monitor, self._catalog, self._pool)

    def _snapshot(self):
        return health_list(self.pb, self._monitor.snapshot(), self._catalog, self._pool)

    def NodeWatchResources(self, request, context) -> Iterator:
        generation = self._monitor.generation
        yield self._snapshot()
        last = time.monotonic()
        while context.is_active() and not self._monitor.stopped():
            new = self._monitor.wait_change(generation, 1.0)
            if new != generation or time.monotonic() - last >= RESEND_S:
                generation = new
                last = time.monotonic()
                yield self._snapshot()


class HealthServicer(_HealthStream, hpb_grpc.DRAResourceHealthServicer):
    """``v1alpha1.DRAResourceHealth`` (Kubernetes 1.35/1.36; deprecated in 1.37)."""

    pb = hpb


class HealthServicerV1(_HealthStream, hpb_v1_grpc.DRAResourceHealthServicer):
    """``v1.DRAResourceHealth`` (Kubernetes 1.37, preferred by its kubelet)."""

    pb = hpb_v1
