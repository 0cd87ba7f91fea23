"""The pure parts of the real-cluster tooling (no Go, no cluster): fleet syntax, replace list, flags, selection."""

from __future__ import annotations

import pytest

from dra.testing.cluster.apiserver import gate_flag, runtime_config
from dra.testing.cluster.build import _kube_ldflags, staging_replaces
from dra.testing.cluster.fleet import FleetError, NodeSpec, node_object, parse_fleet
from dra.testing.cluster.selection import selected_versions
from dra.versions import KubernetesVersion, VersionError

GOMOD = """module k8s.io/kubernetes
require (
\tk8s.io/api v0.0.0
)
replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tgithub.com/x/y => github.com/x/y v1.0.0
)
"""


def test_staging_replaces_from_kubernetes_gomod():
    assert staging_replaces(GOMOD, "1.37.2") == ["\tk8s.io/api => k8s.io/api v0.37.2",
                                                 "\tk8s.io/client-go => k8s.io/client-go v0.37.2"]


def test_version_ldflags_name_the_release():
    flags = " ".join(_kube_ldflags("1.35.4"))
    assert "-X k8s.io/component-base/version.gitVersion=v1.35.4" in flags
    assert "-X k8s.io/component-base/version.gitMinor=35" in flags


def test_parse_fleet():
    assert parse_fleet("dgx-h100:2,gb200-nvl72") == [
        NodeSpec("dgx-h100-0", "dgx-h100"), NodeSpec("dgx-h100-1", "dgx-h100"), NodeSpec("gb200-nvl72-0", "gb200-nvl72")]
    assert parse_fleet("dgx-h100-mig:1:static-mig,dgx-h100-mig:1")[1] == NodeSpec("dgx-h100-mig-1", "dgx-h100-mig")
    for bad in ("", "dgx-h100:0", "dgx-h100:1:x", "a:b:c:d"):
        with pytest.raises(FleetError):
            parse_fleet(bad)


def test_node_object_is_schedulable():
    from dra.gpu.builtin import load_profile

    node = node_object(load_profile("dgx-h100", "n1"))
    assert node["metadata"]["labels"]["nvidia.com/gpu.count"] == "8"
    assert node["status"]["allocatable"]["pods"] == "110"
    assert node["status"]["conditions"][0] == {**node["status"]["conditions"][0], "type": "Ready", "status": "True"}


def test_gate_flag_only_names_changes():
    assert gate_flag(KubernetesVersion.of("1.37")) is None
    assert gate_flag(KubernetesVersion.of("1.35", {"DRADeviceTaints": True})) == "DRADeviceTaints=true"
    assert "DRAListTypeAttributes=true" in gate_flag(KubernetesVersion.all_gates_on("1.37"))
    assert runtime_config(False) == "resource.k8s.io/v1=true"


def test_version_selection():
    assert selected_versions("all") == ["1.34", "1.35", "1.36", "1.37"]
    assert selected_versions("1.37, v1.34.4") == ["1.34", "1.37"]
    with pytest.raises(VersionError):
        selected_versions("1.20")
