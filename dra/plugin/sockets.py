"""Where the plugin's unix sockets live and how they are created.

The kubelet finds plugins by watching its registry directory for sockets; the Go helper's
defaults (kubelet root ``/var/lib/kubelet``) are mirrored here:

* registration socket ``<registrar-dir>/<driver>-reg.sock`` (``<driver>-<podUID>-reg.sock`` for
  rolling updates, so an old and a new pod can be registered side by side);
* DRA service socket ``<plugins-dir>/<driver>/dra.sock`` (``dra-<podUID>.sock``).

Sockets are made ``0660``: only root and the kubelet's group may dial them. The kubelet's
directories (the registry and the plugins directory) are the kubelet's: created with ``0750``
only when missing, and otherwise left exactly as they are (the plugin used to chmod
``plugins_registry`` to 0750, which other plugins on the node rely on being readable); only
our own per-driver directory gets its mode set. A socket file left behind by a killed process is replaced (binding would fail on it);
anything at that path that is *not* a socket is refused rather than deleted.
"""

from __future__ import annotations

import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

from dra.errors import UserError

DEFAULT_REGISTRAR_DIR = "/var/lib/kubelet/plugins_registry"
DEFAULT_PLUGINS_DIR = "/var/lib/kubelet/plugins"
DIR_MODE = 0o750
SOCKET_MODE = 0o660


class SocketPathError(UserError):
    """A socket path cannot be used (not a socket, or too long for a unix address)."""


# sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_UNIX_PATH = 107


@dataclass(frozen=True)
class SocketLayout:
    """The socket paths of one driver instance on a node."""

    driver: str
    registrar_dir: Path
    plugins_dir: Path
    pod_uid: str | None = None

    @property
    def driver_dir(self) -> Path:
        """Per-driver directory: DRA socket, checkpoint and other node-local state."""
        return self.plugins_dir / self.driver

    @property
    def registration_socket(self) -> Path:
        suffix = f"-{self.pod_uid}" if self.pod_uid else ""
        return self.registrar_dir / f"{self.driver}{suffix}-reg.sock"

    @property
    def dra_socket(self) -> Path:
        name = f"dra-{self.pod_uid}.sock" if self.pod_uid else "dra.sock"
        return self.driver_dir / name

    def make_dirs(self) -> None:
        ensure_dir(self.registrar_dir, own=False)
        ensure_dir(self.plugins_dir, own=False)
        ensure_dir(self.driver_dir)

    def remove_dead_sockets(self) -> list[Path]:
        """Sockets of this driver's crashed instances (rolling-update names included)."""
        return remove_dead_sockets(self.registrar_dir, f"{self.driver}*-reg.sock") + remove_dead_sockets(
            self.driver_dir, "dra*.sock"
        )


def ensure_dir(path: Path, *, own: bool = True) -> None:
    """Create ``path`` (and parents) if missing; set mode 0750 only on a directory that is
    ours (``own``) or that we just created."""
    existed = path.is_dir()
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if own or not existed:
        # mkdir's mode is filtered by the umask, and an existing directory keeps its mode.
        os.chmod(path, DIR_MODE)


def clear_stale_socket(path: Path) -> None:
    """Remove a socket left by an earlier process; refuse to touch anything else."""
    if len(str(path).encode()) > MAX_UNIX_PATH:
        raise SocketPathError(f"{path}: socket path longer than {MAX_UNIX_PATH} bytes")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise SocketPathError(f"{path}: exists and is not a socket; refusing to replace it")
    os.unlink(path)


def remove_dead_sockets(directory: Path, pattern: str) -> list[Path]:
    """Remove sockets matching ``pattern`` that nobody listens on any more.

    With pod-UID socket names a crashed pod's sockets are never reused, so they would pile
    up (and the kubelet would keep dialling them). A socket whose connect is refused has no
    server; one that accepts belongs to a live instance and is left alone.
    """
    removed = []
    for path in sorted(directory.glob(pattern)) if directory.is_dir() else ():
        try:
            if not stat.S_ISSOCK(os.lstat(path).st_mode):
                continue
        except FileNotFoundError:
            continue
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except ConnectionRefusedError:
            path.unlink(missing_ok=True)
            removed.append(path)
        except OSError:
            pass  # busy or unreachable: not provably dead
        finally:
            probe.close()
    return removed


def secure_socket(path: Path) -> None:
    """Give a freshly bound socket its final permissions."""
    os.chmod(path, SOCKET_MODE)


def remove_socket(path: Path) -> None:
    """Remove our socket on shutdown (ignoring one that is already gone)."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
