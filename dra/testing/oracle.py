"""The upstream structured allocator as an oracle: build it, run it, stream problems to it.

``upstream/allocator/`` holds a small Go program that calls
``k8s.io/dynamic-resource-allocation/structured`` (``NewAllocator`` + ``Allocate`` with a
``cel.NewCache``, exactly as kube-scheduler does) on JSON-line problems. This module

* builds it once per Kubernetes minor into ``${DRA_GPU_CACHE:-~/.cache/dra-gpu}/oracle/<minor>/``
  (a generated ``go.mod`` pinning ``k8s.io/api``, ``apimachinery`` and
  ``dynamic-resource-allocation`` at ``v0.<minor>.<patch>`` of :data:`dra.versions.BUILD_PATCHES`),
  rebuilt only when the Go source changes (:func:`build`; cache, lock and ``nice`` from
  :mod:`dra.testing.gobuild`);
* keeps the binary running as a subprocess and streams problems through it
  (:class:`UpstreamAllocator`), thousands per second.

Problem (one JSON object)::

    {"id": ..., "features": {"AdminAccess": true, ...}, "variant": "stable"?,   # default: as the scheduler picks
     "classes": [DeviceClass], "slices": [ResourceSlice], "claims": [ResourceClaim],
     "node": Node? | "nodeName": str?,
     "allocated": {"devices": [{driver, pool, device}], "sharedDeviceIDs": [{driver, pool, device, shareID}],
                   "consumedCapacity": [{"device": {driver, pool, device}, "consumedCapacity": {name: qty}}]}}

Answer::

    {"id": ..., "results": [AllocationResult] | null, "unschedulable": bool, "error": str | null,
     "nodeLocal": bool, "variant": "stable|incubating|experimental", "panic": bool?}

Command line: ``python -m dra.testing.oracle build [--kubernetes-version 1.37|all]`` builds
(progress on stderr); without Go it prints one line saying so and exits 0 with nothing
built, so test runs can skip cleanly.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from dra.testing import gobuild
from dra.versions import BUILD_PATCHES, SUPPORTED_MINORS, parse_minor

SOURCE_DIR = Path(__file__).resolve().parents[2] / "upstream" / "allocator"
MODULE = "dra-gpu/allocator-oracle"


class OracleUnavailable(RuntimeError):
    """The oracle cannot be built or run here (no Go, no source, build failed); one line."""


cache_root = gobuild.cache_root
go_binary = gobuild.go_binary


def skip_reason() -> str | None:
    """Why the oracle cannot run here, in one line; ``None`` when it can be built."""
    if not SOURCE_DIR.is_dir():
        return f"upstream allocator oracle source not found at {SOURCE_DIR}"
    if go_binary() is None:
        return "Go toolchain not found on PATH: the upstream allocator oracle cannot be built"
    return None


def _sources() -> list[Path]:
    return sorted(SOURCE_DIR.glob("*.go"))


def _go_mod(minor: str) -> str:
    patch = BUILD_PATCHES[minor]
    staging = "v0." + patch.split(".", 1)[1]
    return (
        f"module {MODULE}\n\ngo 1.26\n\nrequire (\n"
        f"\tk8s.io/api {staging}\n\tk8s.io/apimachinery {staging}\n"
        f"\tk8s.io/dynamic-resource-allocation {staging}\n)\n"
    )


def _stamp(minor: str) -> str:
    h = hashlib.sha256()
    h.update(_go_mod(minor).encode())
    for src in _sources():
        h.update(src.name.encode())
        h.update(src.read_bytes())
    return h.hexdigest()


def _tags(minor: str) -> list[str]:
    # 1.34 lacks EnableAllocators and ErrFailedAllocationOnNode (see variant_v1_34.go).
    return ["-tags", "dra_v1_34"] if minor == "1.34" else []


def binary_path(minor: str) -> Path:
    return cache_root() / "oracle" / minor / "allocator-oracle"


def build(minor: str, *, progress: bool = True) -> Path:
    """The oracle binary for ``minor``, built on first use and when the source changed."""
    minor = parse_minor(minor)
    reason = skip_reason()
    if reason:
        raise OracleUnavailable(reason)
    out_dir = cache_root() / "oracle" / minor
    binary = binary_path(minor)
    go = go_binary() or "go"
    say = gobuild.stderr_progress if progress else None

    def compile_oracle() -> None:
        src_dir = out_dir / "src"
        if src_dir.exists():
            shutil.rmtree(src_dir)
        src_dir.mkdir(parents=True)
        for src in _sources():
            shutil.copy2(src, src_dir / src.name)
        (src_dir / "go.mod").write_text(_go_mod(minor))
        started = time.monotonic()
        if say:
            say(f"oracle {minor}: building against k8s.io/dynamic-resource-allocation "
                f"v0.{BUILD_PATCHES[minor].split('.', 1)[1]} into {out_dir}")
        for label, cmd in [
            ("resolving modules", [go, "mod", "tidy"]),
            ("compiling", [go, "build", *_tags(minor), "-ldflags", f"-X main.minorVersion={minor}",
                           "-o", str(binary) + ".tmp", "."]),
        ]:
            gobuild.run_step(cmd, src_dir, f"oracle {minor}: {label}", error=OracleUnavailable,
                             progress=say, started=started)
        os.replace(str(binary) + ".tmp", binary)
        if say:
            say(f"oracle {minor}: built {binary} in {time.monotonic() - started:.0f}s")

    gobuild.ensure(out_dir, _stamp(minor), (binary.name,), compile_oracle, stamp_name="stamp")
    return binary


class UpstreamAllocator:
    """A running oracle process for one minor; use as a context manager.

    :meth:`solve` answers one problem; :meth:`solve_many` pipelines a batch (a writer
    thread feeds stdin while answers are read), which is what makes it fast.
    """

    def __init__(self, minor: str, *, progress: bool = False) -> None:
        self.minor = parse_minor(minor)
        self.binary = build(self.minor, progress=progress)
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [str(self.binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, text=True, bufsize=1 << 20,
            )
        return self._proc

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.stdin.close()  # type: ignore[union-attr]
                proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()

    def __enter__(self) -> "UpstreamAllocator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def solve(self, problem: dict[str, Any]) -> dict[str, Any]:
        return self.solve_many([problem])[0]

    def solve_many(self, problems: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        with self._lock:
            proc = self._start()
            lines = [json.dumps(p, separators=(",", ":")) + "\n" for p in problems]
            error: list[BaseException] = []

            def feed() -> None:
                try:
                    for line in lines:
                        proc.stdin.write(line)  # type: ignore[union-attr]
                    proc.stdin.flush()  # type: ignore[union-attr]
                except BaseException as err:  # noqa: BLE001 - reported below
                    error.append(err)

            writer = threading.Thread(target=feed, daemon=True)
            writer.start()
            answers = []
            for _ in lines:
                line = proc.stdout.readline()  # type: ignore[union-attr]
                if not line:
                    self._proc = None
                    raise OracleUnavailable(f"oracle {self.minor} exited (status {proc.wait()})")
                answers.append(json.loads(line))
            writer.join()
            if error:
                raise OracleUnavailable(f"oracle {self.minor}: writing problems failed: {error[0]}")
            return answers


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dra.testing.oracle",
                                     description="Build the upstream allocator oracle.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the oracle for one or all supported minors")
    b.add_argument("--kubernetes-version", default="all",
                   help=f"minor to build ({', '.join(SUPPORTED_MINORS)}) or 'all' (default)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    reason = skip_reason()
    if reason:
        print(f"skipped: {reason}", file=sys.stderr)
        return 0
    minors = SUPPORTED_MINORS if args.kubernetes_version == "all" else (parse_minor(args.kubernetes_version),)
    for minor in minors:
        try:
            print(build(minor))
        except OracleUnavailable as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    return 0


def iter_minors() -> Iterator[str]:
    yield from SUPPORTED_MINORS


if __name__ == "__main__":
    sys.exit(main())
