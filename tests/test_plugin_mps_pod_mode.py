"""The whole plugin with ``--mps-daemon pod`` and node-allocatable overhead, driven by the kubelet stand-in.

API server: the stand-in (serves Deployments; a thread marks them ready as a node would).
"""

from __future__ import annotations

import json
import threading

import pytest

from dra.errors import UserError
from dra.plugin.driver import Driver, DriverConfig, DriverConfigError
from dra.plugin.kubelet_standin import KubeletStandIn, allocated_claim, opaque_config
from dra.slices.overhead import parse_overhead
from dra.testing.apiserver import FakeApiServer

from tests.test_plugin_kubelet import CFG, DRIVER, NODE, uid

NS = "dra-gpu-driver"


@pytest.fixture
def api():
    with FakeApiServer() as server:
        server.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
        stop = threading.Event()

        def ready() -> None:
            while not stop.wait(0.02):
                for dep in server.objects("Deployment", NS):
                    if not (dep.get("status") or {}).get("readyReplicas"):
                        server.put_object({**dep, "status": {"readyReplicas": 1}})

        thread = threading.Thread(target=ready, daemon=True)
        thread.start()
        yield server
        stop.set()
        thread.join()


def config(tmp_path, **kw) -> DriverConfig:
    return DriverConfig(node_name=NODE, driver_name=DRIVER, profile="dgx-h100", registrar_dir=tmp_path / "registry",
                        plugins_dir=tmp_path / "plugins", cdi_root=tmp_path / "cdi", http_port=None, boot_id="b1",
                        mps_root=tmp_path / "mps", health=False, **kw)


def test_mps_claim_gets_a_daemon_deployment_that_survives_a_plugin_restart(tmp_path, api):
    cfg = config(tmp_path, mps_daemon="pod", namespace=NS, mps_image="ghcr.io/dra-gpu/dra-gpu-driver:0.1.0")
    driver = Driver(cfg, api_client=api.api_client())
    driver.start()
    kubelet = KubeletStandIn(tmp_path / "registry")
    try:
        kubelet.register()
        api.put_object(allocated_claim("mps", uid("mps"), [("a", "gpu-2")], pool=NODE, configs=[opaque_config(
            {"apiVersion": CFG, "kind": "GpuConfig", "sharing": {"strategy": "MPS", "mpsConfig": {
                "defaultActiveThreadPercentage": 40}}})]))
        ref = ("default", "mps", uid("mps"))
        assert kubelet.prepare([ref])[ref[2]].error == ""
        (dep,) = api.objects("Deployment", NS)
        pod = dep["spec"]["template"]["spec"]
        assert pod["nodeName"] == NODE and pod["containers"][0]["image"] == cfg.mps_image
        assert "set_default_active_thread_percentage 40" in pod["containers"][0]["args"][0]
        spec = json.loads((tmp_path / "cdi" / f"k8s.gpu.nvidia.com-claim_{ref[2]}.json").read_text())
        pipe = next(m for d in spec["devices"] for m in d["containerEdits"].get("mounts", [])
                    if m["containerPath"] == "/tmp/nvidia-mps")
        assert pipe["hostPath"].startswith(str(tmp_path / "mps")) and pipe["hostPath"] in json.dumps(dep)
    finally:
        kubelet.close()
        driver.stop()
    # the plugin goes away and comes back: the daemon was never deleted nor doubled
    deletes = [w for w in api.writes("deployments") if w.method == "DELETE"]
    assert deletes == []
    driver = Driver(cfg, api_client=api.api_client())
    driver.start()
    kubelet = KubeletStandIn(tmp_path / "registry")
    try:
        kubelet.register()
        assert len(api.objects("Deployment", NS)) == 1
        assert kubelet.unprepare([ref])[ref[2]] == ""
        assert api.objects("Deployment", NS) == []
    finally:
        kubelet.close()
        driver.stop()


def test_pod_mode_needs_namespace_and_image(tmp_path):
    with pytest.raises(DriverConfigError, match="--mps-daemon pod needs --namespace and --mps-image"):
        config(tmp_path, mps_daemon="pod").check()
    with pytest.raises(UserError, match="unrecognized feature gate"):
        config(tmp_path, k8s_version="1.35", feature_gates={"DRAListTypeAttributes": True}).check()


@pytest.mark.parametrize("declared", [True, False])
def test_overhead_published_only_where_the_node_declares_the_feature(tmp_path, api, declared):
    if declared:
        api.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE},
                        "status": {"declaredFeatures": ["DRANodeAllocatableResources"]}})
    cfg = config(tmp_path, k8s_version="1.37", feature_gates={"DRANodeAllocatableResources": True,
                                                              "DRAListTypeAttributes": True},
                 node_allocatable_overhead=parse_overhead("gpu.memory.perPod=256Mi"))
    driver = Driver(cfg, api_client=api.api_client())
    driver.start()
    try:
        # What the plugin sends (the stand-in serves 1.35's schema and drops 1.36+ fields; the
        # real 1.37 API server's acceptance is tests/real/test_real_driver_fields.py).
        sent = [w.body for w in api.writes("resourceslices") if w.method == "POST"]
        devices = [d for s in sent for d in s["spec"].get("devices") or []]
        assert devices and all("ints" in d["attributes"]["resource.kubernetes.io/numaNode"] for d in devices)
        has = ["nodeAllocatableResources" in d for d in devices]
        assert all(has) if declared else not any(has)
    finally:
        driver.stop()
