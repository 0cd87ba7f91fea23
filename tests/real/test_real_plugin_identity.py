"""The kubelet plugin under its own identity, judged by the real RBAC and ValidatingAdmissionPolicy.

The plugin's ServiceAccount, ClusterRole(Binding) and VAP come from ``manifests/deploy``; the
plugin's credentials are a pod-bound token of that ServiceAccount for a Pod bound to its node
(:mod:`dra.testing.cluster.identity`), i.e. what the DaemonSet pod would hold. There is no
kubelet: ``dra plugin run`` serves its sockets in a temporary directory nobody connects to,
and publishes its slices to the real API server, which is what is tested here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from dra.gpu.builtin import load_profile
from dra.slices import DRIVER_NAME, build_slices
from dra.slices.publisher import SlicePublisher
from dra.testing.cluster.fleet import create_node
from dra.testing.cluster.identity import plugin_kubeconfig
from dra.testing.cluster.rest import raw

pytestmark = pytest.mark.real

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "manifests/deploy"
WAIT = 90.0


@pytest.fixture(scope="module")
def deployed(cluster):
    """Namespace, ServiceAccount, RBAC and VAP of manifests/deploy applied (not the DaemonSet)."""
    for name in ("namespace.yaml", "serviceaccount.yaml", "rbac.yaml", "vap.yaml"):
        proc = subprocess.run(["/usr/bin/kubectl", "--kubeconfig", str(cluster.kubeconfig), "apply", "--server-side",
                               "--force-conflicts", "-f", str(DEPLOY / name)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{name}: {proc.stderr.strip()}"
    # The RBAC authorizer answers from an informer: right after the apply it may not have the
    # binding yet, and the plugin's first write would get a 403 that says nothing about our RBAC.
    # Ask the same authorizer chain (SubjectAccessReview) until it allows what the plugin does.
    # (The VAP has its own informer: the test that expects its refusal retries until it comes.)
    _wait_authorized(cluster, [("create", "resourceslices", ""), ("patch", "resourceclaims", "status")])
    return cluster


def _wait_authorized(cluster, checks: list[tuple[str, str, str]], timeout: float = 30.0) -> None:
    from dra.testing.cluster.identity import NAMESPACE, SERVICE_ACCOUNT

    authz = client.AuthorizationV1Api(cluster.api_client())
    user = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{NAMESPACE}", "system:authenticated"]
    deadline = time.monotonic() + timeout
    for verb, resource, sub in checks:
        attrs = {"verb": verb, "group": "resource.k8s.io", "resource": resource, "subresource": sub}
        while not authz.create_subject_access_review({"spec": {"user": user, "groups": groups,
                                                               "resourceAttributes": attrs}}).status.allowed:
            assert time.monotonic() < deadline, f"RBAC never allowed {user} to {verb} {resource}{'/' + sub if sub else ''}"
            time.sleep(0.2)


def _node(cluster, name: str, profile: str = "dgx-h100-mig"):
    inv = load_profile(profile, name)
    return create_node(cluster.api_client(), inv), inv


def _identity(cluster, node: str, tmp: Path):
    kc = plugin_kubeconfig(cluster.api_client(), cluster.server, cluster.pki.ca_crt, node, tmp / f"{node}.kubeconfig")
    return kc, cluster.api_client(kc)


def _device_names(slices) -> set[str]:
    return {d["name"] for s in slices for d in (s.get("spec", {}).get("devices") or [])}


def _list(api, node: str) -> list[dict]:
    return raw(api, "GET", "/apis/resource.k8s.io/v1/resourceslices",
               query=[("fieldSelector", f"spec.nodeName={node}")], timeout=5)["items"]


def _wait_devices(api, node: str, expected: set[str], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    last: set[str] = set()
    while time.monotonic() < deadline:
        try:
            last = _device_names(_list(api, node))
            if last == expected:
                return
        except Exception:  # the API server may be restarting
            pass
        time.sleep(0.3)
    raise AssertionError(f"slices of {node} never showed the expected devices: missing {sorted(expected - last)[:5]}, "
                         f"extra {sorted(last - expected)[:5]}")


def _expected(node: str, profile: str, mode: str, minor: str) -> set[str]:
    return {d["name"] for s in build_slices(load_profile(profile, node), mode=mode, k8s_version=minor)
            for d in (s.to_dict()["spec"].get("devices") or [])}


def _refusal(e: ApiException) -> str:
    try:
        return json.loads(e.body).get("message", "")
    except (TypeError, ValueError):
        return str(e.body)


def test_publisher_writes_own_node_and_is_refused_for_another(deployed, tmp_path):
    cluster = deployed
    minor = cluster.version.minor
    node, inv = _node(cluster, "ident-a")
    _node(cluster, "ident-b")
    _, plugin_api = _identity(cluster, "ident-a", tmp_path)
    own = SlicePublisher(plugin_api, DRIVER_NAME, "ident-a", node.metadata.uid)
    own.publish(build_slices(inv, mode="whole", k8s_version=minor))
    admin = cluster.api_client()
    _wait_devices(admin, "ident-a", _expected("ident-a", "dgx-h100-mig", "whole", minor))
    # an update of the own pool (another mode: other devices, new generation)
    own.publish(build_slices(inv, mode="static-mig", k8s_version=minor))
    _wait_devices(admin, "ident-a", _expected("ident-a", "dgx-h100-mig", "static-mig", minor))

    other = build_slices(load_profile("dgx-h100", "ident-b"), mode="whole", k8s_version=minor)[0].to_dict()
    other["metadata"] = {"name": "ident-b-forged"}
    deadline = time.monotonic() + 30  # the VAP informer may not have the policy yet: retry until refused
    while True:
        try:
            client.ResourceV1Api(plugin_api).create_resource_slice(other)
        except ApiException as e:
            assert e.status in (403, 422), f"unexpected refusal {e.status}: {_refusal(e)}"
            assert "may not write ResourceSlices of node 'ident-b'" in _refusal(e), _refusal(e)
            break
        client.ResourceV1Api(admin).delete_resource_slice("ident-b-forged")
        assert time.monotonic() < deadline, "the plugin on ident-a was allowed to write a slice of ident-b"
        time.sleep(1)


def test_plugin_run_publishes_and_survives_apiserver_restart(deployed, tmp_path):
    """`dra plugin run` as the plugin SA: publishes; restarted in another mode while the API server
    is down, it publishes the new pool when the server is back; no wrong complete pool is ever listed."""
    cluster = deployed
    minor = cluster.version.minor
    node_name, profile = "ident-run", "dgx-h100-mig"
    _node(cluster, node_name, profile)
    kc, _ = _identity(cluster, node_name, tmp_path)
    admin = cluster.api_client()
    old = _expected(node_name, profile, "whole", minor)
    new = _expected(node_name, profile, "static-mig", minor)
    violations: list[str] = []
    observed = [0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                items = _list(admin, node_name)
            except Exception:
                time.sleep(0.1)
                continue
            observed[0] += 1
            if items:
                gen = max(s["spec"]["pool"]["generation"] for s in items)
                top = [s for s in items if s["spec"]["pool"]["generation"] == gen]
                if len(top) == top[0]["spec"]["pool"]["resourceSliceCount"]:
                    names = _device_names(top)
                    if names not in (old, new):
                        violations.append(f"complete pool generation {gen} lists {len(names)} unexpected devices")
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    plugin = _start_plugin(kc, node_name, profile, "whole", minor, tmp_path / "p1")
    try:
        _wait_devices(admin, node_name, old)
        _stop(plugin)
        cluster.stop_apiserver()
        plugin = _start_plugin(kc, node_name, profile, "static-mig", minor, tmp_path / "p1")
        time.sleep(3)  # the plugin starts, fails to publish and retries while the server is down
        assert plugin.poll() is None, f"dra plugin run exited while the API server was down: {_tail(tmp_path / 'p1')}"
        cluster.restart_apiserver()
        _wait_devices(admin, node_name, new)
        assert plugin.poll() is None, _tail(tmp_path / "p1")
    finally:
        _stop(plugin)
        stop.set()
        watcher.join(timeout=5)
    assert observed[0] > 5, "the watcher never saw the slices"
    assert not violations, violations[:5]


def _start_plugin(kubeconfig: Path, node: str, profile: str, mode: str, minor: str, d: Path) -> subprocess.Popen:
    from dra.slices.builder import limits_version

    # `dra plugin run --kubernetes-version` names the slice layout (1.34 or 1.35, which 1.36+ keep).
    minor = limits_version(minor)
    d.mkdir(parents=True, exist_ok=True)
    log = open(d / "plugin.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "dra.cli", "plugin", "run", "--node-name", node, "--profile", profile, "--mode", mode,
         "--kubernetes-version", minor, "--kubeconfig", str(kubeconfig), "--registrar-dir", str(d / "registry"),
         "--plugins-dir", str(d / "plugins"), "--cdi-root", str(d / "cdi"), "--http-port", "-1", "--no-health"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    from dra.testing.cluster.process import stop_group

    if proc.poll() is None:
        stop_group(proc.pid, timeout=15)
    proc.wait(timeout=5)


def _tail(d: Path) -> str:
    from dra.testing.cluster.process import log_tail

    return log_tail(d / "plugin.log", 8)


def test_plugin_writes_claim_device_status(deployed, tmp_path):
    """The plugin may write status.devices of a claim allocated on its node, as the version's
    authorization requires: ``resourceclaims/status`` (1.34, 1.35); from 1.36, with
    DRAResourceClaimGranularStatusAuthorization, ``resourceclaims/driver`` with the
    ``associated-node:update``/``associated-node:patch`` verbs for our driver name."""
    cluster = deployed
    node_name = "ident-status"
    _node(cluster, node_name, "dgx-h100")
    _, plugin_api = _identity(cluster, node_name, tmp_path)
    admin = cluster.api_client()
    rapi = client.ResourceV1Api(admin)
    ns = "default"
    name = "status-claim"
    try:
        rapi.delete_namespaced_resource_claim(name, ns)
    except ApiException:
        pass
    rapi.create_namespaced_resource_claim(ns, {
        "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": {"name": name},
        "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu.nvidia.com"}}]}}})
    allocation = {"devices": {"results": [{"request": "gpu", "driver": DRIVER_NAME, "pool": node_name,
                                           "device": "gpu-0"}]},
                  "nodeSelector": {"nodeSelectorTerms": [{"matchFields": [
                      {"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}}
    rapi.patch_namespaced_resource_claim_status(name, ns, {"status": {"allocation": allocation}})
    status = {"status": {"devices": [{"driver": DRIVER_NAME, "pool": node_name, "device": "gpu-0",
                                      "conditions": [{"type": "Ready", "status": "True", "reason": "Prepared",
                                                      "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}]}}
    try:
        client.ResourceV1Api(plugin_api).patch_namespaced_resource_claim_status(name, ns, status)
    except ApiException as e:
        needs = ("resourceclaims/status (update, patch) and resourceclaims/driver (associated-node:update, "
                 "associated-node:patch, resourceNames [gpu.nvidia.com])"
                 if cluster.version.enabled("DRAResourceClaimGranularStatusAuthorization") else
                 "resourceclaims/status (update, patch)")
        pytest.fail(f"Kubernetes {cluster.version.minor}: the plugin's ServiceAccount may not write claim device "
                    f"status ({e.status}: {_refusal(e)}); manifests/deploy/rbac.yaml needs {needs}")
    got = rapi.read_namespaced_resource_claim(name, ns)
    assert [d.device for d in got.status.devices or []] == ["gpu-0"]
