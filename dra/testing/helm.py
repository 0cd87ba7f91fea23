"""The real ``helm`` binary, built from its Go module and cached.

Helm is not a Python package, and nothing outside the package registries may be fetched,
so the chart tests use helm built from source: ``helm.sh/helm/v4`` at :data:`HELM_VERSION`
from the Go module proxy, compiled once into
``${DRA_GPU_CACHE:-~/.cache/dra-gpu}/helm/<version>/helm`` and reused by later runs.

The build runs in a throw-away harness module (a ``go.mod`` that requires only helm, so
Go's minimal version selection picks exactly the dependency versions helm's own ``go.mod``
names) under ``nice -n 10`` (the build machine is shared). ``ensure_helm()`` returns the
binary's path; when Go is missing or the build fails it raises :class:`HelmUnavailable`
whose message is one line, fit for ``pytest.skip``.

Used by ``tests/test_manifests_helm.py`` and by ``make k8s`` (the cluster build harness).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HELM_MODULE = "helm.sh/helm/v4"
HELM_VERSION = "v4.3.2"
_STAMP = ".built-from"


class HelmUnavailable(RuntimeError):
    """helm cannot be had here (no Go, or the build failed); the message is one line."""


def cache_root() -> Path:
    """``$DRA_GPU_CACHE`` or ``~/.cache/dra-gpu``: where every build output of the project lives."""
    return Path(os.environ.get("DRA_GPU_CACHE") or Path.home() / ".cache" / "dra-gpu")


def helm_path(version: str = HELM_VERSION) -> Path:
    return cache_root() / "helm" / version / "helm"


def _source_key(version: str, go: str) -> str:
    """What the cached binary was built from: module version and Go toolchain."""
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False)
    return f"{HELM_MODULE}@{version} {out.stdout.strip()}"


def ensure_helm(version: str = HELM_VERSION, *, quiet: bool = False) -> Path:
    """Return the path of a working helm ``version``, building it first if needed."""
    target = helm_path(version)
    go = shutil.which("go")
    stamp = target.parent / _STAMP
    if target.is_file() and os.access(target, os.X_OK):
        # Reuse unless we can tell that it was built by another toolchain (source changed).
        if go is None or not stamp.exists() or stamp.read_text().strip() == _source_key(version, go):
            return target
    if go is None:
        raise HelmUnavailable(f"helm {version} is built from its Go module and `go` is not on PATH")
    if not quiet:
        print(f"building helm {version} from {HELM_MODULE} into {target} (once; a few minutes)",
              file=sys.stderr, flush=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    nice = ["nice", "-n", "10"] if shutil.which("nice") else []
    env = {**os.environ, "GOFLAGS": os.environ.get("GOFLAGS", "-buildvcs=false"), "CGO_ENABLED": "0"}
    with tempfile.TemporaryDirectory(prefix="dra-helm-") as tmp:
        (Path(tmp) / "go.mod").write_text(f"module dragpu.local/helmharness\n\ngo 1.24\n\nrequire {HELM_MODULE} {version}\n")
        ldflags = f"-s -w -X {HELM_MODULE}/internal/version.version={version}"
        partial = target.with_suffix(".partial")
        steps = [
            [go, "get", f"{HELM_MODULE}/cmd/helm@{version}"],
            [*nice, go, "build", "-trimpath", "-ldflags", ldflags, "-o", str(partial), f"{HELM_MODULE}/cmd/helm"],
        ]
        for cmd in steps:
            done = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise HelmUnavailable(f"building helm {version} failed at `{' '.join(cmd[-3:])}`: {last}")
        partial.replace(target)
    stamp.write_text(_source_key(version, go) + "\n")
    return target


def main() -> int:
    """``python -m dra.testing.helm``: build (or find) helm and print its path."""
    try:
        print(ensure_helm())
    except HelmUnavailable as err:
        print(f"skip: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
