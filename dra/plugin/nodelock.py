"""A lock shared by all plugin instances of one driver on a node (rolling updates).

During a rolling update the old and the new plugin pod run side by side (each with its own
``<driver>-<podUID>-reg.sock`` / ``dra-<podUID>.sock``) and the kubelet may send a claim to
either. They share the checkpoint, the CDI directory and the GPUs, so a prepare or unprepare
holds ``<plugins-dir>/<driver>/serialize.lock`` (as the Go helper's rolling-update mode
does) and first re-reads the checkpoint if the other instance changed it.

``flock`` locks belong to an open file description, so opening the file anew on every
acquisition also serialises threads of the same process.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

from dra.errors import UserError


class LockTimeout(UserError):
    error_type = "lock_acquire"


class NodeLock:
    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._held = threading.local()

    def __enter__(self) -> "NodeLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
        pause = 0.0005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise LockTimeout(f"{self.path}: held by another plugin instance for over {self.timeout:g}s") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.01)
        self._held.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        fd = self._held.fd
        del self._held.fd
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
