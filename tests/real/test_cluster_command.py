"""``dra cluster up|status|down`` as a user types it, then kubectl against the result (docs-style smoke test).

The bad-input cases need no Go and no cluster, so they are not marked ``real``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dra.testing.cluster.selection import selected_versions

KUBECTL = "/usr/bin/kubectl"


def _dra(*args: str, env: dict | None = None, timeout: float = 3600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dra.cli", *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


@pytest.mark.parametrize("argv, message", [
    (["cluster", "up", "--fleet", "nosuch:2"], "error: unknown profile 'nosuch'"),
    (["cluster", "up", "--fleet", "dgx-h100:two"], "error: --fleet: 'dgx-h100:two': COUNT must be a whole number"),
    (["cluster", "up", "--fleet", "dgx-h100:1:bogus"], "error: --fleet: 'dgx-h100:1:bogus': unknown mode 'bogus'"),
    (["cluster", "up", "--kubernetes-version", "1.99"], "error: --kubernetes-version: Kubernetes 1.99 is not supported"),
    (["cluster", "up", "--feature-gates", "NoSuchGate=true"], "error: --feature-gates: unrecognized feature gate 'NoSuchGate'"),
    (["cluster", "up", "--all-gates", "--feature-gates", "DRAAdminAccess=true"], "error: --all-gates and --feature-gates"),
])
def test_cluster_up_bad_input(argv, message, tmp_path):
    proc = _dra(*argv, "--dir", str(tmp_path / "c"), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(message), proc.stderr
    assert "Traceback" not in proc.stderr


def test_cluster_down_and_status_without_cluster(tmp_path):
    for action in ("down", "status"):
        proc = _dra("cluster", action, "--dir", str(tmp_path), timeout=60)
        assert proc.returncode == 2 and proc.stderr.startswith(f"error: --dir: no cluster in {tmp_path}"), proc.stderr


@pytest.mark.real
def test_cluster_up_kubectl_down(tmp_path):
    """The README walk-through: up with a two-profile fleet, kubectl sees nodes and slices, status, down."""
    if not Path(KUBECTL).exists():
        pytest.skip(f"{KUBECTL} is not installed")
    from dra.testing.cluster.build import BuildError, GoMissing, ensure_binaries

    minor = selected_versions()[-1]  # the newest selected version
    try:
        ensure_binaries(minor)
    except (GoMissing, BuildError) as e:
        pytest.skip(f"Kubernetes {minor}: {e}")
    d = tmp_path / "cluster"
    up = _dra("cluster", "up", "--kubernetes-version", minor, "--fleet", "dgx-h100:2,gb200-nvl72:1", "--dir", str(d),
              timeout=600)
    try:
        assert up.returncode == 0, up.stderr
        assert f"export KUBECONFIG={d / 'admin.kubeconfig'}" in up.stdout
        again = _dra("cluster", "up", "--dir", str(d), timeout=60)
        assert again.returncode == 2 and "already running" in again.stderr, again.stderr
        env = dict(os.environ, KUBECONFIG=str(d / "admin.kubeconfig"))
        nodes = subprocess.run([KUBECTL, "get", "nodes", "-o", "json"], env=env, capture_output=True, text=True,
                               timeout=60)
        assert nodes.returncode == 0, nodes.stderr
        names = sorted(n["metadata"]["name"] for n in json.loads(nodes.stdout)["items"])
        assert names == ["dgx-h100-0", "dgx-h100-1", "gb200-nvl72-0"]
        slices = subprocess.run([KUBECTL, "get", "resourceslices", "-o", "json"], env=env, capture_output=True,
                                text=True, timeout=60)
        assert slices.returncode == 0, slices.stderr
        per_node = {s["spec"]["nodeName"] for s in json.loads(slices.stdout)["items"]}
        assert per_node == set(names)
        version = subprocess.run([KUBECTL, "version", "-o", "json"], env=env, capture_output=True, text=True, timeout=60)
        from dra.versions import BUILD_PATCHES

        assert json.loads(version.stdout)["serverVersion"]["gitVersion"] == f"v{BUILD_PATCHES[minor]}"
        status = _dra("cluster", "status", "--dir", str(d), timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "kube-scheduler" in status.stdout and "3 node(s)" in status.stdout
    finally:
        down = _dra("cluster", "down", "--dir", str(d), timeout=120)
    assert down.returncode == 0, down.stderr
    from dra.testing.cluster.controlplane import ControlPlane

    assert not any(ControlPlane.load(d).running().values())
