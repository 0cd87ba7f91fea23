"""Deployment manifests validate against the Kubernetes 1.34 schema.

The Helm chart is tested with the real helm (built from its Go module) in
``tests/test_manifests_helm.py``; the template-subset renderer that used to stand in for it
here is retired. The plain manifests' kubectl behaviour is ``tests/test_manifests_deploy.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from dra.testing.schema import schema_errors, schema_version

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "manifests" / "deploy"
K8S = "1.34"


# ---------------------------------------------------------------------------- tests

def _load(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _assert_valid(docs: list[dict]) -> None:
    assert docs
    for doc in docs:
        errors = schema_errors(doc, K8S)
        assert errors == [], f"{doc['kind']}/{doc['metadata']['name']}: {errors}"


def test_schema_version_is_1_34():
    assert schema_version(K8S) == "1.34"


def test_plain_manifests_validate():
    docs = [d for p in sorted(DEPLOY.glob("*.yaml")) if p.name != "kustomization.yaml" for d in _load(p)]
    _assert_valid(docs)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted([
        "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "DaemonSet", "Role", "RoleBinding",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    ])
    listed = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")


def test_deviceclasses_validate(shared_manifest=ROOT / "manifests" / "deviceclasses.yaml"):
    if not shared_manifest.exists():
        pytest.skip("manifests/deviceclasses.yaml not written yet (owned by the slices part)")
    _assert_valid(_load(shared_manifest))


def _daemonset(docs):
    return next(d for d in docs if d["kind"] == "DaemonSet")


def test_daemonset_mounts_and_rbac_are_least_privilege():
    docs = [d for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml" for d in _load(p)]
    pod = _daemonset(docs)["spec"]["template"]["spec"]
    paths = {v["hostPath"]["path"] for v in pod["volumes"]}
    assert paths == {"/var/lib/kubelet/plugins_registry", "/var/lib/kubelet/plugins", "/var/run/cdi",
                     "/", "/run/nvidia-dra/mps"}  # driver root (read-only) and the MPS pipe/log dir
    ro = {m["name"] for m in pod["containers"][0]["volumeMounts"] if m.get("readOnly")}
    assert ro == {"driver-root"}
    env = {e["name"] for e in pod["containers"][0]["env"]}
    assert {"NODE_NAME", "DRIVER_NAME", "CDI_ROOT", "POD_UID"} <= env
    rolling = _daemonset(docs)["spec"]["updateStrategy"]["rollingUpdate"]
    assert rolling == {"maxSurge": 1, "maxUnavailable": 0}  # needs the pod-UID sockets above
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"]) for r in role["rules"]}
    assert rules[(("resource.k8s.io",), ("resourceclaims",))] == {"get"}
    assert rules[(("resource.k8s.io",), ("resourceclaims/status",))] == {"update", "patch"}
    assert rules[(("resource.k8s.io",), ("resourceclaims/driver",))] == {"associated-node:update",
                                                                          "associated-node:patch"}
    assert rules[(("",), ("nodes",))] == {"get"}
    assert "deletecollection" not in rules[(("resource.k8s.io",), ("resourceslices",))]
    assert len(rules) == 5
    sa = next(d for d in docs if d["kind"] == "ServiceAccount")
    vap = next(d for d in docs if d["kind"] == "ValidatingAdmissionPolicy")
    user = f"system:serviceaccount:{sa['metadata']['namespace']}:{sa['metadata']['name']}"
    assert user in vap["spec"]["matchConditions"][0]["expression"]


def test_dockerfile_runs_the_plugin_command():
    text = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["dra", "plugin", "run"]' in text
    for source in re.findall(r"^COPY (?!--)(\S+)", text, re.M):
        for item in source.split():
            assert (ROOT / item).exists(), f"Dockerfile copies missing {item}"
