"""The checkpoint: which claims are prepared on this node, survived across restarts.

File ``<plugins-dir>/<driver>/checkpoint.json``::

    {"kind": "DraGpuCheckpoint", "version": 1, "checksum": "sha256:<hex>",
     "data": {"nodeBootID": "...", "preparedClaims": {"<uid>": {
         "state": "PrepareStarted" | "PrepareCompleted", "namespace": ..., "name": ...,
         "devices": [<device record>, ...]}}}}

Two phases per claim: ``PrepareStarted`` is written *before* any side effect (MIG creation,
sharing settings, CDI file) with the planned devices, ``PrepareCompleted`` after all of them,
with the answer given to the kubelet. A restarted plugin rolls back every Started claim (its
side effects may be partial) and keeps Completed ones. A different boot ID means the node
rebooted: every device-side effect is gone, so the whole checkpoint is dropped.

The checksum covers the canonical JSON of ``data`` as *read*, not as re-serialised through
our own types, so fields added by a newer version do not break an older reader's checksum
(NVIDIA's driver had that bug). A checkpoint that cannot be read is never fatal: the caller
quarantines it and rebuilds (see ``state.DeviceState.recover``).

Writes are atomic (temp file + rename) and *group-committed*: threads that change the state
concurrently share one write instead of queueing one each. The PrepareCompleted write (and
anything batched with it) is fsync'ed before the rename; the PrepareStarted and unprepare
writes are not: they only have to survive the plugin process dying, which the page cache
guarantees, while a node crash is a reboot that discards the checkpoint by its boot ID
anyway (``files`` explains the reasoning). One fsync per prepare instead of three or six.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dra.plugin.files import atomic_write

KIND = "DraGpuCheckpoint"
VERSION = 1
PREPARE_STARTED = "PrepareStarted"
PREPARE_COMPLETED = "PrepareCompleted"
# Unprepare is two-phase too: the record is marked before any effect is undone and dropped
# after all of them, so a kill in between leaves a record recovery finishes undoing instead
# of a Completed claim whose CDI ids no longer resolve.
UNPREPARING = "Unpreparing"
STATES = (PREPARE_STARTED, PREPARE_COMPLETED, UNPREPARING)
BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")


class CheckpointCorrupt(Exception):
    """The checkpoint file exists but cannot be trusted; ``str`` says why, in one line."""


def read_boot_id() -> str:
    try:
        return BOOT_ID_PATH.read_text().strip()
    except OSError:
        return ""


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def checksum(data: Any) -> str:
    return "sha256:" + hashlib.sha256(_canonical(data)).hexdigest()


@dataclass
class ClaimRecord:
    """One claim in the checkpoint. ``devices`` are JSON records owned by ``state``."""

    uid: str
    namespace: str
    name: str
    state: str
    devices: list[dict[str, Any]] = field(default_factory=list)
    # Fields a newer plugin wrote that we do not know; kept so we write them back unchanged.
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = dict(self.extra)
        out.update(state=self.state, namespace=self.namespace, name=self.name, devices=self.devices)
        return out

    @classmethod
    def from_json(cls, uid: str, data: Any) -> "ClaimRecord":
        """Decode one record; any shape we could not act on is :class:`CheckpointCorrupt`."""
        if not isinstance(data, dict):
            raise CheckpointCorrupt(f"claim {uid}: record is a {type(data).__name__}, not an object")
        known = {"state", "namespace", "name", "devices"}
        if data.get("state") not in STATES:
            raise CheckpointCorrupt(f"claim {uid}: unknown state {data.get('state')!r}")
        for key in ("namespace", "name"):
            if not isinstance(data.get(key, ""), str):
                raise CheckpointCorrupt(f"claim {uid}: {key} is not a string")
        devices = data.get("devices") or []
        if not isinstance(devices, list):
            raise CheckpointCorrupt(f"claim {uid}: devices is a {type(devices).__name__}, not a list")
        for i, device in enumerate(devices):
            problem = device_record_problem(device)
            if problem:
                raise CheckpointCorrupt(f"claim {uid}: devices[{i}]: {problem}")
        return cls(
            uid=uid,
            namespace=data.get("namespace", ""),
            name=data.get("name", ""),
            state=data["state"],
            devices=list(devices),
            extra={k: v for k, v in data.items() if k not in known},
        )


# What undo and the conflict check read from a device record, with the type they need.
_DEVICE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "device": str, "type": str, "pool": str, "gpuUUID": str, "requests": list,
}
_MIG_FIELDS = {"dynamic": bool, "giProfileID": int, "placementStart": int}


def device_record_problem(device: Any) -> str | None:
    """Why a device record (checkpoint or CDI annotation) cannot be used, or None."""
    if not isinstance(device, dict):
        return f"is a {type(device).__name__}, not an object"
    for key, kind in _DEVICE_FIELDS.items():
        if key not in device:
            return f"missing {key!r}"
        if not isinstance(device[key], kind):
            return f"{key} is a {type(device[key]).__name__}"
    if device["type"] not in ("gpu", "mig"):
        return f"unknown type {device['type']!r}"
    if not all(isinstance(r, str) for r in device["requests"]):
        return "requests must be strings"
    if device["type"] == "mig":
        mig = device.get("mig")
        if not isinstance(mig, dict):
            return "mig device without a mig object"
        for key, kind in _MIG_FIELDS.items():
            if not isinstance(mig.get(key), kind) or (kind is int and isinstance(mig.get(key), bool)):
                return f"mig.{key} missing or not a {kind.__name__}"
    for key in ("mpsDaemon", "timeSlice", "shareID"):
        if key in device and not isinstance(device[key], str):
            return f"{key} is not a string"
    if "cdiDeviceIDs" in device and not (
        isinstance(device["cdiDeviceIDs"], list) and all(isinstance(c, str) for c in device["cdiDeviceIDs"])
    ):
        return "cdiDeviceIDs must be a list of strings"
    return None


@dataclass
class Loaded:
    claims: dict[str, ClaimRecord]
    # "missing" (no file), "ok", or "rebooted" (file from an earlier boot, claims dropped).
    status: str
    boot_id: str = ""


class CheckpointFile:
    """Reads and writes one checkpoint file."""

    def __init__(self, path: Path, boot_id: str | None = None) -> None:
        self.path = Path(path)
        self.boot_id = read_boot_id() if boot_id is None else boot_id

    def load(self) -> Loaded:
        """Read the checkpoint; raise :class:`CheckpointCorrupt` if it cannot be trusted."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return Loaded({}, "missing")
        except OSError as err:  # a directory, no permission, I/O error: not trustworthy either
            raise CheckpointCorrupt(f"cannot read it ({err.strerror or err})") from None
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            raise CheckpointCorrupt(f"not valid JSON ({err})") from None
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            raise CheckpointCorrupt(f"not a {KIND} document")
        if doc.get("version") != VERSION:
            raise CheckpointCorrupt(f"unsupported checkpoint version {doc.get('version')!r}")
        data = doc.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("preparedClaims"), dict):
            raise CheckpointCorrupt("missing data.preparedClaims")
        if doc.get("checksum") != checksum(data):
            raise CheckpointCorrupt("checksum mismatch (file was modified or partly written)")
        stored_boot = data.get("nodeBootID", "")
        if not isinstance(stored_boot, str):
            raise CheckpointCorrupt("data.nodeBootID is not a string")
        if self.boot_id and stored_boot and stored_boot != self.boot_id:
            return Loaded({}, "rebooted", stored_boot)
        for uid in data["preparedClaims"]:
            if not uid or "/" in uid or ".." in uid:
                raise CheckpointCorrupt(f"invalid claim UID {uid!r}")
        claims = {
            uid: ClaimRecord.from_json(uid, rec) for uid, rec in data["preparedClaims"].items()
        }
        return Loaded(claims, "ok", stored_boot)

    def write(self, claims: dict[str, dict[str, Any]], durable: bool = True) -> None:
        data = _canonical({"nodeBootID": self.boot_id, "preparedClaims": claims})
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        # Serialise ``data`` once: its canonical form is both what is hashed and what is stored
        # (this runs on every prepare, so one json.dumps instead of two matters).
        head = json.dumps({"checksum": digest, "kind": KIND, "version": VERSION})[:-1].encode()
        atomic_write(self.path, head + b', "data": ' + data + b"}\n", mode=0o600, durable=durable)

    def quarantine(self) -> Path:
        """Move an untrusted file aside (kept for inspection) and return its new path."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while target.exists() or target.is_symlink():  # two corruptions in one second
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}.{n}")
            n += 1
        self.path.replace(target)
        return target


class GroupCommitter:
    """Persists a changing snapshot with one write per batch of concurrent changes.

    Callers bump a version while holding their own state lock, then call ``sync(version)``
    without it. If another thread is writing, they wait for it; if its snapshot already
    includes their version (and was durable, when they asked for that) they are done, else
    one of them writes next, durably if any waiting caller asked for durability.
    """

    def __init__(self, snapshot: Callable[[], tuple[int, dict[str, Any]]], writer: Callable[[dict, bool], None]):
        self._snapshot = snapshot
        self._writer = writer
        self._cond = threading.Condition()
        self._writing = False
        self._written = 0
        self._durable_written = 0
        self._durable_wanted = 0
        self.writes = 0
        self.durable_writes = 0

    def sync(self, version: int, durable: bool = True) -> None:
        with self._cond:
            if durable:
                self._durable_wanted = max(self._durable_wanted, version)
            while True:
                if (self._durable_written if durable else self._written) >= version:
                    return
                if not self._writing:
                    self._writing = True
                    make_durable = self._durable_wanted > self._durable_written
                    break
                self._cond.wait()
        done = 0
        try:
            version_in_snapshot, data = self._snapshot()
            self._writer(data, make_durable)
            self.writes += 1
            self.durable_writes += make_durable
            done = version_in_snapshot
        finally:
            with self._cond:
                self._writing = False
                self._written = max(self._written, done)
                if make_durable:
                    self._durable_written = max(self._durable_written, done)
                self._cond.notify_all()
