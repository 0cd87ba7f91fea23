"""The real ``helm`` binary, built from its Go module and cached.

Helm is not a Python package, and nothing outside the package registries may be fetched,
so the chart tests use helm built from source: ``helm.sh/helm/v4`` at :data:`HELM_VERSION`
from the Go module proxy, compiled once into
``${DRA_GPU_CACHE:-~/.cache/dra-gpu}/helm/<version>/helm`` and reused by later runs.

The build runs in a throw-away harness module (a ``go.mod`` that requires only helm, so
Go's minimal version selection picks exactly the dependency versions helm's own ``go.mod``
names) under ``nice -n 10`` and a file lock (:mod:`dra.testing.gobuild`, the recipe every cached
Go build here shares). ``ensure_helm()`` returns the
binary's path; when Go is missing or the build fails it raises :class:`HelmUnavailable`
whose message is one line, fit for ``pytest.skip``.

Used by ``tests/test_manifests_helm.py`` and by ``make k8s`` (the cluster build harness).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from dra.testing import gobuild

HELM_MODULE = "helm.sh/helm/v4"
HELM_VERSION = "v4.3.2"
_STAMP = ".built-from"


class HelmUnavailable(RuntimeError):
    """helm cannot be had here (no Go, or the build failed); the message is one line."""


cache_root = gobuild.cache_root


def helm_path(version: str = HELM_VERSION) -> Path:
    return cache_root() / "helm" / version / "helm"


def _source_key(version: str, go: str) -> str:
    """What the cached binary was built from: module version and Go toolchain."""
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False)
    return f"{HELM_MODULE}@{version} {out.stdout.strip()}"


def ensure_helm(version: str = HELM_VERSION, *, quiet: bool = False) -> Path:
    """Return the path of a working helm ``version``, building it first if needed."""
    target = helm_path(version)
    go = gobuild.go_binary()
    stamp = target.parent / _STAMP
    if target.is_file() and os.access(target, os.X_OK) and (go is None or not stamp.exists()):
        # Built here, but nothing says from what (older cache) or no Go to tell: reuse it.
        return target
    if go is None:
        raise HelmUnavailable(f"helm {version} is built from its Go module and `go` is not on PATH")

    def build() -> None:
        if not quiet:
            print(f"building helm {version} from {HELM_MODULE} into {target} (once; a few minutes)",
                  file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="dra-helm-") as tmp:
            (Path(tmp) / "go.mod").write_text(f"module dragpu.local/helmharness\n\ngo 1.24\n\nrequire {HELM_MODULE} {version}\n")
            ldflags = f"-s -w -X {HELM_MODULE}/internal/version.version={version}"
            partial = target.with_suffix(".partial")
            for what, cmd in [
                (f"building helm {version}: go get", [go, "get", f"{HELM_MODULE}/cmd/helm@{version}"]),
                (f"building helm {version}: go build",
                 [go, "build", "-trimpath", "-ldflags", ldflags, "-o", str(partial), f"{HELM_MODULE}/cmd/helm"]),
            ]:
                gobuild.run_step(cmd, Path(tmp), what, error=HelmUnavailable, log=target.parent / "build.log")
            partial.replace(target)

    # The stamp keeps its pre-gobuild text (with its newline), so helm built before stays current.
    gobuild.ensure(target.parent, _source_key(version, go) + "\n", (target.name,), build, stamp_name=_STAMP)
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
