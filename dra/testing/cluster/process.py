"""Start, watch and stop one control-plane process, each in its own process group.

Every component (etcd, kube-apiserver, ...) runs in a new session so that stopping it is one
signal to its process group (nothing it forks survives), its output goes to
``<dir>/logs/<name>.log``, and every wait is bounded. A process that exits while we wait for
it to become ready fails the wait at once with the last lines of its log, which is where
kube-apiserver explains a bad flag.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence


class ComponentError(RuntimeError):
    """A component did not start or did not become ready; the message names it and quotes its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(t.strip() for t in text[-lines:])


@dataclass
class Component:
    """One running process of the control plane."""

    name: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen | None = None
    pid: int | None = None

    def start(self) -> "Component":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            out.write(f"\n==== {time.strftime('%H:%M:%S')} {' '.join(self.argv)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, close_fds=True)
        self.pid = self.proc.pid
        return self

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and pid_alive(self.pid)

    def wait_ready(self, check: Callable[[], bool], timeout: float) -> None:
        """Poll ``check`` until true; fail at once if the process exits, or after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise ComponentError(f"{self.name} exited during start-up (log {self.log}): {log_tail(self.log)}")
            try:
                if check():
                    return
            except Exception:  # not up yet: connection refused, TLS not ready, 500 while starting
                pass
            if time.monotonic() > deadline:
                raise ComponentError(f"{self.name} not ready after {timeout:.0f}s (log {self.log}): {log_tail(self.log)}")
            time.sleep(0.25)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``timeout``; idempotent."""
        if self.pid is None:
            return
        stop_group(self.pid, timeout)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        self.proc = None
        self.pid = None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def stop_group(pid: int, timeout: float = 15.0) -> None:
    """Stop the process group led by ``pid`` (our components are session leaders)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 5.0)
        while time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            if not pid_alive(pid):
                return
            time.sleep(0.1)


def https_ok(url: str, ca: Path | None, cert: tuple[Path, Path] | None = None, timeout: float = 2.0) -> bool:
    """True when ``url`` answers 200 (TLS verified against ``ca`` when given)."""
    ctx = ssl.create_default_context(cafile=str(ca)) if ca else ssl._create_unverified_context()  # noqa: S323
    if cert:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=timeout) as resp:
            return resp.status == 200
    except urllib.error.HTTPError:
        return False


def http_ok(url: str, timeout: float = 2.0) -> bool:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status == 200


def flags(**options: object) -> list[str]:
    """``--a-b=value`` for each ``a_b=value`` (None skipped; bools lower-cased)."""
    out = []
    for k, v in options.items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = str(v).lower()
        out.append(f"--{k.replace('_', '-')}={v}")
    return out


def argv(binary: Path, options: dict[str, object], extra: Sequence[str] = ()) -> list[str]:
    return [str(binary), *flags(**options), *extra]
