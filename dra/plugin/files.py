"""Crash-safe file replacement shared by the checkpoint, the CDI writer and the built-in backend.

What "crash" means here decides what is worth paying for:

* the plugin process dies (kill -9, OOM, panic): the kernel's page cache survives, so a
  temporary file renamed over the target is all it takes for the next process to see either
  the old or the new file, never half of one;
* the node's kernel dies (power loss, panic): that is a reboot. The checkpoint records the
  boot ID and is discarded after a reboot, the CDI directory (``/var/run/cdi``) is a tmpfs,
  and MIG instances and sharing settings do not survive a reboot either. Losing the last
  writes then loses nothing that would have been kept.

Even so, every checkpoint write is ``durable=True`` (fsync of the file before the rename): a
power loss must never turn the checkpoint into a torn file that reads as "corrupt", and the
cost (about a millisecond on a local disk) is small next to a prepare. CDI specs live on a
tmpfs and are rebuilt from the checkpoint, so they are written without fsync. Nothing pays
for a directory fsync, which only protects the rename itself against a power loss, after
which the boot ID discards the checkpoint anyway.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644, *, durable: bool = False) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
