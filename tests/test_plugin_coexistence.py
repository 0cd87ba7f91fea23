"""The device-plugin coexistence guard, against the stand-in API server and from the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dra.plugin.coexistence import DevicePluginConflict, check, conflicts
from dra.testing.apiserver import FakeApiServer

ROOT = Path(__file__).resolve().parent.parent
NODE = "node-a"


def device_class(name, resource=None, expression='device.driver == "gpu.nvidia.com"'):
    spec = {"selectors": [{"cel": {"expression": expression}}]} if expression else {}
    if resource:
        spec["extendedResourceName"] = resource
    return {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": name}, "spec": spec}


def node(capacity):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}, "status": {"capacity": capacity}}


@pytest.mark.parametrize("classes, capacity, expected", [
    ([device_class("gpu.nvidia.com", "nvidia.com/gpu")], {"nvidia.com/gpu": "8"}, ["gpu.nvidia.com"]),
    ([device_class("gpu.nvidia.com", "nvidia.com/gpu")], {"nvidia.com/gpu": "0"}, []),
    ([device_class("gpu.nvidia.com", "nvidia.com/gpu")], {"cpu": "64"}, []),
    ([device_class("gpu.nvidia.com")], {"nvidia.com/gpu": "8"}, []),
    ([device_class("other", "nvidia.com/gpu", 'device.driver == "other.example.com"')], {"nvidia.com/gpu": "8"}, []),
    ([device_class("any", "nvidia.com/gpu", None)], {"nvidia.com/gpu": "8"}, ["any"]),
])
def test_conflicts(classes, capacity, expected):
    assert [c.device_class for c in conflicts(classes, node(capacity), "gpu.nvidia.com")] == expected


def test_refused_unless_allowed_against_the_api_server():
    with FakeApiServer(validate=False) as api:
        api.put_object(node({"nvidia.com/gpu": "4"}))
        api.put_object(device_class("gpu.nvidia.com", "nvidia.com/gpu"))
        client = api.api_client()
        with pytest.raises(DevicePluginConflict, match="DeviceClass gpu.nvidia.com maps extended resource "
                                                       "nvidia.com/gpu, which node node-a already reports"):
            check(client, NODE, "gpu.nvidia.com", allow=False)
        assert [c.resource for c in check(client, NODE, "gpu.nvidia.com", allow=True)] == ["nvidia.com/gpu"]


def test_plugin_run_exits_2_with_one_line(tmp_path):
    with FakeApiServer(validate=False) as api:
        api.put_object(node({"nvidia.com/gpu": "4"}))
        api.put_object(device_class("gpu.nvidia.com", "nvidia.com/gpu"))
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": api.url}}],
            "users": [{"name": "u", "user": {}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}],
        }))
        result = subprocess.run(
            [sys.executable, "-m", "dra.cli", "plugin", "run", "--node-name", NODE, "--profile", "h100-x1",
             "--kubeconfig", str(kubeconfig), "--registrar-dir", str(tmp_path / "r"),
             "--plugins-dir", str(tmp_path / "p"), "--cdi-root", str(tmp_path / "c"), "--http-port", "-1"],
            cwd=ROOT, capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--allow-device-plugin-coexistence" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "p").exists()  # refused before touching the node


def test_an_unreachable_api_server_skips_the_check_instead_of_stopping_the_plugin() -> None:
    """A plugin (re)started while kube-apiserver is down must come up: urllib3 ends a refused
    connection with MaxRetryError, which is not an OSError (found by the real-cluster restart test)."""
    import socket

    from kubernetes import client as k8s

    from dra.plugin.coexistence import check

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = k8s.Configuration(host=f"http://127.0.0.1:{port}")
    cfg.retries = 0
    assert check(k8s.ApiClient(cfg), "n1", "gpu.nvidia.com", allow=False) == []
