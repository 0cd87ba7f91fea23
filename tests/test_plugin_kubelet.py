"""The whole plugin in-process, driven by the kubelet stand-in over the real sockets.

API server: :class:`dra.testing.apiserver.FakeApiServer` (a stand-in; see its docstring for
what it does not emulate). GPUs: a built-in profile with the built-in backend.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dra.plugin.backend import HealthEvent
from dra.plugin.driver import Driver, DriverConfig
from dra.plugin.kubelet_standin import KubeletStandIn, allocated_claim, opaque_config
from dra.testing.apiserver import FakeApiServer

NODE = "node-a"
DRIVER = "gpu.nvidia.com"
CFG = "resource.nvidia.com/v1beta1"


def uid(n: int | str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"claim-{n}"))


@pytest.fixture
def api():
    with FakeApiServer() as server:
        server.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
        yield server


class Harness:
    def __init__(self, tmp: Path, api: FakeApiServer, mode: str = "whole", profile: str = "dgx-h100"):
        self.tmp = tmp
        self.api = api
        self.config = DriverConfig(
            node_name=NODE, driver_name=DRIVER, profile=profile, mode=mode,
            registrar_dir=tmp / "registry", plugins_dir=tmp / "plugins", cdi_root=tmp / "cdi",
            http_address="127.0.0.1", http_port=0, boot_id="boot-1",
        )
        self.driver = Driver(self.config, api_client=api.api_client())
        self.driver.start()
        self.kubelet = KubeletStandIn(tmp / "registry")

    def claim(self, name: str, n, devices, **kw) -> tuple[str, str, str]:
        self.api.put_object(allocated_claim(name, uid(n), devices, pool=kw.pop("pool", NODE), **kw))
        return ("default", name, uid(n))

    def cdi_files(self) -> list[Path]:
        return sorted((self.tmp / "cdi").glob("*.json")) if (self.tmp / "cdi").exists() else []

    def checkpoint(self) -> dict:
        data = json.loads((self.tmp / "plugins" / DRIVER / "checkpoint.json").read_text())
        return data["data"]["preparedClaims"]

    def http(self, path: str) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.driver.probes.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def close(self) -> None:
        self.kubelet.close()
        self.driver.stop()


@pytest.fixture
def harness(tmp_path, api):
    h = Harness(tmp_path, api)
    yield h
    h.close()


def make(tmp_path, api, **kw) -> Harness:
    return Harness(tmp_path, api, **kw)


def test_register_publish_prepare_unprepare(harness):
    h = harness
    slices = h.api.objects("ResourceSlice")
    assert slices and all(s["spec"]["nodeName"] == NODE and s["spec"]["driver"] == DRIVER for s in slices)
    assert h.http("/readyz")[0] == 503  # not registered yet
    assert h.kubelet.register() == "v1.DRAPlugin"
    assert h.http("/readyz")[0] == 200 and h.http("/healthz")[0] == 200

    ref = h.claim("train", 1, [("gpu", "gpu-3")])
    result = h.kubelet.prepare([ref])[ref[2]]
    assert result.error == ""
    (device,) = result.devices
    assert (device.pool_name, device.device_name, list(device.request_names)) == (NODE, "gpu-3", ["gpu"])
    assert list(device.cdi_device_ids) == [f"k8s.gpu.nvidia.com/claim={ref[2]}-gpu-3"]
    (spec_file,) = h.cdi_files()
    spec = json.loads(spec_file.read_text())
    assert spec["devices"][0]["containerEdits"]["deviceNodes"] == [{"path": "/dev/nvidia3"}]
    assert h.checkpoint()[ref[2]]["state"] == "PrepareCompleted"

    # Idempotent: same answer, no new claim fetch, no new checkpoint write.
    gets = len(h.api.requests("GET"))
    writes = h.driver.state.checkpoint_writes
    again = h.kubelet.prepare([ref])[ref[2]]
    assert again.devices == result.devices
    assert len(h.api.requests("GET")) == gets and h.driver.state.checkpoint_writes == writes

    assert h.kubelet.unprepare([ref]) == {ref[2]: ""}
    assert h.cdi_files() == [] and h.checkpoint() == {}
    assert h.kubelet.unprepare([ref]) == {ref[2]: ""}  # idempotent

    status, metrics = h.http("/metrics")
    assert status == 200
    assert 'dra_gpu_plugin_requests_total{api_version="v1",driver="gpu.nvidia.com",operation="prepare"} 2.0' in metrics
    assert "dra_gpu_plugin_request_duration_seconds_bucket" in metrics


def test_v1beta1_only_kubelet(harness):
    kubelet = KubeletStandIn(harness.tmp / "registry", supported=("v1beta1.DRAPlugin",))
    assert kubelet.register() == "v1beta1.DRAPlugin"
    ref = harness.claim("c", 2, [("gpu", "gpu-0")])
    assert kubelet.prepare([ref])[ref[2]].devices[0].device_name == "gpu-0"
    kubelet.close()


def test_bad_claims_get_their_own_errors_and_leave_nothing(harness):
    h = harness
    h.kubelet.register()
    good = h.claim("good", "good", [("gpu", "gpu-0")])
    other_node = h.claim("other-node", "n", [("gpu", "gpu-1")], pool="node-b")
    other_driver = h.claim("other-driver", "d", [("gpu", "gpu-1")], driver="other.example.com")
    unknown_dev = h.claim("unknown-device", "u", [("gpu", "gpu-42")])
    bad_config = h.claim("bad-config", "b", [("gpu", "gpu-1")], configs=[opaque_config(
        {"apiVersion": CFG, "kind": "GpuConfig", "sharing": {"strategy": "TimeSlicing", "timeSlicingConfig": {"interval": "Short", "intervall": 1}}})])
    wrong_kind = h.claim("wrong-kind", "k", [("gpu", "gpu-1")], configs=[opaque_config(
        {"apiVersion": CFG, "kind": "MigDeviceConfig"})])
    unallocated = ("default", "pending", uid("p"))
    claim = allocated_claim("pending", uid("p"), [("gpu", "gpu-1")], pool=NODE)
    del claim["status"]
    h.api.put_object(claim)
    missing = ("default", "missing", uid("m"))
    replaced = ("default", "good", uid("other-uid"))
    traversal = ("default", "evil", "../../etc/passwd")

    refs = [good, other_node, other_driver, unknown_dev, bad_config, wrong_kind, unallocated, missing, replaced, traversal]
    results = h.kubelet.prepare(refs)
    assert set(results) == {r[2] for r in refs}
    assert results[good[2]].error == "" and results[good[2]].devices
    expected = {
        other_node: "is in pool 'node-b', not in this node's pool 'node-a'",
        other_driver: "no device allocated by driver gpu.nvidia.com",
        unknown_dev: "device gpu-42 is not published by this node",
        bad_config: "timeSlicingConfig.intervall: unknown field",
        wrong_kind: "cannot apply MigDeviceConfig to device gpu-1",
        unallocated: "not allocated",
        missing: "not found",
        replaced: "the claim was replaced",
        traversal: "invalid claim UID",
    }
    for ref, text in expected.items():
        assert text in results[ref[2]].error, (ref, results[ref[2]].error)
        assert results[ref[2]].error.startswith(f"claim {ref[0]}/{ref[1]}")
        assert "\n" not in results[ref[2]].error
    assert [p.name for p in h.cdi_files()] == [f"k8s.gpu.nvidia.com-claim_{good[2]}.json"]
    assert set(h.checkpoint()) == {good[2]}
    assert not list((h.tmp).rglob("passwd"))
    assert h.kubelet.unprepare([traversal])[traversal[2]].startswith("claim default/evil: invalid claim UID")
    status, metrics = h.http("/metrics")
    assert 'error_type="wrong_node"' in metrics and 'error_type="config"' in metrics


def test_device_held_by_another_claim_is_refused(harness):
    h = harness
    h.kubelet.register()
    a = h.claim("a", "a", [("gpu", "gpu-5")])
    b = h.claim("b", "b", [("gpu", "gpu-5")])
    assert h.kubelet.prepare([a])[a[2]].error == ""
    err = h.kubelet.prepare([b])[b[2]].error
    assert "device gpu-5 is already prepared for claim default/a" in err
    h.kubelet.unprepare([a])
    assert h.kubelet.prepare([b])[b[2]].error == ""


def test_hundred_concurrent_prepares(tmp_path, api):
    h = make(tmp_path, api, mode="shared")
    try:
        h.kubelet.register()
        refs = [h.claim(f"c{i}", i, [("gpu", f"gpu-{i % 8}")], share_ids=[uid(f"share-{i}")]) for i in range(100)]
        with ThreadPoolExecutor(100) as pool:
            results = list(pool.map(lambda r: h.kubelet.prepare([r])[r[2]], refs))
        assert [r.error for r in results] == [""] * 100
        assert len({r.devices[0].cdi_device_ids[0] for r in results}) == 100
        assert results[0].devices[0].share_id == uid("share-0")
        assert len(h.cdi_files()) == 100
        assert {v["state"] for v in h.checkpoint().values()} == {"PrepareCompleted"} and len(h.checkpoint()) == 100
        # Two phases per claim, but concurrent claims share checkpoint writes.
        assert h.driver.state.checkpoint_writes <= 200
        with ThreadPoolExecutor(100) as pool:
            errors = list(pool.map(lambda r: h.kubelet.unprepare([r])[r[2]], refs))
        assert errors == [""] * 100 and h.cdi_files() == [] and h.checkpoint() == {}
    finally:
        h.close()


def test_sharing_configs_are_applied_and_undone(harness):
    h = harness
    h.kubelet.register()
    backend = h.driver.backend
    ts = h.claim("ts", "ts", [("gpu", "gpu-1")], configs=[
        opaque_config({"apiVersion": CFG, "kind": "GpuConfig", "sharing": {"strategy": "TimeSlicing",
                       "timeSlicingConfig": {"interval": "Long"}}}, source="FromClass"),
    ])
    gpu1 = h.driver.catalog.get("gpu-1").gpu_uuid
    assert h.kubelet.prepare([ts])[ts[2]].error == ""
    assert backend.time_slice(gpu1) == "Long"
    mps = h.claim("mps", "mps", [("a", "gpu-2"), ("b", "gpu-3")], configs=[
        opaque_config({"apiVersion": CFG, "kind": "GpuConfig", "sharing": {"strategy": "TimeSlicing"}}, source="FromClass"),
        opaque_config({"apiVersion": CFG, "kind": "GpuConfig", "sharing": {"strategy": "MPS", "mpsConfig": {
            "defaultActiveThreadPercentage": 40, "defaultPinnedDeviceMemoryLimit": "10Gi",
            "defaultPerDevicePinnedMemoryLimit": {"3": "5Gi"}}}}),
    ])
    assert h.kubelet.prepare([mps])[mps[2]].error == ""
    (daemon,) = backend.mps_daemons().values()
    gpu2, gpu3 = (h.driver.catalog.get(n).gpu_uuid for n in ("gpu-2", "gpu-3"))
    assert daemon["activeThreadPercentage"] == 40
    assert daemon["pinnedMemoryLimits"] == {gpu2: 10 << 30, gpu3: 5 << 30}
    assert backend.time_slice(gpu2) == "Default"  # the claim's own config won over the class's
    spec = json.loads((h.tmp / "cdi" / f"k8s.gpu.nvidia.com-claim_{mps[2]}.json").read_text())
    assert all("CUDA_MPS_PIPE_DIRECTORY=/tmp/nvidia-mps" in d["containerEdits"]["env"] for d in spec["devices"])
    h.kubelet.unprepare([ts, mps])
    assert backend.time_slice(gpu1) == "Default" and backend.mps_daemons() == {}


def test_dynamic_mig_created_at_prepare_and_destroyed_at_unprepare(tmp_path, api):
    h = make(tmp_path, api, mode="dynamic-mig")
    try:
        h.kubelet.register()
        names = [n for n in h.driver.catalog.names() if n.startswith("gpu-0-mig-")]
        big = next(n for n in names if "-mig-7g" in n)
        small = next(n for n in names if "-mig-1g" in n and n.endswith("-0"))
        a = h.claim("a", "a", [("mig", small)], device_class="mig.nvidia.com")
        res = h.kubelet.prepare([a])[a[2]]
        assert res.error == ""
        (inst,) = h.driver.backend.list_mig()
        assert inst.placement_start == 0
        assert h.checkpoint()[a[2]]["devices"][0]["uuid"] == inst.uuid
        # The full-GPU profile overlaps: the hardware refuses, the claim fails, nothing is left.
        b = h.claim("b", "b", [("mig", big)], device_class="mig.nvidia.com")
        err = h.kubelet.prepare([b])[b[2]].error
        assert "overlaps" in err
        assert len(h.driver.backend.list_mig()) == 1 and set(h.checkpoint()) == {a[2]}
        assert len(h.cdi_files()) == 1
        h.kubelet.unprepare([a])
        assert h.driver.backend.list_mig() == []
        assert h.kubelet.prepare([b])[b[2]].error == ""
    finally:
        h.close()


def test_health_events_taint_and_recover(harness):
    h = harness
    gpu = h.driver.catalog.get("gpu-2").gpu_uuid

    def taints():
        out = {}
        for s in h.api.objects("ResourceSlice"):
            for d in s["spec"].get("devices") or ():
                if d.get("taints"):
                    out[d["name"]] = [(t["key"], t.get("value"), t["effect"]) for t in d["taints"]]
        return out

    assert taints() == {}
    h.driver.backend.inject(HealthEvent(gpu, "xid", 79))
    assert h.driver.monitor.wait_change(0, 5) == 1
    assert _eventually(lambda: taints() == {"gpu-2": [("gpu.nvidia.com/xid", "79", "NoSchedule")]})
    h.driver.backend.inject(HealthEvent(gpu, "recovered"))
    assert h.driver.monitor.wait_change(1, 5) == 2
    assert _eventually(lambda: taints() == {})


def _eventually(check, timeout: float = 5.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def test_static_mig_devices_are_prepared_without_creating_anything(tmp_path, api):
    h = make(tmp_path, api, mode="static-mig", profile="dgx-h100-mig")
    try:
        h.kubelet.register()
        name = next(n for n in h.driver.catalog.names() if "-mig-" in n)
        spec = h.driver.catalog.get(name)
        assert spec.uuid and spec.uuid.startswith("MIG-") and not spec.dynamic_mig
        ref = h.claim("m", "m", [("mig", name)], device_class="mig.nvidia.com")
        res = h.kubelet.prepare([ref])[ref[2]]
        assert res.error == "" and res.devices[0].device_name == name
        cdi = json.loads(h.cdi_files()[0].read_text())
        assert {"path": f"/dev/nvidia{spec.gpu_minor}"} in cdi["devices"][0]["containerEdits"]["deviceNodes"]
        assert h.driver.backend.list_mig() == [] and h.driver.backend.operations == []
        assert h.checkpoint()[ref[2]]["devices"][0]["uuid"] == spec.uuid
        assert h.kubelet.unprepare([ref]) == {ref[2]: ""}
        assert h.driver.backend.operations == []
    finally:
        h.close()


def test_api_trouble_never_stops_the_plugin(tmp_path, api):
    # RBAC not there yet: the first slice writes are forbidden; the plugin serves anyway and
    # keeps retrying in the background until the slices are published.
    api.faults.add(method="POST", path="resourceslices", status=403, times=2)
    h = make(tmp_path, api)
    try:
        h.kubelet.register()
        assert api.objects("ResourceSlice") == []
        status, body = h.http("/readyz")
        assert status == 503 and "starting" in body
        assert _eventually(lambda: bool(api.objects("ResourceSlice")), timeout=15)
        assert _eventually(lambda: h.http("/readyz")[0] == 200)
        _, metrics = h.http("/metrics")
        assert 'dra_gpu_plugin_slice_publishes_total{driver="gpu.nvidia.com",result="error"}' in metrics
        # A failing claim GET is that claim's error, with its own error type.
        ref = h.claim("c", "api-err", [("gpu", "gpu-0")])
        api.faults.add(method="GET", path="resourceclaims", status=500, times=1)
        err = h.kubelet.prepare([ref])[ref[2]].error
        assert err.startswith("claim default/c: fetching it failed: 500")
        assert h.kubelet.prepare([ref])[ref[2]].error == ""  # the kubelet's retry works
    finally:
        h.close()


def _instance(tmp_path, api, pod_uid: str, mode: str) -> Harness:
    """One plugin pod with rolling-update (pod-UID) sockets, sharing the node's directories."""
    h = Harness.__new__(Harness)
    h.tmp, h.api = tmp_path, api
    h.config = DriverConfig(
        node_name=NODE, driver_name=DRIVER, profile="dgx-h100", mode=mode,
        registrar_dir=tmp_path / "registry", plugins_dir=tmp_path / "plugins", cdi_root=tmp_path / "cdi",
        http_port=None, boot_id="boot-1", pod_uid=pod_uid,
    )
    h.driver = Driver(h.config, api_client=api.api_client())
    h.driver.start()
    h.kubelet = KubeletStandIn(tmp_path / "registry")
    h.kubelet.register(pattern=f"*-{pod_uid}-reg.sock")
    return h


def test_rolling_update_instances_see_each_others_devices(tmp_path, api):
    old, new = _instance(tmp_path, api, "old", "whole"), _instance(tmp_path, api, "new", "whole")
    try:
        a = old.claim("a", "a", [("gpu", "gpu-3")])
        b = new.claim("b", "b", [("gpu", "gpu-3")])
        assert old.kubelet.prepare([a])[a[2]].error == ""
        assert "device gpu-3 is already prepared for claim default/a" in new.kubelet.prepare([b])[b[2]].error
        assert new.kubelet.unprepare([a]) == {a[2]: ""}
        assert old.kubelet.prepare([b])[b[2]].error == ""
    finally:
        new.close()
        old.close()


def test_rolling_update_two_instances_share_the_node(tmp_path, api):
    """Old and new plugin pods side by side (pod-UID sockets): one consistent view of claims."""

    old, new = _instance(tmp_path, api, "old", "shared"), _instance(tmp_path, api, "new", "shared")
    try:
        assert old.driver.layout.dra_socket != new.driver.layout.dra_socket
        x = old.claim("x", "x", [("gpu", "gpu-1")], share_ids=[uid("sx")])
        first = old.kubelet.prepare([x])[x[2]]
        assert first.error == ""
        gets = len(api.requests("GET"))
        assert new.kubelet.prepare([x])[x[2]].devices == first.devices  # known to the new pod
        assert len(api.requests("GET")) == gets  # answered from the shared checkpoint
        assert new.kubelet.unprepare([x]) == {x[2]: ""}
        assert old.cdi_files() == []
        # Claims spread over both pods at once: all prepared, one checkpoint holds them all.
        refs = [old.claim(f"c{i}", f"rc{i}", [("gpu", f"gpu-{i % 8}")], share_ids=[uid(f"s{i}")]) for i in range(20)]
        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(lambda i: (old if i % 2 else new).kubelet.prepare([refs[i]])[refs[i][2]], range(20)))
        assert [r.error for r in results] == [""] * 20
        assert len(old.checkpoint()) == 20 and len(old.cdi_files()) == 20
        with ThreadPoolExecutor(20) as pool:
            errors = list(pool.map(lambda i: (new if i % 2 else old).kubelet.unprepare([refs[i]])[refs[i][2]], range(20)))
        assert errors == [""] * 20 and old.checkpoint() == {} and old.cdi_files() == []
    finally:
        new.close()
        old.close()
    assert (tmp_path / "plugins" / DRIVER / "serialize.lock").exists()
