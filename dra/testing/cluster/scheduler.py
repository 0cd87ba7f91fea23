"""kube-scheduler for a control plane without kubelets: one instance, no leader election.

Its DynamicResources plugin is upstream's allocator, so the allocations it writes into
ResourceClaim status are the reference the real-cluster tests compare ``dra allocate`` with.
"""

from __future__ import annotations

from pathlib import Path

from dra.testing.cluster.apiserver import gate_flag
from dra.testing.cluster.process import Component, argv
from dra.versions import KubernetesVersion


def scheduler_component(binary: Path, kubeconfig: Path, version: KubernetesVersion, *, port: int,
                        log: Path) -> Component:
    options: dict[str, object] = {
        "kubeconfig": kubeconfig,
        "authentication_kubeconfig": kubeconfig,
        "authorization_kubeconfig": kubeconfig,
        "leader_elect": False,
        "bind_address": "127.0.0.1",
        "secure_port": port,
        "feature_gates": gate_flag(version),
        "v": 2,
    }
    return Component("kube-scheduler", argv(binary, options), log)
