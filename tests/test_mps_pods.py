"""Per-claim MPS control daemons as Deployments (``--mps-daemon pod``), against the stand-in API server.

The stand-in plays the API server (with fault injection); a small "node" thread plays the
Deployment controller plus kubelet by marking a daemon's Deployment ready (or never, for a
daemon that cannot start). What a real control plane accepts, and what the plugin's identity
may do, is checked in ``tests/real/test_real_driver_fields.py``.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from dra.plugin.backend import BackendError, MpsSettings
from dra.plugin.builtin_backend import BuiltinBackend
from dra.plugin.cdi import CdiWriter
from dra.plugin.checkpoint import CheckpointFile
from dra.plugin.kubelet_standin import opaque_config
from dra.plugin.mps_backend import PodMpsBackend
from dra.plugin.mps_pods import ANNOTATION_ID, MpsDaemonPods, deployment_name
from dra.plugin.recovery import recover
from dra.plugin.state import DeviceState
from dra.testing.apiserver import FakeApiServer
from dra.testing.apiserver_faults import Fault

from tests.test_plugin_state import DRIVER, GPUS, POOL, Fetcher, catalog

NS_ = "dra-gpu-driver"
UID = "0b5c7e0e-1111-4222-8333-444455556666"


class Node:
    """Marks daemon Deployments ready, as the Deployment controller and a kubelet would."""

    def __init__(self, api: FakeApiServer) -> None:
        self.api = api
        self.broken: set[str] = set()  # deployment names whose pod never becomes ready
        self.broken_all = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for dep in self.api.objects("Deployment", NS_):
                name = dep["metadata"]["name"]
                if not self.broken_all and name not in self.broken and not (dep.get("status") or {}).get("readyReplicas"):
                    self.api.put_object({**dep, "status": {"replicas": 1, "readyReplicas": 1}})

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def cluster():
    with FakeApiServer() as api:
        node = Node(api)
        yield api, node
        node.stop()


def pods(api: FakeApiServer, tmp_path: Path, timeout: float = 5.0) -> MpsDaemonPods:
    return MpsDaemonPods(api.api_client(), namespace=NS_, node_name=POOL, root=tmp_path / "mps",
                         image="registry.example/dra-gpu-driver:1.0", driver_root="/run/nvidia/driver",
                         ready_timeout=timeout, poll=0.05)


def test_deployment_shape(tmp_path):
    with FakeApiServer() as api:
        p = pods(api, tmp_path)
        daemon_id = f"{UID}-default"
        body = p.deployment(daemon_id, [GPUS[0]], MpsSettings(40, {GPUS[0]: 8 << 30}))
    name = body["metadata"]["name"]
    assert name == deployment_name(daemon_id) and len(name) <= 63 and name.startswith(f"mps-control-daemon-{UID}-")
    spec = body["spec"]["template"]["spec"]
    assert spec["nodeName"] == POOL and spec["automountServiceAccountToken"] is False
    assert body["spec"]["selector"]["matchLabels"] == body["spec"]["template"]["metadata"]["labels"]
    container = spec["containers"][0]
    assert container["env"] == [{"name": "CUDA_VISIBLE_DEVICES", "value": GPUS[0]}]
    script = container["args"][0]
    assert "echo set_default_active_thread_percentage 40 | nvidia-cuda-mps-control" in script
    assert f"echo set_default_device_pinned_mem_limit {GPUS[0]} 8192M | nvidia-cuda-mps-control" in script
    volumes = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"]}
    base = tmp_path / "mps" / daemon_id
    assert volumes == {"driver-root": "/run/nvidia/driver", "mps-shm": str(base / "shm"),
                       "mps-pipe": str(base / "pipe"), "mps-log": str(base / "log")}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["mps-shm"] == "/dev/shm" and mounts["mps-pipe"] == "/driver-root/tmp/nvidia-mps"
    for value in body["metadata"]["labels"].values():
        assert len(value) <= 63 and re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", value)


def test_start_waits_for_ready_adopts_and_stop_is_idempotent(cluster, tmp_path):
    api, _ = cluster
    p = pods(api, tmp_path)
    daemon_id = f"{UID}-default"
    d = p.start(daemon_id, [GPUS[0]], MpsSettings(None, {}))
    assert d.workload == f"deployment/{NS_}/{deployment_name(daemon_id)}"
    assert all(Path(x).is_dir() for x in (d.pipe_dir, d.log_dir, d.shm_dir))
    assert p.daemons() == [daemon_id]
    p.start(daemon_id, [GPUS[0]], MpsSettings(None, {}))  # a retried prepare: adopted (409), not doubled
    assert len(api.objects("Deployment", NS_)) == 1
    p.stop(daemon_id)
    p.stop(daemon_id)  # not found is fine
    assert api.objects("Deployment", NS_) == [] and not (tmp_path / "mps" / daemon_id).exists()


def test_daemon_that_never_gets_ready_fails_with_a_reason(cluster, tmp_path):
    api, node = cluster
    daemon_id = f"{UID}-default"
    node.broken.add(deployment_name(daemon_id))
    with pytest.raises(BackendError, match=r"not ready after 0.5s \(0 ready replicas; no pod yet\)"):
        pods(api, tmp_path, timeout=0.5).start(daemon_id, [GPUS[0]], MpsSettings(None, {}))


@pytest.mark.parametrize("fault", [Fault(method="POST", path="deployments", status=500),
                                   Fault(method="POST", path="deployments", status=403, message="forbidden by RBAC"),
                                   Fault(method="POST", path="deployments", reset=True)])
def test_create_failures_are_backend_errors(cluster, tmp_path, fault):
    api, _ = cluster
    api.faults.add(fault)
    with pytest.raises(BackendError, match="creating deployment"):
        pods(api, tmp_path).start(f"{UID}-default", [GPUS[0]], MpsSettings(None, {}))


def test_lost_create_response_is_adopted(cluster, tmp_path):
    api, _ = cluster
    api.faults.add(Fault(method="POST", path="deployments", status=500, apply=True))
    p = pods(api, tmp_path)
    with pytest.raises(BackendError):
        p.start(f"{UID}-default", [GPUS[0]], MpsSettings(None, {}))
    # created although the client saw a 500: the retry finds it, the rollback would delete it
    p.start(f"{UID}-default", [GPUS[0]], MpsSettings(None, {}))
    assert len(api.objects("Deployment", NS_)) == 1


def _mps_config():
    cfg = opaque_config({"apiVersion": "resource.nvidia.com/v1beta1", "kind": "GpuConfig",
                         "sharing": {"strategy": "MPS", "mpsConfig": {"defaultActiveThreadPercentage": 50}}})
    return [NS(source=cfg["source"], requests=None, opaque=NS(**cfg["opaque"]))]


def _state(api, tmp_path, fetcher=None, timeout=5.0):
    fetcher = fetcher or Fetcher()
    state = DeviceState(
        driver=DRIVER, pool=POOL, catalog=catalog(), fetcher=fetcher,
        backend=PodMpsBackend(BuiltinBackend(tmp_path / "state", GPUS), pods(api, tmp_path, timeout)),
        cdi=CdiWriter(tmp_path / "cdi", DRIVER),
        checkpoint=CheckpointFile(tmp_path / "state" / "checkpoint.json", boot_id="b1"),
    )
    return state, fetcher


def test_prepare_restart_unprepare_through_the_api_server(cluster, tmp_path):
    api, _ = cluster
    state, fetcher = _state(api, tmp_path)
    ref = fetcher.add("a", UID, ["gpu-0"], _mps_config())
    assert state.prepare([ref])[UID].error == ""
    (dep,) = api.objects("Deployment", NS_)
    daemon_id = dep["metadata"]["annotations"][ANNOTATION_ID]
    assert daemon_id.startswith(UID) and "set_default_active_thread_percentage 50" in json.dumps(dep)
    # the checkpoint records the workload, and the CDI spec points the workload at the daemon's host dirs
    record = json.loads((tmp_path / "state" / "checkpoint.json").read_text())
    assert f"deployment/{NS_}/{dep['metadata']['name']}" in json.dumps(record)
    (spec_file,) = state.cdi.claim_specs().values()
    assert str(tmp_path / "mps" / daemon_id / "pipe") in Path(spec_file).read_text()
    # a plugin restart: the daemon is kept (no second Deployment, none deleted)
    writes = len(api.writes("deployments"))
    restarted, _ = _state(api, tmp_path, fetcher)
    report = recover(restarted, dynamic_mig=False)
    assert report.removed_mps == [] and len(api.objects("Deployment", NS_)) == 1
    assert all(w.method == "POST" and w.status == 409 for w in api.writes("deployments")[writes:])
    assert restarted.unprepare([ref])[UID].error == ""
    assert api.objects("Deployment", NS_) == [] and not (tmp_path / "mps" / daemon_id).exists()


def test_failed_daemon_rolls_the_prepare_back(cluster, tmp_path):
    api, node = cluster
    state, fetcher = _state(api, tmp_path, timeout=0.5)
    ref = fetcher.add("a", UID, ["gpu-0"], _mps_config())
    node.broken_all = True
    out = state.prepare([ref])[UID]
    assert "not ready after" in out.error
    assert api.objects("Deployment", NS_) == [] and state.records() == {}


def test_unprepare_while_the_api_server_fails_is_retried(cluster, tmp_path):
    api, _ = cluster
    state, fetcher = _state(api, tmp_path)
    ref = fetcher.add("a", UID, ["gpu-0"], _mps_config())
    assert state.prepare([ref])[UID].error == ""
    api.faults.add(Fault(method="DELETE", path="deployments", status=503))
    assert "deleting deployment" in state.unprepare([ref])[UID].error
    assert len(api.objects("Deployment", NS_)) == 1 and UID in state.records()  # kept: the kubelet retries
    assert state.unprepare([ref])[UID].error == ""
    assert api.objects("Deployment", NS_) == [] and state.records() == {}


def test_stale_daemons_of_this_node_are_removed_at_start(cluster, tmp_path):
    api, _ = cluster
    p = pods(api, tmp_path)
    p.start("dead-claim-default", [GPUS[0]], MpsSettings(None, {}))
    other = MpsDaemonPods(api.api_client(), namespace=NS_, node_name="another-node", root=tmp_path / "other",
                          image="x", ready_timeout=5, poll=0.05)
    other.start("other-node-claim", [GPUS[1]], MpsSettings(None, {}))
    state, _ = _state(api, tmp_path)
    report = recover(state, dynamic_mig=False)
    assert report.removed_mps == ["dead-claim-default"]
    assert [d["metadata"]["annotations"][ANNOTATION_ID] for d in api.objects("Deployment", NS_)] == ["other-node-claim"]
