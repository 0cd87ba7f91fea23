"""Build upstream kube-apiserver, kube-scheduler, kube-controller-manager and etcd from Go modules.

The real-cluster tests and ``dra cluster up`` run upstream's own binaries, built here from the
Go module proxy (nothing else is downloaded, nothing is committed):

* Kubernetes: a harness module (``upstream/k8s/kube/go.mod.tmpl``) requires
  ``k8s.io/kubernetes vX.Y.Z`` and replaces every staging module that k8s.io/kubernetes names at
  v0.0.0 with its published ``v0.Y.Z``; the replace list is read from the kubernetes go.mod in
  the module cache, so it follows whatever staging modules that release has.
* etcd: ``upstream/k8s/etcd`` is a five-line main calling ``etcdmain.Main``.

Outputs go to ``${DRA_GPU_CACHE:-~/.cache/dra-gpu}/k8s/<version>/`` and ``.../etcd/<version>/``
with a stamp (source version + hash of the harness and of the build flags). A matching stamp
means the binaries are reused; anything else rebuilds. A file lock serialises concurrent
builders (two pytest runs, ``make k8s`` beside a test run); both, and ``nice``, come from
:mod:`dra.testing.gobuild`, the recipe shared with helm and the oracles.

Each step prints one line with its elapsed time (also when stderr is not a terminal), so a
20-minute cold build is never silent. :class:`GoMissing` and :class:`BuildError` carry one line
that a test can use as its skip reason.

CLI: ``python -m dra.testing.cluster.build [--kubernetes-version 1.37|all]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dra.errors import UserError
from dra.testing import gobuild
from dra.versions import BUILD_PATCHES, SUPPORTED_MINORS, parse_minor

ETCD_VERSION = "3.6.16"
KUBE_COMMANDS = ("kube-apiserver", "kube-scheduler", "kube-controller-manager")
HARNESS = Path(__file__).resolve().parents[3] / "upstream" / "k8s"
# Bump when the build changes in a way the stamp does not see (the stamp covers the source
# version, the harness files and the link flags; not this file, so editing it rebuilds nothing).
_RECIPE = "1"

Progress = gobuild.Progress


class GoMissing(RuntimeError):
    """No usable ``go`` on PATH: the real-cluster tests skip with this one line."""


class BuildError(RuntimeError):
    """A Go build failed; ``str()`` is one line ending with the tool's last error line."""


@dataclass(frozen=True)
class KubeBinaries:
    """Paths of one Kubernetes version's control-plane binaries and of the etcd they run on."""

    version: str  # full patch version, e.g. "1.37.2"
    kube_apiserver: Path
    kube_scheduler: Path
    kube_controller_manager: Path
    etcd: Path

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


cache_root = gobuild.cache_root


def go_binary() -> str:
    """The ``go`` command, or :class:`GoMissing` with the reason."""
    go = gobuild.go_binary()
    if go is None:
        raise GoMissing("Go is not installed (no `go` on PATH): cannot build upstream Kubernetes")
    return go


def _go_env() -> dict[str, str]:
    return gobuild.go_env("-mod=mod")


def _run(cmd: list[str], cwd: Path, what: str, progress: Progress, started: float) -> None:
    gobuild.run_step(cmd, cwd, what, error=BuildError, progress=progress, started=started, env=_go_env())


def _stamp(source: str, files: list[Path], flags: list[str]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    h.update("\0".join(flags).encode())
    return json.dumps({"source": source, "harness": h.hexdigest()[:16], "recipe": _RECIPE}, sort_keys=True)


def staging_replaces(kubernetes_gomod: str, patch: str) -> list[str]:
    """``k8s.io/<name> => k8s.io/<name> v0.<minor>.<patch>`` for every staging module named in go.mod."""
    staging_version = "v0." + ".".join(patch.split(".")[1:])
    names = sorted(set(re.findall(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", kubernetes_gomod, re.M)))
    if not names:
        raise BuildError("k8s.io/kubernetes go.mod names no staging modules: unexpected layout")
    return [f"\t{n} => {n} {staging_version}" for n in names]


def _kube_ldflags(patch: str) -> list[str]:
    major, minor, _ = patch.split(".")
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion=v{patch}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate=1970-01-01T00:00:00Z",
        ]
    return flags


def ensure_kube(minor_or_patch: str, progress: Progress = gobuild.stderr_progress) -> dict[str, Path]:
    """Build (or reuse) the three control-plane binaries of one Kubernetes version."""
    minor = parse_minor(minor_or_patch)
    patch = BUILD_PATCHES[minor]
    go = go_binary()
    out = cache_root() / "k8s" / patch
    tmpl = HARNESS / "kube" / "go.mod.tmpl"
    flags = _kube_ldflags(patch)

    def build() -> None:
        started = time.monotonic()
        progress(f"building Kubernetes v{patch} (kube-apiserver, kube-scheduler, kube-controller-manager) into {out}")
        src = out / "src"
        src.mkdir(parents=True, exist_ok=True)
        _run([go, "mod", "download", f"k8s.io/kubernetes@v{patch}"], src, "download k8s.io/kubernetes", progress, started)
        gomod = subprocess.run([go, "mod", "download", "-json", f"k8s.io/kubernetes@v{patch}"], cwd=src,
                               env=_go_env(), capture_output=True, text=True, check=True)
        kube_gomod = Path(json.loads(gomod.stdout)["GoMod"]).read_text()
        text = tmpl.read_text().replace("@VERSION@", patch).replace("@REPLACES@", "\n".join(staging_replaces(kube_gomod, patch)))
        (src / "go.mod").write_text(text)
        (src / "go.sum").unlink(missing_ok=True)
        pkgs = [f"k8s.io/kubernetes/cmd/{n}" for n in KUBE_COMMANDS]
        _run([go, "list", "-deps", "-e=false", *pkgs], src, "download modules", progress, started)
        _run([go, "build", "-trimpath", "-ldflags", " ".join(flags), "-o", str(out) + "/", *pkgs], src,
             "compile", progress, started)
        progress(f"built Kubernetes v{patch} in {time.monotonic() - started:.0f}s")

    gobuild.ensure(out, _stamp(f"k8s.io/kubernetes v{patch}", [tmpl], flags), KUBE_COMMANDS, build)
    return {n: out / n for n in KUBE_COMMANDS}


def ensure_etcd(progress: Progress = gobuild.stderr_progress) -> Path:
    """Build (or reuse) the etcd server every version runs on."""
    go = go_binary()
    out = cache_root() / "etcd" / ETCD_VERSION
    files = [HARNESS / "etcd" / "go.mod.tmpl", HARNESS / "etcd" / "main.go"]

    def build() -> None:
        started = time.monotonic()
        progress(f"building etcd v{ETCD_VERSION} into {out}")
        src = out / "src"
        src.mkdir(parents=True, exist_ok=True)
        (src / "go.mod").write_text(files[0].read_text().replace("@VERSION@", ETCD_VERSION))
        (src / "go.sum").unlink(missing_ok=True)
        shutil.copy(files[1], src / "main.go")
        _run([go, "list", "-deps", "."], src, "download modules", progress, started)
        _run([go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(out / "etcd"), "."], src, "compile", progress, started)
        progress(f"built etcd v{ETCD_VERSION} in {time.monotonic() - started:.0f}s")

    gobuild.ensure(out, _stamp(f"go.etcd.io/etcd/server/v3 v{ETCD_VERSION}", files, ["-s", "-w"]), ("etcd",), build)
    return out / "etcd"


def ensure_binaries(version: str, progress: Progress = gobuild.stderr_progress) -> KubeBinaries:
    """Everything one control plane of ``version`` (a minor or patch) needs, built or reused."""
    kube = ensure_kube(version, progress)
    etcd = ensure_etcd(progress)
    return KubeBinaries(BUILD_PATCHES[parse_minor(version)], kube["kube-apiserver"], kube["kube-scheduler"],
                        kube["kube-controller-manager"], etcd)


def cached_versions() -> list[str]:
    """Minors whose binaries are already built and current (no build is started)."""
    out = []
    for minor in SUPPORTED_MINORS:
        patch = BUILD_PATCHES[minor]
        d = cache_root() / "k8s" / patch
        stamp = _stamp(f"k8s.io/kubernetes v{patch}", [HARNESS / "kube" / "go.mod.tmpl"], _kube_ldflags(patch))
        if gobuild.is_fresh(d, stamp, KUBE_COMMANDS):
            out.append(minor)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dra.testing.cluster.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubernetes-version", default="all", metavar="V[,V...]|all|tests",
                        help="minors to build (1.34|1.35|1.36|1.37, comma-separated), 'all' (default), or 'tests': "
                             "those the real-cluster tests will run ($DRA_K8S_VERSIONS, see selection.py)")
    args = parser.parse_args(argv)
    try:
        if args.kubernetes_version == "tests":
            from dra.testing.cluster.selection import selected_versions

            minors = selected_versions()
        elif args.kubernetes_version == "all":
            minors = list(SUPPORTED_MINORS)
        else:
            minors = [parse_minor(v) for v in args.kubernetes_version.split(",") if v.strip()]
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        ensure_etcd()
        for minor in reversed(minors):  # newest first: the default version is usable soonest
            t0 = time.monotonic()
            ensure_kube(minor)
            print(f"Kubernetes {BUILD_PATCHES[minor]}: ready in {cache_root() / 'k8s' / BUILD_PATCHES[minor]} "
                  f"({time.monotonic() - t0:.0f}s)", file=sys.stderr)
    except (GoMissing, BuildError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
