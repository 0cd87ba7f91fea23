"""Device health: NVML events become device taints, and are cleared on recovery.

The monitor thread waits for backend events and keeps, per physical GPU, the taints that
its events justify (KEP-5055 device taints, key scheme as NVIDIA's driver):

* XID ``n`` -> ``gpu.nvidia.com/xid=<n>:NoSchedule``; XIDs that are the application's fault
  (13, 31, 43, 45, 68, 109) -> effect ``None`` (informational, Kubernetes 1.35; not published
  for 1.34, which lacks that effect);
* double-bit ECC -> ``gpu.nvidia.com/ecc-dbe:NoSchedule`` (single-bit errors are corrected by
  the hardware and only logged);
* GPU lost -> ``gpu.nvidia.com/gpu-lost:NoSchedule``;
* ``recovered`` -> every taint of that GPU is removed. NVIDIA's driver never clears a taint
  until the plugin restarts (#1455); here the backend reports recovery and the slice is
  republished without the taint.

A taint on a GPU applies to the full-GPU device and all its MIG devices. On every change the
``on_change`` callback receives the taints per device name (it republishes the slices), and
the v1alpha1 DRAResourceHealth stream is told.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterator

from dra.plugin.backend import DeviceBackend, HealthEvent
from dra.plugin.devices import DeviceCatalog
from dra.plugin.protos import dra_health_v1alpha1_pb2 as hpb
from dra.plugin.protos import dra_health_v1alpha1_pb2_grpc as hpb_grpc

log = logging.getLogger(__name__)

TAINT_PREFIX = "gpu.nvidia.com"
APPLICATION_XIDS = frozenset({13, 31, 43, 45, 68, 109})


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
        effect = "None" if event.code in APPLICATION_XIDS else "NoSchedule"
        if effect == "None" and not allow_none_effect:
            return None
        return Taint(f"{TAINT_PREFIX}/xid", str(event.code), effect, _now())
    if event.kind == "ecc-dbe":
        return Taint(f"{TAINT_PREFIX}/ecc-dbe", None, "NoSchedule", _now())
    if event.kind == "gpu-lost":
        return Taint(f"{TAINT_PREFIX}/gpu-lost", None, "NoSchedule", _now())
    return None


class HealthMonitor:
    def __init__(
        self,
        backend: DeviceBackend,
        catalog: DeviceCatalog,
        on_change: Callable[[dict[str, list[Taint]]], None],
        *,
        allow_none_effect: bool = True,
    ) -> None:
        self._backend = backend
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

    def _run(self) -> None:
        while not self._stop.is_set():
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
                old = current.get(taint.key)
                if old is None or (old.value, old.effect) != (taint.value, taint.effect):
                    current[taint.key] = taint
                    changed = True
            if changed:
                self._generation += 1
                self._lock.notify_all()
            snapshot = self.taints_by_device()
        if changed:
            self._on_change(snapshot)
        return changed

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


class HealthServicer(hpb_grpc.DRAResourceHealthServicer):
    """v1alpha1.DRAResourceHealth: stream the full health list on start and on every change."""

    def __init__(self, monitor: HealthMonitor, catalog: DeviceCatalog, pool: str) -> None:
        self._monitor = monitor
        self._catalog = catalog
        self._pool = pool

    def _snapshot(self) -> hpb.NodeWatchResourcesResponse:
        tainted = self._monitor.snapshot()
        now = int(time.time())
        response = hpb.NodeWatchResourcesResponse()
        for name in self._catalog.names():
            unhealthy = any(t.effect in ("NoSchedule", "NoExecute") for t in tainted.get(name, ()))
            response.devices.add(
                device=hpb.DeviceIdentifier(pool_name=self._pool, device_name=name),
                health=hpb.UNHEALTHY if unhealthy else hpb.HEALTHY,
                last_updated_time=now,
            )
        return response

    def NodeWatchResources(self, request, context) -> Iterator[hpb.NodeWatchResourcesResponse]:
        generation = self._monitor.generation
        yield self._snapshot()
        while context.is_active() and not self._monitor.stopped():
            new = self._monitor.wait_change(generation, 5.0)
            if new != generation:
                generation = new
                yield self._snapshot()
