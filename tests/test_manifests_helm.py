"""The Helm chart, checked with the real helm (v4.3.2 built from its Go module).

``helm lint --strict`` and ``helm template`` run on the chart with default and non-default
values; what they render is parsed and checked (names truncated to 63, one ServiceAccount
per release, the driver root mount, probes, image by digest, the device-plugin coexistence
guard, the values schema) and validated against the Kubernetes OpenAPI schemas of 1.34 to
1.37 (bundled by ``kubernetes-validate``; the "k8s" suite applies the same output to real
API servers). helm comes from ``dra.testing.helm.ensure_helm``;
without Go these tests skip with the reason.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from dra import __version__
from dra.testing.helm import HelmUnavailable, ensure_helm
from dra.testing.schema import schema_errors

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "manifests" / "helm" / "dra-gpu-driver"
SHARED_CLASSES = ROOT / "manifests" / "deviceclasses.yaml"
DIGEST = "sha256:" + "ab" * 32
LONG_RELEASE = "r" + "-long" * 8 + "-release-xyz"  # 53 characters, helm's maximum


@pytest.fixture(scope="module")
def helm() -> Path:
    try:
        return ensure_helm()
    except HelmUnavailable as err:
        pytest.skip(str(err))


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=120)


def template(helm: Path, release: str = "gpu", values: dict | None = None, namespace: str = "dra-gpu",
             tmp: Path | None = None) -> list[dict]:
    args = ["template", release, str(CHART), "--namespace", namespace, "--kube-version", "1.37.0"]
    if values:
        assert tmp is not None
        path = tmp / f"values-{release}.yaml"
        path.write_text(yaml.safe_dump(values))
        args += ["-f", str(path)]
    done = run_helm(helm, *args)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def pod_spec(docs: list[dict]) -> dict:
    return by_kind(docs, "DaemonSet")[0]["spec"]["template"]["spec"]


def env_of(docs: list[dict]) -> dict[str, dict]:
    return {e["name"]: e for e in pod_spec(docs)["containers"][0]["env"]}


NON_DEFAULT = {
    "image": {"repository": "registry.example/dra/driver", "digest": DIGEST, "pullPolicy": "Always"},
    "imagePullSecrets": [{"name": "regcred"}],
    "nvidiaDriverRoot": "/run/nvidia/driver",
    "kubeletPlugin": {"runtimeClassName": "nvidia", "mode": "dynamic-mig", "profile": "dgx-h100",
                      "kubernetesVersion": "1.36", "nodeSelector": {"pool": "gpu"},
                      "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                          "nodeSelectorTerms": [{"matchExpressions": [
                              {"key": "dra", "operator": "In", "values": ["on"]}]}]}}},
                      "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu",
                                       "effect": "NoSchedule"}]},
    "validatingAdmissionPolicy": {"enabled": False},
    "deviceClasses": {"enabled": False},
}


# ------------------------------------------------------------------------------ lint

def test_lint_strict_default(helm):
    done = run_helm(helm, "lint", "--strict", str(CHART))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


def test_lint_strict_non_default(helm, tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(NON_DEFAULT))
    done = run_helm(helm, "lint", "--strict", str(CHART), "-f", str(values))
    assert done.returncode == 0, done.stdout + done.stderr


# ------------------------------------------------------------------------------ template

@pytest.mark.parametrize("k8s", ["1.34", "1.35", "1.36", "1.37"])
def test_default_rendering_validates(helm, k8s):
    docs = template(helm)
    for doc in docs:
        assert schema_errors(doc, k8s) == [], f"{doc['kind']}/{doc['metadata']['name']}"
    assert sorted(d["kind"] for d in docs) == sorted([
        "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet", "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding", "DeviceClass", "DeviceClass", "DeviceClass", "Role", "RoleBinding",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"])


def test_default_rendering(helm):
    docs = template(helm)
    sa = by_kind(docs, "ServiceAccount")[0]["metadata"]
    assert sa == {**sa, "name": "gpu-dra-gpu-driver-kubelet-plugin", "namespace": "dra-gpu"}
    pod = pod_spec(docs)
    assert pod["serviceAccountName"] == sa["name"]
    container = pod["containers"][0]
    assert container["image"] == f"ghcr.io/dra-gpu/dra-gpu-driver:{__version__}"  # appVersion
    env = env_of(docs)
    assert env["NVIDIA_DRIVER_ROOT"]["value"] == "/" and env["DRIVER_ROOT_MOUNT"]["value"] == "/driver-root"
    assert env["HTTP_ADDRESS"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["KUBERNETES_VERSION"]["value"] == "1.37" and "GPU_PROFILE" not in env
    volumes = {v["name"]: v["hostPath"] for v in pod["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert volumes["driver-root"] == {"path": "/", "type": "Directory"}
    assert mounts["driver-root"]["mountPath"] == "/driver-root" and mounts["driver-root"]["readOnly"] is True
    assert volumes["mps-root"]["path"] == mounts["mps-root"]["mountPath"] == env["MPS_ROOT"]["value"]
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert "runtimeClassName" not in pod and "imagePullSecrets" not in pod
    assert pod["affinity"]["nodeAffinity"]  # GPU nodes only
    # The ClusterRole binds the release's ServiceAccount; the VAP matches that same identity.
    binding = by_kind(docs, "ClusterRoleBinding")[0]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["name"], "namespace": "dra-gpu"}]
    vap = by_kind(docs, "ValidatingAdmissionPolicy")[0]
    assert f"system:serviceaccount:dra-gpu:{sa['name']}" in vap["spec"]["matchConditions"][0]["expression"]
    rules = by_kind(docs, "ClusterRole")[0]["rules"]
    assert {"apiGroups": ["resource.k8s.io"], "resources": ["resourceclaims/driver"],
            "resourceNames": ["gpu.nvidia.com"], "verbs": ["associated-node:update", "associated-node:patch"]} in rules


def test_non_default_rendering(helm, tmp_path):
    docs = template(helm, values=NON_DEFAULT, tmp=tmp_path)
    for doc in docs:
        assert schema_errors(doc, "1.35") == [], f"{doc['kind']}/{doc['metadata']['name']}"
    kinds = {d["kind"] for d in docs}
    assert "ValidatingAdmissionPolicy" not in kinds and "DeviceClass" not in kinds
    pod = pod_spec(docs)
    container = pod["containers"][0]
    assert container["image"] == f"registry.example/dra/driver@{DIGEST}"
    assert container["imagePullPolicy"] == "Always"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["runtimeClassName"] == "nvidia"
    assert pod["nodeSelector"] == {"pool": "gpu"}
    assert pod["affinity"] == NON_DEFAULT["kubeletPlugin"]["affinity"]
    assert pod["tolerations"] == NON_DEFAULT["kubeletPlugin"]["tolerations"]
    env = env_of(docs)
    assert env["NVIDIA_DRIVER_ROOT"]["value"] == "/run/nvidia/driver"
    assert env["GPU_PROFILE"]["value"] == "dgx-h100" and env["DEVICE_MODE"]["value"] == "dynamic-mig"
    assert env["KUBERNETES_VERSION"]["value"] == "1.36"
    volumes = {v["name"]: v["hostPath"] for v in pod["volumes"]}
    assert volumes["driver-root"]["path"] == "/run/nvidia/driver"


def test_names_are_truncated_to_63(helm, tmp_path):
    docs = template(helm, release=LONG_RELEASE)
    names = [d["metadata"]["name"] for d in docs if d["kind"] != "DeviceClass"]
    assert names and all(len(n) <= 63 and not n.endswith("-") for n in names), names
    for doc in docs:
        for key, value in (doc["metadata"].get("labels") or {}).items():
            assert len(value) <= 63, (key, value)
    ds = by_kind(docs, "DaemonSet")[0]
    assert ds["metadata"]["name"].endswith("-kubelet-plugin")
    assert ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    override = template(helm, release="r", values={"fullnameOverride": "x" * 63}, tmp=tmp_path)
    assert all(len(d["metadata"]["name"]) <= 63 for d in override)


def test_two_releases_never_share_a_service_account(helm):
    first, second = template(helm, release="blue"), template(helm, release="green")
    names = [{d["kind"]: d["metadata"]["name"] for d in docs if d["kind"] != "DeviceClass"} for docs in (first, second)]
    for kind in names[0]:
        assert names[0][kind] != names[1][kind], kind
    assert pod_spec(first)["serviceAccountName"] != pod_spec(second)["serviceAccountName"]


# ------------------------------------------------------------------------------ guards and schema

def test_extended_resource_needs_the_device_plugin_override(helm, tmp_path):
    default = {d["metadata"]["name"]: d for d in by_kind(template(helm), "DeviceClass")}
    assert "extendedResourceName" not in default["gpu.nvidia.com"]["spec"]
    values = tmp_path / "ext.yaml"
    values.write_text(yaml.safe_dump({"deviceClasses": {"extendedResourceName": True}}))
    refused = run_helm(helm, "template", "gpu", str(CHART), "-f", str(values))
    assert refused.returncode != 0
    assert "devicePluginAbsentOverride=true" in refused.stderr and "same GPUs" in refused.stderr
    allowed = template(helm, values={"deviceClasses": {"extendedResourceName": True},
                                     "devicePluginAbsentOverride": True}, tmp=tmp_path)
    shared = [d for d in yaml.safe_load_all(SHARED_CLASSES.read_text()) if d]
    assert by_kind(allowed, "DeviceClass") == shared  # exactly the repository's DeviceClasses


@pytest.mark.parametrize("values, path", [
    ({"kubeletPlugin": {"mode": "mig"}}, "kubeletPlugin.mode"),
    ({"image": {"repository": "r", "digest": "sha256:xyz"}}, "image.digest"),
    ({"nvidiaDriverRoot": "run/nvidia/driver"}, "nvidiaDriverRoot"),
    ({"kubeletPlugin": {"kubernetesVersion": "1.33"}}, "kubeletPlugin.kubernetesVersion"),
    ({"imagePulSecrets": []}, "imagePulSecrets"),
])
def test_schema_refuses_bad_values(helm, tmp_path, values, path):
    file = tmp_path / "bad.yaml"
    file.write_text(yaml.safe_dump(values))
    done = run_helm(helm, "template", "gpu", str(CHART), "-f", str(file))
    assert done.returncode != 0
    assert "values don't meet the specifications of the schema" in done.stderr
    assert path.split(".")[-1] in done.stderr, done.stderr


def test_schema_is_json_and_covers_every_default_value():
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(values) <= set(schema["properties"])
    for key, value in values.items():
        if isinstance(value, dict) and schema["properties"][key].get("properties"):
            assert set(value) <= set(schema["properties"][key]["properties"]), key


# ------------------------------------------------------------------------------ files

def test_chart_files_are_real_and_identical_to_the_shared_deviceclasses():
    for path in CHART.rglob("*"):
        assert not path.is_symlink(), f"{path.relative_to(ROOT)} is a symlink (helm refuses links out of a chart)"
    source = SHARED_CLASSES.read_bytes()
    for copy in (CHART / "files" / "deviceclasses.yaml", ROOT / "dra" / "data" / "deviceclasses.yaml"):
        assert copy.read_bytes() == source, f"{copy.relative_to(ROOT)} differs: run `make sync-manifests`"


def test_chart_version_follows_the_project():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["version"] == chart["appVersion"] == __version__


def test_chart_and_plain_manifests_agree(helm):
    """The DaemonSet of the chart and of manifests/deploy: same env names, host paths, probes."""
    chart = pod_spec(template(helm))
    plain = next(d for p in sorted((ROOT / "manifests" / "deploy").glob("*.yaml"))
                 for d in yaml.safe_load_all(p.read_text()) if d and d["kind"] == "DaemonSet")["spec"]["template"]["spec"]
    env = lambda pod: {e["name"] for e in pod["containers"][0]["env"]}  # noqa: E731
    # The chart passes the kubelet directories explicitly; the plain manifest relies on the defaults.
    assert env(chart) - {"KUBELET_REGISTRAR_DIRECTORY_PATH", "KUBELET_PLUGINS_DIRECTORY_PATH", "LOG_LEVEL"} == env(plain)
    paths = lambda pod: sorted(v["hostPath"]["path"] for v in pod["volumes"])  # noqa: E731
    assert paths(chart) == paths(plain)
    for key in ("startupProbe", "livenessProbe", "readinessProbe", "securityContext"):
        assert chart["containers"][0][key] == plain["containers"][0][key], key
