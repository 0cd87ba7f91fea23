"""Prepared-claim state of the node: prepare, unprepare, and the checkpoint behind them.

Prepare of one claim (steps as in NVIDIA's driver, with the checks moved before any effect):

1. A claim already ``PrepareCompleted`` gets its recorded answer again (idempotent).
2. Fetch and check the claim, and plan its devices and configs (``plan``): all user errors
   surface here and leave nothing behind.
3. Under the state lock, refuse devices another claim holds exclusively, then record
   ``PrepareStarted`` with the planned devices and persist it.
4. Apply: create dynamic MIG instances, set time slices, start MPS daemons.
5. Write the claim's CDI spec.
6. Record ``PrepareCompleted`` with the answer, and persist it.

If 4-6 fail, the effects are rolled back and the claim is dropped from the checkpoint; if the
process dies there, startup recovery (``recovery``) rolls it back from the Started record.
Unprepare needs only the UID and is two-phase as well: the record is marked ``Unpreparing``
(persisted) before any effect is undone, and dropped only after all of them are; a plugin
killed in between finds the mark at start and finishes the undo (``recovery``).

Concurrency: claims are independent; a striped per-UID lock serialises work on one claim
(kubelet retries), the state lock guards the in-memory map only briefly, and checkpoint
writes of concurrent claims are group-committed. With rolling updates (several instances on
one node) a node-wide file lock serialises prepares and unprepares across instances, and the
checkpoint is re-read when another instance changed it (``exclusive``).
"""

from __future__ import annotations

import copy
import logging
import os
import re
import threading
import zlib
from collections import Counter
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from dra.errors import UserError
from dra.plugin import effects
from dra.plugin.backend import BackendError, DeviceBackend
from dra.plugin.cdi import CdiWriter
from dra.plugin.checkpoint import (
    PREPARE_COMPLETED,
    PREPARE_STARTED,
    UNPREPARING,
    CheckpointCorrupt,
    CheckpointFile,
    ClaimRecord,
    GroupCommitter,
)
from dra.plugin.claims import ClaimError
from dra.plugin.devices import DeviceCatalog
from dra.plugin.metrics import PluginMetrics
from dra.plugin.nodelock import NodeLock
from dra.plugin.plan import plan_claim
from dra.plugin.testhooks import pause_point
from dra.plugin.types import ClaimRef, PreparedDevice, PrepareOutcome

log = logging.getLogger(__name__)

# Kubernetes UIDs are UUIDs; anything that could escape a directory or a CDI name is refused.
_CLAIM_UID = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,126}[A-Za-z0-9])?$")
_LOCK_STRIPES = 64


def check_uid(ref: ClaimRef) -> None:
    if not _CLAIM_UID.fullmatch(ref.uid or "") or ".." in ref.uid:
        raise ClaimError(f"claim {ref}: invalid claim UID {ref.uid!r}", "invalid")


def prepared_devices(record: ClaimRecord) -> list[PreparedDevice]:
    return [
        PreparedDevice(
            request_names=tuple(d["requests"]),
            pool_name=d["pool"],
            device_name=d["device"],
            cdi_device_ids=tuple(d.get("cdiDeviceIDs", ())),
            share_id=d.get("shareID"),
        )
        for d in record.devices
    ]


class DeviceState:
    def __init__(
        self,
        *,
        driver: str,
        pool: str,
        catalog: DeviceCatalog,
        fetcher: Any,
        backend: DeviceBackend,
        cdi: CdiWriter,
        checkpoint: CheckpointFile,
        metrics: PluginMetrics | None = None,
        node_lock: NodeLock | None = None,
        metadata=None,
    ) -> None:
        self.driver = driver
        self.pool = pool
        self.catalog = catalog
        self.fetcher = fetcher
        self.backend = backend
        self.cdi = cdi
        self.checkpoint = checkpoint
        self.metrics = metrics
        self.metadata = metadata  # KEP-5304 device metadata writer, or None (off)
        self._lock = threading.Lock()
        self._claims: dict[str, ClaimRecord] = {}
        self._version = 0
        self._stripes = [threading.Lock() for _ in range(_LOCK_STRIPES)]
        # Set when other plugin instances share this node's state (rolling updates).
        self.node_lock = node_lock
        self._seen_file: tuple[int, int, int] | None = None
        self._committer = GroupCommitter(self._snapshot, self._write)

    # -- the in-memory map and its persistence ------------------------------------------

    def _snapshot(self) -> tuple[int, dict[str, Any]]:
        with self._lock:
            return self._version, {uid: rec.to_json() for uid, rec in self._claims.items()}

    def _write(self, data: dict, durable: bool) -> None:
        self.checkpoint.write(data, durable)
        if self.node_lock is not None:
            self._seen_file = self._file_key()

    def _file_key(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.checkpoint.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the node lock (if shared) with the in-memory state refreshed from the file."""
        if self.node_lock is None:
            yield
            return
        with self.node_lock:
            key = self._file_key()
            if key is not None and key != self._seen_file:
                try:
                    claims = self.checkpoint.load().claims
                except CheckpointCorrupt as err:
                    log.error("checkpoint written by another instance is unreadable", extra={"error": str(err)})
                else:
                    self.load(claims)
                self._seen_file = key
            yield

    def _claim_lock(self, uid: str) -> threading.Lock:
        return self._stripes[zlib.crc32(uid.encode()) % _LOCK_STRIPES]

    def _put(self, record: ClaimRecord) -> int:
        with self._lock:
            self._claims[record.uid] = record
            self._version += 1
            return self._version

    def _drop(self, uid: str) -> int:
        with self._lock:
            self._claims.pop(uid, None)
            self._version += 1
            return self._version

    def persist(self, version: int | None = None, *, durable: bool = True) -> None:
        if version is None:
            with self._lock:
                self._version += 1
                version = self._version
        self._committer.sync(version, durable)
        self._update_metrics()

    def load(self, claims: dict[str, ClaimRecord]) -> None:
        """Replace the map (startup recovery)."""
        with self._lock:
            self._claims = dict(claims)
            self._version += 1

    def records(self) -> dict[str, ClaimRecord]:
        with self._lock:
            return dict(self._claims)

    @property
    def checkpoint_writes(self) -> int:
        return self._committer.writes

    def _update_metrics(self) -> None:
        if self.metrics is None:
            return
        counts: Counter[str] = Counter()
        for rec in self.records().values():
            if rec.state == PREPARE_COMPLETED:
                for d in rec.devices:
                    counts["shared" if d.get("multiAllocatable") else d["type"]] += 1
        self.metrics.set_prepared_devices(dict(counts))

    # -- prepare ---------------------------------------------------------------------------

    def prepare(self, refs: Sequence[ClaimRef]) -> dict[str, PrepareOutcome]:
        return {ref.uid: self._outcome(self._prepare_one, ref) for ref in refs}

    def unprepare(self, refs: Sequence[ClaimRef]) -> dict[str, PrepareOutcome]:
        return {ref.uid: self._outcome(self._unprepare_one, ref) for ref in refs}

    def _outcome(self, action, ref: ClaimRef) -> PrepareOutcome:
        try:
            return PrepareOutcome(devices=action(ref) or [])
        except UserError as err:
            log.warning("claim failed", extra={"claim": str(ref), "uid": ref.uid, "error": str(err)})
            return PrepareOutcome(error=str(err), error_type=getattr(err, "error_type", "invalid"))
        except BackendError as err:
            log.error("device operation failed", extra={"claim": str(ref), "error": str(err)})
            return PrepareOutcome(error=f"claim {ref}: {err}", error_type=err.error_type)
        except Exception as err:  # noqa: BLE001 - one claim must never fail the others
            log.exception("internal error", extra={"claim": str(ref)})
            return PrepareOutcome(error=f"claim {ref}: internal error: {err}", error_type="internal")

    def _prepare_one(self, ref: ClaimRef) -> list[PreparedDevice]:
        check_uid(ref)
        with self._claim_lock(ref.uid), self.exclusive():
            existing = self.records().get(ref.uid)
            if existing is not None and existing.state == PREPARE_COMPLETED:
                return prepared_devices(existing)
            if existing is not None:
                # Left Started by a failed rollback: finish that rollback before retrying.
                self.rollback(existing)
                self.persist(self._drop(ref.uid))
            claim = self.fetcher.get(ref)
            planned = plan_claim(claim, self.catalog, self.driver, self.pool)
            records = [effects.initial_record(ref, self.pool, p) for p in planned]
            started = ClaimRecord(ref.uid, ref.namespace, ref.name, PREPARE_STARTED, records)
            with self._lock:
                self._check_conflicts(ref, started)
                self._claims[ref.uid] = started
                self._version += 1
                version = self._version
            try:
                # fsync'ed like every checkpoint write: the record must be on disk before
                # the first side effect it describes (see dra/plugin/files.py).
                self._committer.sync(version)
                pause_point("after-started", ref.uid)
                done = effects.apply(self.backend, planned, copy.deepcopy(records))
                pause_point("after-apply", ref.uid)
                effects.write_cdi(self.cdi, ref, done, self.metadata)
                pause_point("after-cdi", ref.uid)
                completed = ClaimRecord(ref.uid, ref.namespace, ref.name, PREPARE_COMPLETED, done)
                self.persist(self._put(completed))
            except BaseException:
                self._abort(started)
                raise
            return prepared_devices(completed)

    def _abort(self, started: ClaimRecord) -> None:
        try:
            self.rollback(started)
            self.persist(self._drop(started.uid))
        except Exception:  # noqa: BLE001 - keep the Started record; recovery retries it
            log.exception("rollback failed; claim stays PrepareStarted", extra={"uid": started.uid})

    def _check_conflicts(self, ref: ClaimRef, started: ClaimRecord) -> None:
        """Refuse devices (or time-slice settings) already held by another claim."""
        for uid, other in self._claims.items():
            if uid == ref.uid:
                continue
            for theirs in other.devices:
                for mine in started.devices:
                    if theirs["device"] == mine["device"]:
                        shared = mine["multiAllocatable"] and theirs.get("multiAllocatable")
                        if not (shared or mine["adminAccess"] or theirs.get("adminAccess")):
                            raise ClaimError(
                                f"claim {ref}: device {mine['device']} is already prepared for "
                                f"claim {other.namespace}/{other.name}",
                                "in_use",
                            )
                    if (
                        theirs["gpuUUID"] == mine["gpuUUID"]
                        and mine.get("timeSlice")
                        and theirs.get("timeSlice") not in (None, mine["timeSlice"])
                    ):
                        raise ClaimError(
                            f"claim {ref}: GPU {mine['gpuUUID']} already runs time-slice interval "
                            f"{theirs['timeSlice']} for claim {other.namespace}/{other.name}",
                            "in_use",
                        )
        self._check_gpu_sharing(ref, started)

    def _check_gpu_sharing(self, ref: ClaimRef, started: ClaimRecord) -> None:
        """Refuse a time-slice setting the GPU itself contradicts (not only our claims): a
        compute mode in which processes cannot be time-sliced, or an interval that no claim of
        ours holds but the GPU runs (set outside this plugin, or left by a forgotten claim)."""
        held = {d["gpuUUID"] for uid, other in self._claims.items() if uid != ref.uid
                for d in other.devices if d.get("timeSlice")}
        for gpu in sorted({d["gpuUUID"] for d in started.devices if d.get("timeSlice")}):
            mine = next(d["timeSlice"] for d in started.devices if d["gpuUUID"] == gpu and d.get("timeSlice"))
            mode = self.backend.compute_mode(gpu)
            if mode in ("ExclusiveProcess", "ExclusiveThread", "Prohibited"):
                raise ClaimError(
                    f"claim {ref}: GPU {gpu} is in compute mode {mode} (an MPS control daemon or "
                    f"`nvidia-smi -c`), where processes cannot be time-sliced; time-slice interval "
                    f"{mine} refused (reset with `nvidia-smi -i {gpu} -c DEFAULT`)",
                    "in_use",
                )
            current = self.backend.time_slice(gpu)
            if gpu not in held and current not in (None, "Default", mine):
                raise ClaimError(
                    f"claim {ref}: GPU {gpu} runs time-slice interval {current}, which no prepared "
                    f"claim holds (set outside this driver?); interval {mine} refused (reset with "
                    f"`nvidia-smi compute-policy -i {gpu} --set-timeslice=0`)",
                    "in_use",
                )

    # -- unprepare and rollback -------------------------------------------------------------

    def _unprepare_one(self, ref: ClaimRef) -> list[PreparedDevice]:
        check_uid(ref)
        with self._claim_lock(ref.uid), self.exclusive():
            record = self.records().get(ref.uid)
            if record is None:
                self.cdi.remove(ref.uid)  # a spec without a record (lost checkpoint): clean it
                return []
            if record.state != UNPREPARING:
                marked = ClaimRecord(record.uid, record.namespace, record.name, UNPREPARING,
                                     record.devices, dict(record.extra))
                self.persist(self._put(marked))
                record = marked
            pause_point("unprepare-marked", ref.uid)
            self.rollback(record)
            pause_point("unprepare-undone", ref.uid)
            self.persist(self._drop(ref.uid))
        return []

    def rollback(self, record: ClaimRecord) -> None:
        """Undo every effect a record may have had (see ``effects.undo``)."""
        others = [r for uid, r in self.records().items() if uid != record.uid]
        effects.undo(self.backend, self.cdi, record, others, self.metadata)
