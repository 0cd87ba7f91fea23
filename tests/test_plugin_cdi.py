"""Per-claim CDI specs: names, contents, versions, atomic replacement."""

from __future__ import annotations

import json

import pytest

from dra.plugin.backend import MpsDaemon
from dra.plugin.cdi import ANNOTATION_DEVICES, CdiDevice, CdiWriter, ContainerEdits, minimum_version
from dra.plugin.edits import common_edits, gpu_edits, mig_edits, mps_edits

UID = "0b5e3c6a-7f1e-4c1a-9b7e-2f1f4c2a9d10"


def test_names_and_paths(tmp_path):
    cdi = CdiWriter(tmp_path, "gpu.nvidia.com")
    assert cdi.kind == "k8s.gpu.nvidia.com/claim"
    name = cdi.device_name(UID, "gpu-0")
    assert cdi.qualified(name) == f"k8s.gpu.nvidia.com/claim={UID}-gpu-0"
    assert cdi.spec_path(UID).name == f"k8s.gpu.nvidia.com-claim_{UID}.json"
    with pytest.raises(ValueError):
        cdi.device_name("bad/uid", "gpu-0")


def test_spec_contents_and_round_trip(tmp_path):
    cdi = CdiWriter(tmp_path, "gpu.nvidia.com")
    devices = [CdiDevice(cdi.device_name(UID, "gpu-3"), gpu_edits(3))]
    records = [{"device": "gpu-3", "cdiDeviceIDs": [cdi.qualified(devices[0].name)]}]
    spec = cdi.build_spec("ns/c", UID, devices, common_edits(), records)
    path = cdi.write(UID, spec)
    on_disk = json.loads(path.read_text())
    assert on_disk["kind"] == "k8s.gpu.nvidia.com/claim"
    assert on_disk["cdiVersion"] == "0.6.0"  # annotations are the newest field used
    assert on_disk["devices"] == [{"name": f"{UID}-gpu-3", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia3"}]}}]
    assert "NVIDIA_VISIBLE_DEVICES=void" in on_disk["containerEdits"]["env"]
    assert json.loads(on_disk["annotations"][ANNOTATION_DEVICES]) == records
    assert cdi.claim_specs() == {UID: path}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert cdi.remove(UID) and not path.exists()
    assert not cdi.remove(UID)  # idempotent


def test_minimum_version():
    base = {"kind": "a/b", "devices": [{"name": "x", "containerEdits": {}}]}
    assert minimum_version(base) == "0.3.0"
    assert minimum_version({**base, "containerEdits": {"mounts": [{"hostPath": "/a", "containerPath": "/b", "type": "bind"}]}}) == "0.4.0"
    assert minimum_version({**base, "containerEdits": {"deviceNodes": [{"path": "/d", "hostPath": "/h"}]}}) == "0.5.0"
    assert minimum_version({**base, "annotations": {"a": "b"}}) == "0.6.0"
    assert minimum_version({**base, "containerEdits": {"additionalGids": [5]}}) == "0.7.0"
    assert minimum_version({**base, "containerEdits": {"netDevices": [{"hostInterfaceName": "e", "name": "n"}]}}) == "1.1.0"


def test_mig_edits_use_capability_table(tmp_path):
    table = tmp_path / "mig-minors"
    table.write_text("config 1\nmonitor 2\ngpu0/gi1/access 12\ngpu0/gi1/ci0/access 13\n")
    edits = mig_edits(0, 1, 0, table)
    assert [n["path"] for n in edits.device_nodes] == [
        "/dev/nvidia0", "/dev/nvidia-caps/nvidia-cap12", "/dev/nvidia-caps/nvidia-cap13",
    ]
    assert [n["path"] for n in mig_edits(0, 1, 0, tmp_path / "absent").device_nodes] == ["/dev/nvidia0"]


def test_mps_edits_and_merge():
    edits = gpu_edits(0)
    edits.extend(mps_edits(MpsDaemon("d", "/s/pipe", "/s/log", "/s/shm")))
    edits.extend(mps_edits(MpsDaemon("d", "/s/pipe", "/s/log", "/s/shm")))  # no duplicates
    out = edits.to_json()
    assert out["env"] == ["CUDA_MPS_PIPE_DIRECTORY=/tmp/nvidia-mps"]
    assert [m["containerPath"] for m in out["mounts"]] == ["/tmp/nvidia-mps", "/dev/shm"]
    assert ContainerEdits().to_json() == {}
