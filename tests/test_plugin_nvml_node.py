"""The whole plugin on a (fake) GPU node: ``dra plugin run`` with NVML, no ``--profile``.

The node is a fake driver root (``tests/fakenvml``: the C fake libnvidia-ml.so.1 and a real
driver's file layout) mounted at ``--driver-root-mount`` for a host driver root of
``/run/nvidia/driver``; the API server is the stand-in; the kubelet is the stand-in. This is
the path a user's node takes: NVML loaded from the driver root, inventory and slices from
NVML, a whole GPU and a dynamic MIG device prepared (the MIG instance made through
nvmlDeviceCreateGpuInstanceWithPlacement), CDI specs that carry the driver's files, unprepare.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import grpc
import pytest
import yaml

from dra.plugin.kubelet_standin import KubeletStandIn, allocated_claim
from dra.testing.apiserver import FakeApiServer
from fakenvml.fakeroot import GPU0, LIBDIR, VERSION, build_nvml, make_driver_root

NODE = "gpu-node"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def node(tmp_path):
    made = make_driver_root(tmp_path / "driver-root", build_nvml(tmp_path / "lib"))
    (tmp_path / "nvml").mkdir()
    with FakeApiServer() as api:
        api.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": api.url}}],
            "users": [{"name": "u", "user": {}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}],
        }))
        yield tmp_path, api, kubeconfig
    made["socket"].close()


def start(tmp: Path, kubeconfig: Path, mode: str, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dra.cli", "plugin", "run", "--node-name", NODE, "--mode", mode,
         "--kubeconfig", str(kubeconfig), "--registrar-dir", str(tmp / "registry"),
         "--plugins-dir", str(tmp / "plugins"), "--cdi-root", str(tmp / "cdi"), "--http-port", "-1",
         "--driver-root", "/run/nvidia/driver", "--driver-root-mount", str(tmp / "driver-root"),
         "--mps-root", str(tmp / "mps")],
        cwd=ROOT, env=dict(os.environ, FAKE_NVML_DIR=str(tmp / "nvml"), DRA_PLUGIN_BOOT_ID="b1", **env),
        stdout=subprocess.DEVNULL, stderr=open(tmp / "plugin.log", "ab"))


def devices(api: FakeApiServer, timeout=30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = [d["name"] for s in api.objects("ResourceSlice") for d in s["spec"].get("devices") or ()]
        if names:
            return names
        time.sleep(0.1)
    raise AssertionError("no slices published")


def register(tmp: Path, proc: subprocess.Popen) -> KubeletStandIn:
    kubelet = KubeletStandIn(tmp / "registry")
    deadline = time.monotonic() + 30
    while True:
        try:
            kubelet.register(timeout=0.5)
            return kubelet
        except (grpc.RpcError, grpc.FutureTimeoutError, TimeoutError):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp / "plugin.log").read_text()[-3000:])


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(20)


def test_whole_gpu_on_an_nvml_node_gets_a_cdi_spec_that_runs_cuda(node):
    tmp, api, kubeconfig = node
    proc = start(tmp, kubeconfig, "whole")
    kubelet = None
    try:
        kubelet = register(tmp, proc)
        assert sorted(devices(api)) == ["gpu-0", "gpu-1"]
        uid = str(uuid.uuid4())
        api.put_object(allocated_claim("train", uid, [("gpu", "gpu-0")], pool=NODE))
        answer = kubelet.prepare([("default", "train", uid)])[uid]
        assert answer.error == "", answer.error
        spec = json.loads((tmp / "cdi" / f"k8s.gpu.nvidia.com-claim_{uid}.json").read_text())
        device = spec["devices"][0]
        assert device["containerEdits"]["deviceNodes"] == [{"path": "/dev/nvidia0"}]
        mounts = {m["containerPath"]: m["hostPath"] for m in spec["containerEdits"]["mounts"]}
        assert mounts[f"{LIBDIR}/libcuda.so.{VERSION}"] == f"/run/nvidia/driver{LIBDIR}/libcuda.so.{VERSION}"
        assert mounts["/usr/bin/nvidia-smi"] == "/run/nvidia/driver/usr/bin/nvidia-smi"
        assert [h["args"][1] for h in spec["containerEdits"]["hooks"]] == ["create-symlinks", "update-ldcache"]
        assert kubelet.unprepare([("default", "train", uid)])[uid] == ""
        assert not list((tmp / "cdi").glob("*.json"))
    finally:
        if kubelet:
            kubelet.close()
        stop(proc)


def test_dynamic_mig_on_an_nvml_node(node):
    tmp, api, kubeconfig = node
    proc = start(tmp, kubeconfig, "dynamic-mig")
    kubelet = None
    try:
        kubelet = register(tmp, proc)
        names = devices(api)
        mig = next(n for n in names if n.startswith("gpu-0-mig-") and n.endswith("-19-3"))
        assert not any(n.startswith("gpu-1-mig-") for n in names)  # the L4 has no MIG
        uid = str(uuid.uuid4())
        api.put_object(allocated_claim("mig", uid, [("mig", mig)], pool=NODE, device_class="mig.nvidia.com"))
        answer = kubelet.prepare([("default", "mig", uid)])[uid]
        assert answer.error == "", answer.error + (tmp / "plugin.log").read_text()[-2000:]
        state = (tmp / "nvml" / "mig.state").read_text().split()
        assert state[:6] == ["0", "1", "19", "3", "1", "0"]  # gpu 0, GI 1, profile 19 @3 size 1, CI 0
        assert "nvmlDeviceCreateGpuInstanceWithPlacement start=3 size=1" in (tmp / "nvml" / "calls.log").read_text()
        assert kubelet.unprepare([("default", "mig", uid)])[uid] == ""
        assert (tmp / "nvml" / "mig.state").read_text() == ""
        assert proc.poll() is None
    finally:
        if kubelet:
            kubelet.close()
        stop(proc)


def test_relative_paths_and_missing_driver_are_one_line_exit_2(node):
    tmp, api, kubeconfig = node
    base = [sys.executable, "-m", "dra.cli", "plugin", "run", "--node-name", NODE, "--kubeconfig", str(kubeconfig),
            "--http-port", "-1"]
    bad = subprocess.run(base + ["--plugins-dir", "plugins"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--plugins-dir: 'plugins' is not an absolute path" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    (tmp / "empty").mkdir()
    missing = subprocess.run(base + ["--registrar-dir", str(tmp / "r"), "--plugins-dir", str(tmp / "p"),
                                     "--cdi-root", str(tmp / "c"), "--driver-root-mount", str(tmp / "empty")],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "libnvidia-ml.so.1 not found under the driver root" in missing.stderr.strip().splitlines()[-1]


def test_mig_mode_off_is_reported_and_no_mig_devices_published(node):
    """With MIG off on the H100 nothing MIG is published for it (each prepare would be
    refused: NVIDIA #1092); the backend's own refusal is in test_gpu_nvml_fake."""
    tmp, api, kubeconfig = node
    proc = start(tmp, kubeconfig, "dynamic-mig", FAKE_NVML_MIG_OFF="1")
    kubelet = None
    try:
        kubelet = register(tmp, proc)
        assert sorted(devices(api)) == ["gpu-0", "gpu-1"]
        log = (tmp / "plugin.log").read_text()
        assert "MIG mode is disabled on this GPU" in log and "GPU does not support MIG" in log
        uid = str(uuid.uuid4())
        api.put_object(allocated_claim("m", uid, [("mig", "gpu-0-mig-1g10gb-19-0")], pool=NODE,
                                       device_class="mig.nvidia.com"))
        error = kubelet.prepare([("default", "m", uid)])[uid].error
        assert "device gpu-0-mig-1g10gb-19-0 is not published by this node" in error
        assert proc.poll() is None
    finally:
        if kubelet:
            kubelet.close()
        stop(proc)
