"""``dra allocate --kubernetes-version/--feature-gates`` and Pods with extended resources."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dra.cli import main

DRIVER = "gpu.nvidia.com"


def _slice(name: str, pool: str, devices: list[str], node: str = "node-1") -> dict:
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": {"name": name},
            "spec": {"driver": DRIVER, "nodeName": node,
                     "pool": {"name": pool, "generation": 1, "resourceSliceCount": 1},
                     "devices": [{"name": d} for d in devices]}}


CLASS = {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "gpu.nvidia.com"},
         "spec": {"selectors": [{"cel": {"expression": f"device.driver == '{DRIVER}'"}}],
                  "extendedResourceName": "nvidia.com/gpu"}}


def _claim(name: str, count: int) -> dict:
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"devices": {"requests": [{"name": "gpus", "exactly": {
                "deviceClassName": "gpu.nvidia.com", "allocationMode": "ExactCount", "count": count}}]}}}


def _pod(name: str, gpus: int, *, init_gpus: int = 0) -> dict:
    pod: dict = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                 "spec": {"containers": [
                     {"name": "main", "image": "cuda", "resources": {
                         "requests": {"cpu": "1", "nvidia.com/gpu": str(gpus)},
                         "limits": {"nvidia.com/gpu": str(gpus)}}}]}}
    if init_gpus:
        pod["spec"]["initContainers"] = [{"name": "warmup", "image": "cuda", "resources": {
            "limits": {"nvidia.com/gpu": str(init_gpus)}}}]
    return pod


def _write(tmp_path: Path, *docs: dict) -> Path:
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))
    return path


def _devices(out: str) -> list[tuple[str, str]]:
    (doc,) = list(yaml.safe_load_all(out))
    return [(r["pool"], r["device"]) for r in doc["status"]["allocation"]["devices"]["results"]]


def test_1_36_orders_pools_and_slices_by_name_1_35_keeps_input_order(tmp_path: Path, capsys) -> None:
    # Input order: pool "b" first. 1.36+ incubating sorts pools by (driver, pool): "a" wins.
    path = _write(tmp_path, CLASS, _slice("s-2", "b", ["gpu-0"]), _slice("s-1", "a", ["gpu-0"]), _claim("c", 1))
    assert main(["allocate", "-f", str(path), "--node", "node-1", "--kubernetes-version", "1.37"]) == 0
    captured = capsys.readouterr()
    assert _devices(captured.out) == [("a", "gpu-0")]
    assert "kubernetes 1.37, incubating allocator" in captured.err
    assert main(["allocate", "-f", str(path), "--node", "node-1", "--kubernetes-version", "1.35"]) == 0
    captured = capsys.readouterr()
    assert "kubernetes 1.35, incubating allocator" in captured.err
    # 1.35 iterates pools in Go map order; ours keeps input order, so "b" comes first.
    assert _devices(captured.out) == [("b", "gpu-0")]


def test_feature_gates_pick_the_variant(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, CLASS, _slice("s-1", "a", ["gpu-0"]), _claim("c", 1))
    assert main(["allocate", "-f", str(path), "--node", "node-1", "--kubernetes-version", "1.36",
                 "--feature-gates", "DRAConsumableCapacity=false,DRADeviceBindingConditions=false"]) == 0
    assert "kubernetes 1.36, stable allocator" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--kubernetes-version", "1.33"], ["--feature-gates", "NoSuchGate=true"],
                                  ["--feature-gates", "DRAAdminAccess"]])
def test_bad_version_or_gates_is_one_line_exit_2(tmp_path: Path, capsys, args: list[str]) -> None:
    path = _write(tmp_path, CLASS, _slice("s-1", "a", ["gpu-0"]), _claim("c", 1))
    assert main(["allocate", "-f", str(path), "--node", "node-1", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]


def test_pod_with_extended_resources_gets_the_scheduler_claim(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, CLASS, _slice("s-1", "a", ["gpu-0", "gpu-1", "gpu-2", "gpu-3"]),
                  _pod("train", 2, init_gpus=3))
    assert main(["allocate", "-f", str(path), "--node", "node-1"]) == 0
    (doc,) = list(yaml.safe_load_all(capsys.readouterr().out))
    assert doc["metadata"]["annotations"] == {"resource.kubernetes.io/extended-resource-claim": "true"}
    requests = doc["spec"]["devices"]["requests"]
    # init container 0 (its only request: index 0) reuses main's 2 and asks for 1 more;
    # main container 1 (requests cpu, nvidia.com/gpu: index 1) asks for 2.
    assert [r["name"] for r in requests] == ["container-0-request-0", "container-1-request-1"]
    assert [r["exactly"]["count"] for r in requests] == [1, 2]
    results = doc["status"]["allocation"]["devices"]["results"]
    assert [r["device"] for r in results] == ["gpu-0", "gpu-1", "gpu-2"]


def test_init_container_covered_by_a_later_container_adds_no_request(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, CLASS, _slice("s-1", "a", ["gpu-0", "gpu-1"]), _pod("train", 2, init_gpus=1))
    assert main(["allocate", "-f", str(path), "--node", "node-1"]) == 0
    (doc,) = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [r["name"] for r in doc["spec"]["devices"]["requests"]] == ["container-1-request-1"]


def test_extended_resources_need_the_gate(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, CLASS, _slice("s-1", "a", ["gpu-0"]), _pod("train", 1))
    assert main(["allocate", "-f", str(path), "--node", "node-1", "--kubernetes-version", "1.35"]) == 2
    assert "DRAExtendedResource" in capsys.readouterr().err


def test_extended_resource_pod_that_does_not_fit_is_explained(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, CLASS, _slice("s-1", "a", ["gpu-0"]), _pod("big", 4))
    assert main(["allocate", "-f", str(path), "--node", "node-1"]) == 1
    assert "big-extended-resources" in capsys.readouterr().out


def test_kubernetes_1_34_asks_once_per_container_and_reuses_nothing(tmp_path: Path, capsys) -> None:
    # kube-scheduler 1.34.4 createDeviceRequests: the init container's 3 and main's 2 are both
    # requested (1.35 added the reuse), in container order.
    path = _write(tmp_path, CLASS, _slice("s-1", "a", [f"gpu-{i}" for i in range(5)]), _pod("train", 2, init_gpus=3))
    assert main(["allocate", "-f", str(path), "--node", "node-1", "--kubernetes-version", "1.34",
                 "--feature-gates", "DRAExtendedResource=true"]) == 0
    (doc,) = list(yaml.safe_load_all(capsys.readouterr().out))
    requests = doc["spec"]["devices"]["requests"]
    assert [(r["name"], r["exactly"]["count"]) for r in requests] == [("container-0-request-0", 3),
                                                                      ("container-1-request-1", 2)]


def test_kubernetes_1_34_ignores_the_implicit_class_name(tmp_path: Path, capsys) -> None:
    # 1.34's IsExtendedResourceName is false in the kubernetes.io/ namespace: the scheduler binds
    # such a pod with no devices, so no claim is made for it (1.35 serves it).
    pod = _pod("train", 0)
    pod["spec"]["containers"][0]["resources"] = {"limits": {"deviceclass.resource.kubernetes.io/gpu.nvidia.com": "1"}}
    path = _write(tmp_path, CLASS, _slice("s-1", "a", ["gpu-0"]), pod)
    assert main(["allocate", "-f", str(path), "--node", "node-1", "--kubernetes-version", "1.34",
                 "--feature-gates", "DRAExtendedResource=true"]) == 0  # as 1.34: bound, no devices
    out = capsys.readouterr()
    assert list(yaml.safe_load_all(out.out)) in ([], [None])  # no claim allocated
    assert "binds the pod with no devices" in out.err and "deviceclass.resource.kubernetes.io/gpu.nvidia.com" in out.err
    assert main(["allocate", "-f", str(path), "--node", "node-1", "--kubernetes-version", "1.35",
                 "--feature-gates", "DRAExtendedResource=true"]) == 0
