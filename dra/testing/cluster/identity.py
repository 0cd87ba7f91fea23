"""The kubelet plugin's own identity on a real cluster: its ServiceAccount, a Pod on a node, a bound token.

On a real node the plugin runs in a DaemonSet pod and talks to the API server with the pod's
projected service-account token. Such a token is bound to the pod, and (since 1.32,
ServiceAccountTokenPodNodeInfo) carries the pod's node name, which is what the
ValidatingAdmissionPolicy in ``manifests/deploy/vap.yaml`` and the 1.36+ ``associated-node:``
verbs check. Without a kubelet, :func:`plugin_kubeconfig` makes the same thing by hand: a Pod
object of the plugin's ServiceAccount bound to the node (it never runs), a TokenRequest for
that pod, and a kubeconfig carrying the token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dra.testing.cluster.kubeconfig import write_kubeconfig

NAMESPACE = "dra-gpu-driver"
SERVICE_ACCOUNT = "dra-gpu-kubelet-plugin"


def bind_plugin_pod(api_client: Any, node: str, *, namespace: str = NAMESPACE,
                    service_account: str = SERVICE_ACCOUNT) -> Any:
    """A Pod of the plugin's ServiceAccount bound to ``node`` (created by an admin; never runs)."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(api_client)
    name = f"dra-gpu-kubelet-plugin-{node}"[:63].rstrip("-")
    body = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": "dra-gpu-driver"}},
        "spec": {"serviceAccountName": service_account, "nodeName": node,
                 "containers": [{"name": "plugin", "image": "dra-gpu:test"}]},
    }
    try:
        return core.create_namespaced_pod(namespace, body)
    except ApiException as e:
        if e.status != 409:
            raise
        return core.read_namespaced_pod(name, namespace)


def pod_token(api_client: Any, pod: Any, *, seconds: int = 3600) -> str:
    """A TokenRequest for the pod's ServiceAccount, bound to the pod (so it names the pod's node)."""
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    body = {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"expirationSeconds": seconds,
                 "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": pod.metadata.name, "uid": pod.metadata.uid}},
    }
    resp = core.create_namespaced_service_account_token(pod.spec.service_account_name, pod.metadata.namespace, body)
    return resp.status.token


def plugin_kubeconfig(api_client: Any, server: str, ca: Path, node: str, path: Path) -> Path:
    """Write a kubeconfig that is the plugin on ``node``: its SA's pod-bound token."""
    pod = bind_plugin_pod(api_client, node)
    token = pod_token(api_client, pod)
    return write_kubeconfig(path, server, ca, user=f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}", token=token)
