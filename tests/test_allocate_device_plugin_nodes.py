"""``dra allocate``: a node that advertises an extended resource (a device plugin) serves it itself.

As the 1.37 scheduler's filterExtendedResources: DRA serves a mapped resource only on nodes
whose status.allocatable has none of it; a resource nobody maps must be in allocatable.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from dra.cli import main
from dra.commands.allocate_devplugin import plan_on_node, pod_requests
from dra.api import Node

from tests.test_allocator_cli_versions import CLASS, _pod, _slice, _write


def _node(name: str, allocatable: dict | None = None) -> dict:
    node: dict = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
    if allocatable is not None:
        node["status"] = {"allocatable": allocatable}
    return node


def _claim_nodes(out: str) -> list[str]:
    docs = [d for d in yaml.safe_load_all(out) if d]
    return [d["status"]["allocation"]["nodeSelector"]["nodeSelectorTerms"][0]["matchFields"][0]["values"][0]
            for d in docs]


def test_device_plugin_node_is_not_served_through_dra(tmp_path: Path, capsys) -> None:
    # node-1 sorts first and has DRA devices too, but its device plugin advertises nvidia.com/gpu
    path = _write(tmp_path, CLASS, _slice("s-1", "node-1", ["gpu-0", "gpu-1"]),
                  _slice("s-2", "node-2", ["gpu-0", "gpu-1"], node="node-2"),
                  _node("node-1", {"cpu": "8", "nvidia.com/gpu": "4"}), _node("node-2", {"cpu": "8"}),
                  _pod("train", 2))
    assert main(["allocate", "-f", str(path)]) == 0
    captured = capsys.readouterr()
    # the first node in name order where the pod fits: node-1, through its device plugin (no claim)
    assert _claim_nodes(captured.out) == []
    assert "nvidia.com/gpu served by the node's device plugin" in captured.err
    assert "node-1" in captured.err


def test_too_few_device_plugin_gpus_moves_the_pod_to_a_dra_node(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, CLASS, _slice("s-1", "node-1", ["gpu-0", "gpu-1"]),
                  _slice("s-2", "node-2", ["gpu-0", "gpu-1"], node="node-2"),
                  _node("node-1", {"nvidia.com/gpu": "1"}), _node("node-2", {"nvidia.com/gpu": "0"}),
                  _pod("train", 2))
    assert main(["allocate", "-f", str(path)]) == 0
    # allocatable 0 counts as "not advertised": DRA serves it on node-2
    assert _claim_nodes(capsys.readouterr().out) == ["node-2"]


def test_unmapped_resource_missing_from_allocatable_does_not_fit(tmp_path: Path, capsys) -> None:
    pod = _pod("train", 1)
    pod["spec"]["containers"][0]["resources"]["limits"]["example.com/fpga"] = "1"
    path = _write(tmp_path, CLASS, _slice("s-1", "node-1", ["gpu-0"]), _node("node-1", {"cpu": "8"}), pod)
    assert main(["allocate", "-f", str(path)]) == 1
    out = capsys.readouterr().out
    assert "cannot fit resource example.com/fpga" in out
    # with the fpga advertised by a device plugin, the GPU is served through DRA
    path = _write(tmp_path, CLASS, _slice("s-1", "node-1", ["gpu-0"]),
                  _node("node-1", {"cpu": "8", "example.com/fpga": "2"}), pod)
    assert main(["allocate", "-f", str(path)]) == 0
    (doc,) = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    assert [r["exactly"]["deviceClassName"] for r in doc["spec"]["devices"]["requests"]] == ["gpu.nvidia.com"]


def test_plan_per_node_and_pod_requests() -> None:
    pod = _pod("train", 2, init_gpus=3)
    assert pod_requests(pod) == {"nvidia.com/gpu": 3}  # max(init 3, sum of containers 2)
    mapping = {"nvidia.com/gpu": "gpu.nvidia.com"}
    bare = Node.from_dict({"metadata": {"name": "n"}})
    assert plan_on_node(pod, mapping, bare).claim is not None
    dp = Node.from_dict({"metadata": {"name": "n"}, "status": {"allocatable": {"nvidia.com/gpu": "8"}}})
    plan = plan_on_node(pod, mapping, dp)
    assert plan.claim is None and plan.device_plugin == ["nvidia.com/gpu"] and plan.unfit is None
    small = Node.from_dict({"metadata": {"name": "n"}, "status": {"allocatable": {"nvidia.com/gpu": "2"}}})
    assert "Insufficient nvidia.com/gpu" in plan_on_node(pod, mapping, small).unfit
