"""KEP-5304 device metadata files: written at prepare, mounted through CDI, removed at unprepare."""

from __future__ import annotations

import json
from types import SimpleNamespace as NS

from dra.plugin.builtin_backend import BuiltinBackend
from dra.plugin.cdi import CdiWriter
from dra.plugin.checkpoint import CheckpointFile
from dra.plugin.metadata import API_VERSION, DeviceMetadataWriter
from dra.plugin.recovery import recover
from dra.plugin.state import DeviceState
from dra.plugin.types import ClaimRef
from test_plugin_state import DRIVER, GPUS, POOL, catalog

ATTRS = {"gpu-0": {"uuid": {"string": GPUS[0]}, "index": {"int": 0}, "driverVersion": {"version": "580.95.5"}},
         "gpu-1": {"uuid": {"string": GPUS[1]}, "index": {"int": 1}}}


def _state(tmp_path):
    return DeviceState(
        driver=DRIVER, pool=POOL, catalog=catalog(), fetcher=None,
        backend=BuiltinBackend(tmp_path / "state", GPUS), cdi=CdiWriter(tmp_path / "cdi", DRIVER),
        checkpoint=CheckpointFile(tmp_path / "state" / "checkpoint.json", boot_id="b"),
        metadata=DeviceMetadataWriter(tmp_path / "state", DRIVER, ATTRS))


class Fetcher:
    def __init__(self, claim):
        self.claim = claim

    def get(self, ref):
        return self.claim


def _claim(uid, annotations=None):
    results = [NS(request="train/big", driver=DRIVER, pool=POOL, device="gpu-0", share_id=None, admin_access=None),
               NS(request="infer", driver=DRIVER, pool=POOL, device="gpu-1", share_id=None, admin_access=None)]
    return NS(metadata=NS(namespace="ns", name="c", uid=uid, annotations=annotations),
              status=NS(allocation=NS(devices=NS(results=results, config=None))))


def test_files_mounts_and_cleanup(tmp_path):
    state = _state(tmp_path)
    state.fetcher = Fetcher(_claim("uid-1", {"resource.kubernetes.io/pod-claim-name": "gpus"}))
    out = state.prepare([ClaimRef("ns", "c", "uid-1")])["uid-1"]
    assert out.error == ""
    host = tmp_path / "state" / "dra-device-metadata" / "ns_c" / "train" / "metadata.json"
    doc = json.loads(host.read_text())
    assert doc["apiVersion"] == API_VERSION and doc["kind"] == "DeviceMetadata"
    assert doc["metadata"] == {"name": "c", "namespace": "ns", "uid": "uid-1", "generation": 1}
    assert doc["podClaimName"] == "gpus"
    # the file path uses the top-level request; the JSON names request/subrequest
    assert doc["requests"] == [{"name": "train/big", "devices": [
        {"driver": DRIVER, "pool": POOL, "name": "gpu-0", "attributes": ATTRS["gpu-0"]}]}]
    ids = {d.device_name: list(d.cdi_device_ids) for d in out.devices}
    assert ids["gpu-0"] == ["k8s.gpu.nvidia.com/claim=uid-1-gpu-0", "k8s.gpu.nvidia.com/claim=uid-1-metadata-train"]
    spec = json.loads(state.cdi.spec_path("uid-1").read_text())
    meta = {d["name"]: d["containerEdits"]["mounts"][0] for d in spec["devices"] if "-metadata-" in d["name"]}
    assert meta["uid-1-metadata-train"] == {
        "hostPath": str(host),
        "containerPath": "/var/run/kubernetes.io/dra-device-attributes/resourceclaimtemplates/gpus/train/"
                         "gpu.nvidia.com-metadata.json",
        "options": ["ro", "nosuid", "nodev", "bind"]}
    assert state.unprepare([ClaimRef("ns", "c", "uid-1")])["uid-1"].error == ""
    assert not (tmp_path / "state" / "dra-device-metadata" / "ns_c").exists()


def test_direct_claim_path_and_stale_removal(tmp_path):
    state = _state(tmp_path)
    state.fetcher = Fetcher(_claim("uid-2"))
    out = state.prepare([ClaimRef("ns", "c", "uid-2")])["uid-2"]
    spec = json.loads(state.cdi.spec_path("uid-2").read_text())
    paths = sorted(d["containerEdits"]["mounts"][0]["containerPath"] for d in spec["devices"] if "-metadata-" in d["name"])
    assert paths == [f"/var/run/kubernetes.io/dra-device-attributes/resourceclaims/c/{r}/gpu.nvidia.com-metadata.json"
                     for r in ("infer", "train")]
    assert out.error == ""
    stale = tmp_path / "state" / "dra-device-metadata" / "ns_gone" / "r"
    stale.mkdir(parents=True)
    restarted = _state(tmp_path)
    recover(restarted, dynamic_mig=False)
    assert not stale.parent.exists() and (tmp_path / "state" / "dra-device-metadata" / "ns_c").is_dir()
