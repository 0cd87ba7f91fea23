"""MPS control daemons on the host, one per claim group, that outlive the plugin.

Layout under ``--mps-root`` (a host directory mounted at the same path in the plugin, so the
paths written into CDI specs are host paths the workload's container can mount)::

    <mps-root>/<daemon id>/pipe     CUDA_MPS_PIPE_DIRECTORY (the workload mounts it)
    <mps-root>/<daemon id>/log      CUDA_MPS_LOG_DIRECTORY
    <mps-root>/<daemon id>/shm      the daemon's /dev/shm (the workload mounts it at /dev/shm)
    <mps-root>/<daemon id>/daemon.pid

``start`` runs ``nvidia-cuda-mps-control -d`` (from the driver root) in its own session
(``start_new_session``), so a signal to the plugin's process group or the plugin's death
does not take it down, and -- when running as root with ``unshare`` available -- in a
private mount namespace where ``shm`` is bind-mounted on ``/dev/shm``, so the daemon's shared
memory is the very directory the workload mounts. The daemon's pid is recorded; a plugin
that starts again re-adopts a live daemon (pid alive, command ``nvidia-cuda-mps-control``,
control pipe present) instead of starting a second one, and restarts a dead one. ``stop``
sends ``quit`` through the control pipe, waits, then SIGTERMs, and removes the directory.
``remove_stale(keep)`` stops and removes the directories of daemons no kept claim uses.

Limit: a DaemonSet *container* restart kills every process of the container's cgroup,
daemons included; the plugin then restarts them for its kept claims at start (running
workloads must reconnect). NVIDIA's driver avoids that with a per-claim daemon pod.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from dra.plugin.backend import BackendError, MpsDaemon, MpsSettings
from dra.plugin.drivertools import DriverTools

log = logging.getLogger(__name__)

CONTROL = "nvidia-cuda-mps-control"
PID_FILE = "daemon.pid"
MPS_PID_FILE = "nvidia-cuda-mps-control.pid"  # written by the daemon into its pipe directory


class MpsControl:
    def __init__(self, root: Path, driver_root_mount: Path = Path("/"), tools: DriverTools | None = None,
                 start_timeout: float = 20.0) -> None:
        self.root = Path(root)
        self.tools = tools or DriverTools(driver_root_mount)
        self.start_timeout = start_timeout

    def daemon(self, daemon_id: str) -> MpsDaemon:
        base = self.root / daemon_id
        return MpsDaemon(daemon_id, str(base / "pipe"), str(base / "log"), str(base / "shm"))

    def _env(self, d: MpsDaemon, gpu_uuids: list[str] | None = None) -> dict[str, str]:
        extra = {"CUDA_MPS_PIPE_DIRECTORY": d.pipe_dir, "CUDA_MPS_LOG_DIRECTORY": d.log_dir}
        if gpu_uuids is not None:
            extra["CUDA_VISIBLE_DEVICES"] = ",".join(gpu_uuids)
        return self.tools.env(**extra)

    def pid(self, daemon_id: str) -> int | None:
        d = self.daemon(daemon_id)
        for path in (self.root / daemon_id / PID_FILE, Path(d.pipe_dir) / MPS_PID_FILE):
            try:
                return int(path.read_text().strip())
            except (OSError, ValueError):
                continue
        return None

    def alive(self, daemon_id: str) -> bool:
        pid = self.pid(daemon_id)
        if pid is None or not (Path(self.daemon(daemon_id).pipe_dir) / "control").exists():
            return False
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            return False
        return CONTROL.encode() in cmdline

    def start(self, daemon_id: str, gpu_uuids: list[str], settings: MpsSettings) -> MpsDaemon:
        d = self.daemon(daemon_id)
        if self.alive(daemon_id):
            log.info("re-adopted a running MPS control daemon", extra={"daemon": daemon_id, "pid": self.pid(daemon_id)})
        else:
            self._launch(d, gpu_uuids)
        self._configure(d, settings)
        return d

    def _launch(self, d: MpsDaemon, gpu_uuids: list[str]) -> None:
        base = self.root / d.daemon_id
        for sub in (d.pipe_dir, d.log_dir, d.shm_dir):
            Path(sub).mkdir(parents=True, exist_ok=True)
            os.chmod(sub, 0o755)
        (Path(d.pipe_dir) / "control").unlink(missing_ok=True)  # a dead daemon's pipe
        control = self.tools.tool(CONTROL)
        argv = [control, "-d"]
        unshare = _unshare()
        if unshare:
            # The daemon's /dev/shm must be the host directory the workload mounts.
            argv = [unshare, "--mount", "--propagation", "private", "sh", "-c",
                    'mount --bind "$0" /dev/shm && exec "$@"', d.shm_dir, *argv]
        try:
            result = subprocess.run(argv, env=self._env(d, gpu_uuids), start_new_session=True,
                                    stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                    timeout=self.start_timeout)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise BackendError(f"starting MPS daemon {d.daemon_id}: {err}") from None
        if result.returncode != 0:
            raise BackendError(f"starting MPS daemon {d.daemon_id}: {(result.stderr or result.stdout).strip()}")
        deadline = time.monotonic() + self.start_timeout
        while not (Path(d.pipe_dir) / "control").exists():
            if time.monotonic() > deadline:
                raise BackendError(f"MPS daemon {d.daemon_id}: no control pipe in {d.pipe_dir} after start")
            time.sleep(0.05)
        pid = self._find_pid(d)
        if pid is not None:
            (base / PID_FILE).write_text(f"{pid}\n")
        log.info("started MPS control daemon", extra={"daemon": d.daemon_id, "pid": pid, "gpus": gpu_uuids})

    def _find_pid(self, d: MpsDaemon) -> int | None:
        try:
            return int((Path(d.pipe_dir) / MPS_PID_FILE).read_text().strip())
        except (OSError, ValueError):
            pass
        wanted = f"CUDA_MPS_PIPE_DIRECTORY={d.pipe_dir}".encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if CONTROL.encode() in (proc / "cmdline").read_bytes() and wanted in (proc / "environ").read_bytes().split(b"\0"):
                    return int(proc.name)
            except OSError:
                continue
        return None

    def _configure(self, d: MpsDaemon, settings: MpsSettings) -> None:
        commands = []
        if settings.active_thread_percentage is not None:
            commands.append(f"set_default_active_thread_percentage {settings.active_thread_percentage}")
        for uuid, limit in sorted(settings.pinned_memory_limits.items()):
            commands.append(f"set_default_device_pinned_mem_limit {uuid} {max(1, limit // (1 << 20))}M")
        for command in commands:
            self.tools.run([CONTROL], env=self._env(d), stdin=command + "\n")

    def stop(self, daemon_id: str, timeout: float = 10.0) -> None:
        """Stop the daemon (if running) and remove its directories; safe to repeat."""
        d = self.daemon(daemon_id)
        pid = self.pid(daemon_id)
        if self.alive(daemon_id):
            try:
                self.tools.run([CONTROL], env=self._env(d), stdin="quit\n", timeout=timeout)
            except BackendError as err:
                log.warning("MPS quit failed; terminating", extra={"daemon": daemon_id, "error": str(err)})
            deadline = time.monotonic() + timeout
            while pid is not None and _running(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if pid is not None and _running(pid):
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
        shutil.rmtree(self.root / daemon_id, ignore_errors=True)

    def daemons(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []

    def remove_stale(self, keep: set[str]) -> list[str]:
        removed = []
        for daemon_id in self.daemons():
            if daemon_id not in keep:
                self.stop(daemon_id)
                removed.append(daemon_id)
        return removed


_UNSHARE: list[str | None] = []


def _unshare() -> str | None:
    """``unshare`` when it can give a child a private mount namespace here (root, allowed)."""
    if not _UNSHARE:
        path = shutil.which("unshare")
        ok = False
        if path and os.geteuid() == 0:
            try:
                ok = subprocess.run([path, "--mount", "--propagation", "private", "true"],
                                    capture_output=True, timeout=10).returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                ok = False
        if not ok:
            log.warning("cannot make a private mount namespace: MPS daemons use the plugin's /dev/shm")
        _UNSHARE.append(path if ok else None)
    return _UNSHARE[0]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is not running
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True
