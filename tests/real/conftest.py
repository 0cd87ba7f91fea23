"""Fixtures for the tests against real upstream Kubernetes (etcd, kube-apiserver, scheduler, controller-manager).

Which versions run is chosen once, at collection, by
:func:`dra.testing.cluster.selection.selected_versions` (env ``DRA_K8S_VERSIONS``).

One control plane per version runs for the whole session (every DRA gate of that version on,
so each layout the slice builder can produce is served), and is stopped when the session moves
on to the next version or ends. Without Go, or when the build fails, every test of that version
skips with one line: the reason, ending with the build's last error line. Nothing here runs, and
no build starts, when the tests are deselected (``-m "not real"``).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from dra.testing.cluster.selection import selected_versions
from dra.versions import KubernetesVersion


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real: needs upstream Kubernetes built from Go modules (deselect: -m 'not real')")
    # A CI timeout or `kill` sends SIGTERM: turn it into KeyboardInterrupt so pytest still runs the
    # fixtures' finalizers and no etcd or kube-apiserver outlives the run.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


_BUILD_FAILURES: dict[str, str] = {}


def _binaries(minor: str):
    from dra.testing.cluster.build import BuildError, GoMissing, ensure_binaries

    if minor in _BUILD_FAILURES:
        pytest.skip(_BUILD_FAILURES[minor])
    try:
        return ensure_binaries(minor, progress=lambda line: print(line, file=sys.stderr, flush=True))
    except (GoMissing, BuildError) as e:
        _BUILD_FAILURES[minor] = f"Kubernetes {minor}: {e}"
        pytest.skip(_BUILD_FAILURES[minor])


@pytest.fixture(scope="session", params=selected_versions(), ids=lambda v: f"k8s{v}")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A running control plane of one version, every DRA gate on; stopped at the end (always)."""
    from dra.testing.cluster.controlplane import ControlPlane

    minor = request.param
    binaries = _binaries(minor)
    cp = ControlPlane(tmp_path_factory.mktemp(f"k8s-{minor}"), KubernetesVersion.all_gates_on(minor), binaries,
                      all_gates=True)
    request.addfinalizer(cp.stop)
    cp.start(progress=lambda line: print(line, file=sys.stderr, flush=True))
    return cp


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]
