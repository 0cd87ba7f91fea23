"""kube-controller-manager for a control plane without kubelets.

Every default controller runs (the resource-claim controller makes claims from templates and
frees them; the service-account controllers make the tokens' ServiceAccounts; the garbage
collector removes slices whose Node goes) except the node-lifecycle controller: with no
kubelet, it would mark every Node NotReady and taint it, and the scheduler would place nothing.
"""

from __future__ import annotations

from pathlib import Path

from dra.testing.cluster.apiserver import gate_flag
from dra.testing.cluster.pki import Pki
from dra.testing.cluster.process import Component, argv
from dra.versions import KubernetesVersion


def controller_manager_component(binary: Path, kubeconfig: Path, pki: Pki, version: KubernetesVersion, *,
                                 port: int, log: Path) -> Component:
    options: dict[str, object] = {
        "kubeconfig": kubeconfig,
        "authentication_kubeconfig": kubeconfig,
        "authorization_kubeconfig": kubeconfig,
        "controllers": "*,-node-lifecycle-controller",
        "leader_elect": False,
        "bind_address": "127.0.0.1",
        "secure_port": port,
        "use_service_account_credentials": True,
        "service_account_private_key_file": pki.sa_key,
        "root_ca_file": pki.ca_crt,
        "cluster_signing_cert_file": pki.ca_crt,
        "cluster_signing_key_file": pki.ca_key,
        "feature_gates": gate_flag(version),
        "v": 1,
    }
    return Component("kube-controller-manager", argv(binary, options), log)
