"""The driver's version-dependent fields, accepted by the real API server (every DRA gate on).

* ``resource.kubernetes.io/numaNode`` as a one-element ``ints`` list (1.36+, DRAListTypeAttributes);
* the GPU host-memory overhead as ``nodeAllocatableResources`` (1.37, DRANodeAllocatableResources);
* the per-claim MPS control-daemon Deployment, created and deleted under the plugin's own
  identity, and the RBAC of manifests/deploy allowing that identity exactly that.

Published through :class:`SlicePublisher`, which compares what it sent with what the server
stored and fails on any dropped field, so "accepted" here means created, validated and kept.
The 1.37 NodeDeclaredFeatures admission refuses overhead for a Node whose kubelet does not
declare DRANodeAllocatableResources: proven here, and why the plugin checks its Node first
(:mod:`dra.plugin.node_features`).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from dra.gpu.builtin import load_profile
from dra.slices import DRIVER_NAME, build_slices
from dra.slices.overhead import overhead_blocker, parse_overhead
from dra.plugin.backend import BackendError, MpsSettings
from dra.plugin.mps_pods import APP, LABEL_APP, MpsDaemonPods, deployment_name
from dra.plugin.node_features import NODE_ALLOCATABLE_FEATURE, declared_features
from dra.slices.publisher import PublishError, SlicePublisher
from dra.testing.cluster.fleet import create_node
from dra.testing.cluster.identity import plugin_kubeconfig
from dra.testing.cluster.rest import raw

pytestmark = pytest.mark.real

NUMA = "resource.kubernetes.io/numaNode"
OVERHEAD = "gpu.memory.perPod=256Mi,gpu.memory.perContainer=64Mi,mig.memory.perPod=128Mi"


@pytest.mark.parametrize("mode", ["whole", "dynamic-mig"])
def test_list_numa_and_overhead_are_accepted_and_kept(cluster, mode):
    version = cluster.version
    if version.minor in ("1.34", "1.35"):
        pytest.skip(f"Kubernetes {version.minor} has neither list attributes nor nodeAllocatableResources")
    node = f"fields-{mode}"
    inv = load_profile("dgx-h100-mig", node)
    api = cluster.api_client()
    stored_node = create_node(api, inv)
    overheads = parse_overhead(OVERHEAD)
    slices = build_slices(inv, mode=mode, k8s_version=version.minor, gates=dict(version.gates), overheads=overheads)
    publisher = SlicePublisher(api, DRIVER_NAME, node, stored_node.metadata.uid)
    if overhead_blocker(version) is None:
        with pytest.raises(PublishError, match=f'node "{node}" does not support DRANodeAllocatableResources'):
            publisher.publish(slices)
        # what a kubelet with the gate on reports
        client.CoreV1Api(api).patch_node_status(node, {"status": {"declaredFeatures": [NODE_ALLOCATABLE_FEATURE]}})
        assert NODE_ALLOCATABLE_FEATURE in declared_features(api, node)
    publisher.publish(slices)
    items = raw(api, "GET", "/apis/resource.k8s.io/v1/resourceslices",
                query=[("fieldSelector", f"spec.nodeName={node}")], timeout=5)["items"]
    devices = [d for s in items for d in s["spec"].get("devices") or []]
    assert devices and all(d["attributes"][NUMA].keys() == {"ints"} for d in devices)
    with_overhead = [d for d in devices if "nodeAllocatableResources" in d]
    if overhead_blocker(version) is None:
        assert len(with_overhead) == len(devices)
        gpu = next(d for d in devices if d["attributes"]["type"]["string"] == "gpu")
        assert gpu["nodeAllocatableResources"] == {"memory": {"overhead": {"perPod": "256Mi", "perContainer": "64Mi"}}}
    else:
        assert with_overhead == []  # 1.36: the overhead cannot be said, so it is not sent


# -- MPS control daemons as Deployments, under the plugin's own identity ------------------------

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "dra-gpu-driver"


@pytest.fixture(scope="module")
def deployed(cluster):
    """Namespace, ServiceAccount, RBAC and VAP of manifests/deploy applied (not the DaemonSet)."""
    for name in ("namespace.yaml", "serviceaccount.yaml", "rbac.yaml", "vap.yaml"):
        proc = subprocess.run(["/usr/bin/kubectl", "--kubeconfig", str(cluster.kubeconfig), "apply", "--server-side",
                               "--force-conflicts", "-f", str(REPO / "manifests/deploy" / name)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{name}: {proc.stderr.strip()}"
    return cluster


def _plugin_api(cluster, node: str, tmp: Path):
    create_node(cluster.api_client(), load_profile("dgx-h100", node))
    kc = plugin_kubeconfig(cluster.api_client(), cluster.server, cluster.pki.ca_crt, node, tmp / f"{node}.kubeconfig")
    return cluster.api_client(kc)


def _allowed(api, verb: str, resource: str, namespace: str, group: str = "") -> bool:
    review = client.AuthorizationV1Api(api).create_self_subject_access_review({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": resource, "namespace": namespace}}})
    return bool(review.status.allowed)


def test_plugin_identity_may_manage_exactly_its_mps_deployments(deployed, tmp_path):
    api = _plugin_api(deployed, "mps-rbac", tmp_path)
    for verb in ("get", "list", "create", "delete"):
        assert _allowed(api, verb, "deployments", NAMESPACE, "apps"), verb
    for verb in ("update", "patch", "watch", "deletecollection"):
        assert not _allowed(api, verb, "deployments", NAMESPACE, "apps"), verb
    assert not _allowed(api, "create", "deployments", "default", "apps")
    assert not _allowed(api, "create", "pods", NAMESPACE)
    assert not _allowed(api, "create", "daemonsets", NAMESPACE, "apps")
    assert _allowed(api, "list", "pods", NAMESPACE) and not _allowed(api, "delete", "pods", NAMESPACE)


def test_mps_daemon_deployment_is_accepted_and_deleted_by_the_plugin(deployed, tmp_path):
    """The real API server takes the daemon's Deployment from the plugin's identity; its
    controller makes the pod, pinned to the node; with no kubelet here it never gets ready, so
    start fails with that reason; stop deletes it. (The daemon image cannot run here: no GPU.)"""
    node = "mps-node"
    api = _plugin_api(deployed, node, tmp_path)
    pods = MpsDaemonPods(api, namespace=NAMESPACE, node_name=node, root=tmp_path / "mps",
                         image="ghcr.io/dra-gpu/dra-gpu-driver:0.1.0", ready_timeout=5, poll=0.5)
    daemon_id = "0b5c7e0e-1111-4222-8333-444455556666-0"
    with pytest.raises(BackendError, match="not ready after 5s"):
        pods.start(daemon_id, ["GPU-00000000-0000-0000-0000-000000000000"], MpsSettings(50, {}))
    admin = deployed.api_client()
    dep = client.AppsV1Api(admin).read_namespaced_deployment(deployment_name(daemon_id), NAMESPACE)
    assert dep.spec.template.spec.node_name == node and dep.spec.template.spec.host_pid
    assert pods.daemons() == [daemon_id]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the controller-manager makes the pod from the Deployment
        made = client.CoreV1Api(admin).list_namespaced_pod(NAMESPACE, label_selector=f"{LABEL_APP}={APP}").items
        if made:
            assert made[0].spec.node_name == node
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the Deployment controller made no daemon pod")
    pods.stop(daemon_id)
    with pytest.raises(ApiException) as gone:
        client.AppsV1Api(admin).read_namespaced_deployment(deployment_name(daemon_id), NAMESPACE)
    assert gone.value.status == 404


def test_plugin_may_not_run_an_mps_daemon_on_another_node(deployed, tmp_path):
    """The ValidatingAdmissionPolicy of manifests/deploy: a daemon Deployment pinned to another
    node, or not labelled as a daemon, is refused for the plugin's identity."""
    _plugin_api(deployed, "mps-other", tmp_path)
    api = _plugin_api(deployed, "mps-self", tmp_path)
    forged = MpsDaemonPods(api, namespace=NAMESPACE, node_name="mps-other", root=tmp_path / "mps",
                           image="ghcr.io/dra-gpu/dra-gpu-driver:0.1.0", ready_timeout=1, poll=0.5)
    body = forged.deployment("forged-claim-0", ["GPU-00000000-0000-0000-0000-000000000000"], MpsSettings(None, {}))
    unlabelled = MpsDaemonPods(api, namespace=NAMESPACE, node_name="mps-self", root=tmp_path / "mps2",
                               image="x", ready_timeout=1).deployment("plain-0", [], MpsSettings(None, {}))
    for labels in (unlabelled["metadata"]["labels"], unlabelled["spec"]["selector"]["matchLabels"],
                   unlabelled["spec"]["template"]["metadata"]["labels"]):
        labels["app.kubernetes.io/name"] = "something-else"
    admin = deployed.api_client()
    for doc, words in ((body, "may not write MPS daemons for node 'mps-other'"),
                       (unlabelled, "may only write MPS control-daemon Deployments")):
        deadline = time.monotonic() + 30  # the VAP informer may not have the policy yet
        while True:
            try:
                client.AppsV1Api(api).create_namespaced_deployment(NAMESPACE, doc)
            except ApiException as e:
                assert e.status in (403, 422) and words in e.body, e.body
                break
            client.AppsV1Api(admin).delete_namespaced_deployment(doc["metadata"]["name"], NAMESPACE)
            assert time.monotonic() < deadline, f"the plugin on mps-self was allowed: {doc['metadata']['name']}"
            time.sleep(1)
