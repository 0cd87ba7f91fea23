"""The plain deploy manifests as kubectl sees them, RBAC per Kubernetes version, driver root.

``kubectl apply --dry-run=client`` still asks the server for API discovery (to map kinds to
resources) and for each object (create or patch?). There is no cluster in these tests, so a
small discovery stand-in answers exactly that: the group/version/resource lists of the kinds
the manifests use, and 404 for every object. Nothing is validated by the stand-in
(``--validate=false``); schema validation is ``tests/test_plugin_manifests.py``'s job, and
the real API server's is the "k8s" suite's (``tests/real``). What this proves: kubectl's own
kustomize build and argument rules accept the documented command sequence, and every
object maps to a resource.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "manifests" / "deploy"
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")

# group -> version -> [(plural, kind, namespaced)]
RESOURCES = {
    "": {"v1": [("namespaces", "Namespace", False), ("serviceaccounts", "ServiceAccount", True)]},
    "apps": {"v1": [("daemonsets", "DaemonSet", True)]},
    "rbac.authorization.k8s.io": {"v1": [("clusterroles", "ClusterRole", False),
                                         ("clusterrolebindings", "ClusterRoleBinding", False),
                                         ("roles", "Role", True), ("rolebindings", "RoleBinding", True)]},
    "admissionregistration.k8s.io": {"v1": [
        ("validatingadmissionpolicies", "ValidatingAdmissionPolicy", False),
        ("validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding", False)]},
    "resource.k8s.io": {"v1": [("deviceclasses", "DeviceClass", False), ("resourceslices", "ResourceSlice", False),
                               ("resourceclaims", "ResourceClaim", True)]},
}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def _resource_list(group: str, version: str) -> dict:
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": [
        {"name": plural, "singularName": kind.lower(), "namespaced": ns, "kind": kind, "verbs": VERBS}
        for plural, kind, ns in RESOURCES[group][version]]}


class _Discovery(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?")[0].rstrip("/")
        if path == "/api":
            return self._send(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        if path == "/api/v1":
            return self._send(200, _resource_list("", "v1"))
        if path == "/apis":
            groups = [{"name": g, "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                       "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"}} for g in RESOURCES if g]
            return self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        m = re.fullmatch(r"/apis/([^/]+)/(v1)", path)
        if m and m.group(1) in RESOURCES:
            return self._send(200, _resource_list(m.group(1), m.group(2)))
        return self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                                "code": 404, "message": f"{path} not found"})


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Discovery)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    path = tmp_path_factory.mktemp("kubectl") / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "stand-in",
        "clusters": [{"name": "stand-in", "cluster": {"server": f"http://127.0.0.1:{httpd.server_address[1]}"}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "u"}}],
    }))
    yield path
    httpd.shutdown()


def _kubectl(kubeconfig: Path, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([KUBECTL, "--kubeconfig", str(kubeconfig), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def documented_commands() -> list[list[str]]:
    """The deploy sequence written in kustomization.yaml's header (``#   kubectl ...`` lines)."""
    lines = (DEPLOY / "kustomization.yaml").read_text().splitlines()
    return [shlex.split(l.lstrip("# ").strip())[1:] for l in lines if re.match(r"#\s+kubectl ", l)]


@needs_kubectl
def test_apply_k_dry_run(kubeconfig):
    done = _kubectl(kubeconfig, ["apply", "--dry-run=client", "--validate=false", "-k", "manifests/deploy"])
    assert done.returncode == 0, done.stderr
    created = sorted(done.stdout.split("\n"))
    kinds = {line.split("/")[0] for line in created if line}
    assert kinds == {"namespace", "serviceaccount", "clusterrole.rbac.authorization.k8s.io",
                     "clusterrolebinding.rbac.authorization.k8s.io", "daemonset.apps",
                     "role.rbac.authorization.k8s.io", "rolebinding.rbac.authorization.k8s.io",
                     "validatingadmissionpolicy.admissionregistration.k8s.io",
                     "validatingadmissionpolicybinding.admissionregistration.k8s.io"}, done.stdout
    assert all(line.endswith("created (dry run)") for line in created if line)


@needs_kubectl
def test_documented_deploy_sequence_runs(kubeconfig):
    commands = documented_commands()
    assert [c[:2] for c in commands] == [["apply", "-f"], ["apply", "-k"]]
    for args in commands:
        done = _kubectl(kubeconfig, [*args, "--dry-run=client", "--validate=false"])
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    # What the old README did, for the record: kubectl refuses -f with -k.
    both = _kubectl(kubeconfig, ["apply", "--dry-run=client", "-f", "manifests/deviceclasses.yaml",
                                 "-k", "manifests/deploy"])
    assert both.returncode != 0 and "only one of -f or -k" in both.stderr


def _deploy_docs() -> list[dict]:
    out = subprocess.run([KUBECTL, "kustomize", str(DEPLOY)], capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _rules(docs: list[dict]) -> list[dict]:
    return next(d for d in docs if d["kind"] == "ClusterRole")["rules"]


@needs_kubectl
def test_rbac_covers_claim_status_on_every_version():
    rules = _rules(_deploy_docs())
    status = [r for r in rules if r["resources"] == ["resourceclaims/status"]]
    assert len(status) == 1 and set(status[0]["verbs"]) == {"update", "patch"}
    assert "resourceNames" not in status[0]  # claims have arbitrary names
    driver = [r for r in rules if r["resources"] == ["resourceclaims/driver"]]
    # 1.36+: the synthetic subresource, named by the driver, same-node verbs only.
    assert driver == [{"apiGroups": ["resource.k8s.io"], "resources": ["resourceclaims/driver"],
                       "resourceNames": ["gpu.nvidia.com"],
                       "verbs": ["associated-node:update", "associated-node:patch"]}]
    assert not any(v.startswith("arbitrary-node:") for r in rules for v in r["verbs"])
    ds = next(d for d in _deploy_docs() if d["kind"] == "DaemonSet")
    env = {e["name"]: e.get("value") for e in ds["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DRIVER_NAME"] == driver[0]["resourceNames"][0]


@needs_kubectl
def test_daemonset_driver_root_mps_and_pod_ip():
    ds = next(d for d in _deploy_docs() if d["kind"] == "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert env["NVIDIA_DRIVER_ROOT"]["value"] == volumes["driver-root"]["hostPath"]["path"] == "/"
    assert env["DRIVER_ROOT_MOUNT"]["value"] == mounts["driver-root"]["mountPath"] == "/driver-root"
    assert mounts["driver-root"]["readOnly"] is True
    assert env["MPS_ROOT"]["value"] == volumes["mps-root"]["hostPath"]["path"] == mounts["mps-root"]["mountPath"]
    assert env["HTTP_ADDRESS"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["KUBERNETES_VERSION"]["value"] == "1.37"
    assert container["securityContext"]["runAsUser"] == 0  # the image's default user is not root


@needs_kubectl
@pytest.mark.parametrize("k8s", ["1.34", "1.35", "1.36", "1.37"])
def test_kustomize_output_validates_on_every_version(k8s):
    from dra.testing.schema import schema_errors, schema_version

    assert schema_version(k8s) == k8s
    for doc in _deploy_docs():
        assert schema_errors(doc, k8s) == [], f"{doc['kind']}/{doc['metadata']['name']}"


# Flags the "node" part adds (issue 11: driver root, MPS on the host); until they exist the
# manifests already set them and this check names them in its skip reason.
PENDING_PLUGIN_ENV = {"NVIDIA_DRIVER_ROOT", "DRIVER_ROOT_MOUNT", "MPS_ROOT"}


@needs_kubectl
def test_every_daemonset_env_var_is_read_by_the_plugin():
    import sys

    out = subprocess.run([sys.executable, "-m", "dra.cli", "plugin", "run", "--help"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    read = set(re.findall(r"\[\$([A-Z_]+)\]", out))
    ds = next(d for d in _deploy_docs() if d["kind"] == "DaemonSet")
    env = {e["name"] for e in ds["spec"]["template"]["spec"]["containers"][0]["env"]}
    missing = env - read
    assert not missing - PENDING_PLUGIN_ENV, f"the DaemonSet sets variables the plugin ignores: {missing}"
    if missing:
        pytest.skip(f"`dra plugin run` does not read {sorted(missing)} yet (flags being added by the node part)")
