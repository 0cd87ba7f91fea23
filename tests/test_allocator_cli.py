"""``dra allocate``: allocations as YAML, failures explained in words, bad input exit 2."""

from __future__ import annotations

from pathlib import Path

import yaml


from dra.cli import main

DRIVER = "gpu.nvidia.com"


def _gpu(i: int, domain: str, healthy: bool = True) -> dict:
    dev = {
        "name": f"gpu-{i}",
        "attributes": {"type": {"string": "gpu"}, "nvlinkDomain": {"string": domain},
                       "productName": {"string": "NVIDIA H100 80GB HBM3"}},
        "capacity": {"memory": {"value": "80Gi"}},
    }
    if not healthy:
        dev["taints"] = [{"key": f"{DRIVER}/xid", "value": "79", "effect": "NoSchedule"}]
    return dev


BASE = [
    {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "gpu.nvidia.com"},
     "spec": {"selectors": [{"cel": {"expression": f"device.driver == '{DRIVER}' && "
                                                   f"device.attributes['{DRIVER}'].type == 'gpu'"}}]}},
    {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": {"name": "node-1-gpus"},
     "spec": {"driver": DRIVER, "nodeName": "node-1",
              "pool": {"name": "node-1", "generation": 1, "resourceSliceCount": 1},
              "devices": [_gpu(i, f"domain-{i // 4}", healthy=i != 3) for i in range(8)]}},
]


def _claim(name: str, count: int, *, selectors=None, constraints=None, cls="gpu.nvidia.com") -> dict:
    exactly = {"deviceClassName": cls, "allocationMode": "ExactCount", "count": count}
    if selectors:
        exactly["selectors"] = [{"cel": {"expression": e}} for e in selectors]
    devices: dict = {"requests": [{"name": "gpus", "exactly": exactly}]}
    if constraints:
        devices["constraints"] = constraints
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
            "metadata": {"name": name, "namespace": "team-a"}, "spec": {"devices": devices}}


def _write(tmp_path: Path, *docs: dict) -> Path:
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all([*BASE, *docs], sort_keys=False))
    return path


def test_allocates_and_prints_claims_with_status(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, _claim("train", 4, constraints=[
        {"matchAttribute": f"{DRIVER}/nvlinkDomain", "requests": ["gpus"]}]))
    assert main(["allocate", "-f", str(path), "--node", "node-1"]) == 0
    (doc,) = list(yaml.safe_load_all(capsys.readouterr().out))
    results = doc["status"]["allocation"]["devices"]["results"]
    # gpu-3 is tainted (DeviceTaints is switched on because the inputs use taints), so
    # the first NVLink domain has only three usable GPUs: the second domain is chosen.
    assert [r["device"] for r in results] == ["gpu-4", "gpu-5", "gpu-6", "gpu-7"]
    assert doc["status"]["allocation"]["nodeSelector"]["nodeSelectorTerms"][0]["matchFields"][0]["values"] == ["node-1"]


def test_claims_are_allocated_one_after_another(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, _claim("a", 3), _claim("b", 3), _claim("c", 2))
    assert main(["allocate", "-f", str(path)]) == 1
    out = capsys.readouterr().out
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert [d["metadata"]["name"] for d in docs] == ["a", "b"]
    assert "# cannot allocate claim team-a/c" in out
    assert "already allocated to another claim" in out


def test_failure_is_explained_per_request(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, _claim("big", 2, selectors=[
        f"device.attributes['{DRIVER}'].productName == 'NVIDIA B200'"]))
    assert main(["allocate", "-f", str(path), "--node", "node-1"]) == 1
    out = capsys.readouterr().out
    assert "claim team-a/big: cannot be allocated" in out
    assert "request gpus (class gpu.nvidia.com): needs 2 devices; 0 of 8 devices on the node qualify" in out
    assert "8 ruled out: request selector #0" in out
    assert "nearest miss: gpu.nvidia.com/node-1/gpu-0" in out


def test_taint_and_constraint_are_named(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, _claim("wide", 5, constraints=[
        {"matchAttribute": f"{DRIVER}/nvlinkDomain"}]))
    assert main(["allocate", "-f", str(path), "--node", "node-1"]) == 1
    out = capsys.readouterr().out
    assert f"1 ruled out: taint {DRIVER}/xid=79:NoSchedule is not tolerated" in out
    assert f"constraint matchAttribute {DRIVER}/nvlinkDomain: no single value offers enough devices" in out
    assert "domain-0: gpus 3/5" in out and "domain-1: gpus 4/5" in out


def test_unknown_class_is_bad_input(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, _claim("x", 1, cls="no-such-class"))
    assert main(["allocate", "-f", str(path), "--node", "node-1"]) == 2
    err = capsys.readouterr().err
    assert "error: claim team-a/x, request gpus: could not retrieve device class no-such-class" in err


def test_invalid_selector_names_claim_and_request(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, _claim("x", 1, selectors=["device.attributes['gpu.nvidia.com'].type =="]))
    assert main(["allocate", "-f", str(path), "--node", "node-1"]) == 2
    err = capsys.readouterr().err
    assert "claim team-a/x: selector #0: CEL compile error" in err and "(request gpus)" in err


def test_claim_beyond_limits_is_bad_input(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, _claim("huge", 33))
    assert main(["allocate", "-f", str(path), "--node", "node-1"]) == 2
    err = capsys.readouterr().err
    assert "claim team-a/huge: number of requested devices 33 exceeds the claim limit of 32" in err
    assert "(request gpus: 33)" in err


def test_json_output_and_explicit_features(tmp_path: Path, capsys) -> None:
    import json

    path = _write(tmp_path, _claim("one", 1))
    # Without DeviceTaints the tainted gpu-3 is usable like any other.
    assert main(["allocate", "-f", str(path), "--node", "node-1", "--features", "AdminAccess", "-o", "json"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)["items"]  # a v1 List, as kubectl prints
    assert doc["status"]["allocation"]["devices"]["results"][0]["device"] == "gpu-0"


def test_unknown_feature_is_bad_input(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, _claim("one", 1))
    assert main(["allocate", "-f", str(path), "--features", "NoSuchThing"]) == 2
    assert "unknown feature 'NoSuchThing'" in capsys.readouterr().err


def test_templates_stand_for_their_claims(tmp_path: Path, capsys) -> None:
    claim = _claim("unused", 2)
    template = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaimTemplate",
                "metadata": {"name": "two-gpus", "namespace": "team-b"},
                "spec": {"spec": claim["spec"]}}
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all([*BASE, template], sort_keys=False))
    assert main(["allocate", "-f", str(path)]) == 0
    (doc,) = list(yaml.safe_load_all(capsys.readouterr().out))
    assert doc["metadata"] == {"name": "two-gpus", "namespace": "team-b"}
    assert len(doc["status"]["allocation"]["devices"]["results"]) == 2


def test_nothing_to_allocate_is_bad_input(tmp_path: Path, capsys) -> None:
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all(BASE, sort_keys=False))
    assert main(["allocate", "-f", str(path)]) == 2
    assert "nothing to allocate" in capsys.readouterr().err


def test_allocated_claims_make_their_devices_busy(tmp_path: Path, capsys) -> None:
    import json

    path = _write(tmp_path, _claim("first", 7))
    assert main(["allocate", "-f", str(path), "--node", "node-1", "--features", "AdminAccess", "-o", "json"]) == 0
    (done,) = json.loads(capsys.readouterr().out)["items"]
    previous = tmp_path / "allocated.yaml"
    previous.write_text(yaml.safe_dump(done))
    again = _write(tmp_path, _claim("second", 2))
    code = main(["allocate", "-f", str(again), "--node", "node-1", "--features", "AdminAccess",
                 "--allocated", str(previous), "-o", "json"])
    captured = capsys.readouterr()
    assert code == 1
    assert json.loads(captured.out) == {"apiVersion": "v1", "kind": "List", "items": []}
    assert "7 ruled out: already allocated to another claim" in captured.err


def test_invalid_pool_on_one_node_does_not_stop_other_nodes(tmp_path: Path, capsys) -> None:
    # Each slice passes API validation; the pool repeats a device name across its two slices.
    broken = [{"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": {"name": f"node-0-gpus-{k}"},
               "spec": {"driver": DRIVER, "nodeName": "node-0",
                        "pool": {"name": "node-0", "generation": 1, "resourceSliceCount": 2},
                        "devices": [_gpu(0, "x")]}} for k in range(2)]  # duplicate device name
    path = _write(tmp_path, *broken, _claim("one", 1))
    assert main(["allocate", "-f", str(path)]) == 0
    (doc,) = list(yaml.safe_load_all(capsys.readouterr().out))
    assert doc["status"]["allocation"]["devices"]["results"][0]["pool"] == "node-1"
    path = _write(tmp_path, *broken, _claim("one", 1))
    assert main(["allocate", "-f", str(path), "--node", "node-0"]) == 1
    assert "pool gpu.nvidia.com/node-0 is invalid (duplicate device name gpu-0)" in capsys.readouterr().out
