"""numaNode's list form and the GPU host-memory overhead follow the version and its gates."""

from __future__ import annotations

import pytest
import yaml

from dra.api import ResourceSlice
from dra.api.validation import validate
from dra.cli import main
from dra.gpu.builtin import load_profile
from dra.slices import build_slices
from dra.slices.overhead import OverheadError, format_overhead, overhead_blocker, parse_overhead
from dra.versions import KubernetesVersion

NUMA = "resource.kubernetes.io/numaNode"
OVERHEAD = "gpu.memory.perPod=256Mi,gpu.memory.perContainer=64Mi,mig.memory.perPod=128Mi"
BOTH = {"DRAListTypeAttributes": True, "DRANodeAllocatableResources": True}


def _devices(slices):
    return [d for s in slices for d in s.to_dict()["spec"].get("devices") or []]


@pytest.mark.parametrize("minor", ["1.34", "1.35", "1.36", "1.37"])
def test_defaults_publish_a_scalar_numa_node_and_no_overhead(minor: str) -> None:
    slices = build_slices(load_profile("dgx-h100", "n1"), k8s_version=minor, overheads=parse_overhead(OVERHEAD))
    devices = _devices(slices)
    assert all(d["attributes"][NUMA].keys() == {"int"} for d in devices)
    assert not any("nodeAllocatableResources" in d for d in devices)
    assert all(validate(s, k8s_version=minor) == [] for s in slices)


@pytest.mark.parametrize("mode", ["whole", "dynamic-mig", "static-mig", "shared"])
def test_gates_on_1_37_publish_list_numa_and_overhead_per_type(mode: str) -> None:
    version = KubernetesVersion.of("1.37", BOTH)
    slices = build_slices(load_profile("dgx-h100", "n1"), mode=mode, k8s_version="1.37",
                          gates=dict(version.gates), overheads=parse_overhead(OVERHEAD))
    for d in _devices(slices):
        assert d["attributes"][NUMA] == {"ints": [d["attributes"][NUMA]["ints"][0]]}
        kind = d["attributes"]["type"]["string"]
        want = ({"memory": {"overhead": {"perPod": "256Mi", "perContainer": "64Mi"}}} if kind == "gpu"
                else {"memory": {"overhead": {"perPod": "128Mi"}}})
        assert d["nodeAllocatableResources"] == want
    for s in slices:
        # accepted with the gates on, round-trips through full validation, refused with them off
        assert validate(ResourceSlice.from_dict(s.to_dict()), k8s_version=version) == []
        if s.spec.devices:
            assert any("DRANodeAllocatableResources" in e.message for e in validate(s, k8s_version="1.37"))


def test_1_36_list_gate_gives_lists_but_never_overhead() -> None:
    version = KubernetesVersion.of("1.36", BOTH)
    assert "1.36 has only nodeAllocatableResourceMappings" in overhead_blocker(version)
    slices = build_slices(load_profile("dgx-h100", "n1"), k8s_version="1.36", gates=dict(version.gates),
                          overheads=parse_overhead(OVERHEAD))
    devices = _devices(slices)
    assert all("ints" in d["attributes"][NUMA] for d in devices)
    assert not any("nodeAllocatableResources" in d or "nodeAllocatableResourceMappings" in d for d in devices)
    assert all(validate(s, k8s_version=version) == [] for s in slices)


def test_overhead_blockers() -> None:
    assert "no Device.nodeAllocatableResources" in overhead_blocker(KubernetesVersion.of("1.35"))
    assert "DRANodeAllocatableResources is off" in overhead_blocker(KubernetesVersion.of("1.37"))
    assert overhead_blocker(KubernetesVersion.of("1.37", {"DRANodeAllocatableResources": True})) is None


def test_overhead_round_trips_and_refuses_bad_settings() -> None:
    assert format_overhead(parse_overhead(OVERHEAD)) == (
        "gpu.memory.perPod=256Mi,gpu.memory.perContainer=64Mi,mig.memory.perPod=128Mi")
    assert parse_overhead("gpu.hugepages-2Mi.perPod=4Mi,gpu.cpu.perContainer=100m")["gpu"]["cpu"].overhead.per_container
    for bad in ("gpu.memory=1Gi", "vfio.memory.perPod=1Gi", "gpu.nvidia.com/gpu.perPod=1", "gpu.storage.perPod=1Gi",
                "gpu.memory.perpod=1Gi", "gpu.memory.perPod=lots", "gpu.memory.perPod=-1Gi",
                "gpu.memory.perPod=1Gi,gpu.memory.perPod=2Gi"):
        with pytest.raises(OverheadError):
            parse_overhead(bad)


def test_cli_publishes_with_gates_and_validates(capsys) -> None:
    assert main(["slices", "--profile", "dgx-h100", "--node", "n1", "--validate", "-o", "yaml",
                 "--feature-gates", "DRANodeAllocatableResources=true,DRAListTypeAttributes=true",
                 "--node-allocatable-overhead", OVERHEAD]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    device = docs[0]["spec"]["devices"][0]
    assert device["nodeAllocatableResources"]["memory"]["overhead"]["perPod"] == "256Mi"
    assert "ints" in device["attributes"][NUMA]


def test_cli_warns_where_the_overhead_cannot_be_published(capsys) -> None:
    assert main(["slices", "--profile", "dgx-h100", "--node", "n1", "--kubernetes-version", "1.37",
                 "--node-allocatable-overhead", OVERHEAD, "-o", "name"]) == 0
    assert "not published: feature gate DRANodeAllocatableResources is off" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--node-allocatable-overhead", "gpu.memory.perPod"],
                                  ["--kubernetes-version", "1.35", "--feature-gates", "DRAListTypeAttributes=true"]])
def test_cli_bad_settings_are_one_line_exit_2(capsys, args) -> None:
    assert main(["slices", "--profile", "dgx-h100", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
