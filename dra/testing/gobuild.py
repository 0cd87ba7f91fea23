"""Build a Go program into the project's cache once: the recipe every upstream harness shares.

Four things are built from Go modules and cached outside the repo, under
``${DRA_GPU_CACHE:-~/.cache/dra-gpu}``: the Kubernetes control plane and etcd
(:mod:`dra.testing.cluster.build`), helm (:mod:`dra.testing.helm`), the allocator oracle
(:mod:`dra.testing.oracle`) and the CEL oracle (:mod:`dra.testing.cel_oracle`). Each owns its
source, go.mod and stamp formula; this module owns what they have in common:

* :func:`ensure` -- the output directory is current when its stamp file holds exactly the
  expected text and every output exists; otherwise the build runs under ``<dir>/.lock``
  (``flock``, so two pytest runs or ``make k8s`` beside a test run build once), re-checking
  after the lock is taken, and the stamp is written last, so an interrupted build never looks
  current. Stamp file names and texts stay those of each caller, so caches built before this
  module existed stay valid.
* :func:`run_step` -- one ``go`` command under ``nice -n 10`` (the machine is shared), with a
  progress line before and one with wall and CPU seconds after; on failure the full output goes
  to a log file and the error is one line ending with the tool's last line (fit for a skip reason).
* :func:`go_env` -- static binaries (``CGO_ENABLED=0``, no C toolchain needed), never another Go
  toolchain (``GOTOOLCHAIN=local``), no VCS stamping (the build dirs are not repositories).
"""

from __future__ import annotations

import fcntl
import os
import resource
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

Progress = Callable[[str], None]


def cache_root() -> Path:
    """``$DRA_GPU_CACHE`` or ``~/.cache/dra-gpu``: every build output lives below it."""
    env = os.environ.get("DRA_GPU_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dra-gpu"


def go_binary() -> str | None:
    """The ``go`` command on PATH, or ``None``; callers turn ``None`` into their skip reason."""
    return shutil.which("go")


def nice() -> list[str]:
    """``nice -n 10`` where the command exists: builds must not starve the other users of 2 cores."""
    return ["nice", "-n", "10"] if shutil.which("nice") else []


def go_env(*goflags: str) -> dict[str, str]:
    """The environment of every Go step: the caller's, plus static, local-toolchain, no-VCS builds."""
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    env["GOTOOLCHAIN"] = "local"
    env["GOFLAGS"] = " ".join([env.get("GOFLAGS", ""), "-buildvcs=false", *goflags]).strip()
    return env


def stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created with its parents) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def is_fresh(out: Path, stamp: str, outputs: Sequence[str], stamp_name: str = "stamp.json") -> bool:
    """Whether ``out`` holds ``stamp`` (exactly) in ``stamp_name`` and every file in ``outputs``."""
    s = out / stamp_name
    return s.is_file() and s.read_text() == stamp and all((out / n).is_file() for n in outputs)


def ensure(out: Path, stamp: str, outputs: Sequence[str], build: Callable[[], None],
           stamp_name: str = "stamp.json") -> bool:
    """Run ``build()`` unless ``out`` is current; ``True`` when it built. See the module docstring."""
    if is_fresh(out, stamp, outputs, stamp_name):
        return False
    with file_lock(out / ".lock"):
        if is_fresh(out, stamp, outputs, stamp_name):  # another process built it while we waited
            return False
        (out / stamp_name).unlink(missing_ok=True)
        build()
        missing = [n for n in outputs if not (out / n).is_file()]
        if missing:
            raise RuntimeError(f"build into {out} did not produce {', '.join(missing)}")
        (out / stamp_name).write_text(stamp)
    return True


def run_step(cmd: Sequence[str], cwd: Path, what: str, *, error: type[Exception],
             progress: Progress | None = None, started: float | None = None,
             env: dict[str, str] | None = None, log: Path | None = None) -> None:
    """Run one build command niced; on failure raise ``error`` with one line and keep the log.

    ``progress`` gets ``"  <what> ..."`` before and ``"  <what>: done in Ns, M CPU-s (total Ts)"``
    after (CPU seconds say what the step costs on an idle machine; wall time depends on the load).
    """
    t0 = time.monotonic()
    cpu0 = _children_cpu()
    if progress:
        progress(f"  {what} ...")
    proc = subprocess.run([*nice(), *cmd], cwd=cwd, env=env if env is not None else go_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        log = log or cwd / "build.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(proc.stdout)
        lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else f"exit status {proc.returncode}"
        raise error(f"{what} failed: {last} (full log: {log})")
    if progress:
        total = time.monotonic() - (started if started is not None else t0)
        progress(f"  {what}: done in {time.monotonic() - t0:.0f}s, {_children_cpu() - cpu0:.0f} CPU-s "
                 f"(total {total:.0f}s)")
