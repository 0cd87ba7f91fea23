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
                        log: Path, config: Path | None = None, name: str = "kube-scheduler") -> Component:
    """The scheduler process; ``config``: a KubeSchedulerConfiguration file (see
    :func:`write_scheduler_config`), which then holds the kubeconfig and leader election."""
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
    if config is not None:  # with --config, kube-scheduler ignores --kubeconfig and --leader-elect
        del options["kubeconfig"], options["leader_elect"]
        options["config"] = config
    return Component(name, argv(binary, options), log)


def write_scheduler_config(path: Path, kubeconfig: Path, *, scheduler_name: str, parallelism: int = 16,
                           percentage_of_nodes_to_score: int | None = None) -> Path:
    """A KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) with one profile named
    ``scheduler_name`` (pods choose it by ``spec.schedulerName``), upstream's default plugins,
    no leader election. ``parallelism`` 1 makes the node walk sequential and so deterministic;
    ``percentage_of_nodes_to_score`` None leaves upstream's adaptive default."""
    import yaml

    config: dict[str, object] = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "leaderElection": {"leaderElect": False},
        "parallelism": parallelism,
        "profiles": [{"schedulerName": scheduler_name}],
    }
    if percentage_of_nodes_to_score is not None:
        config["percentageOfNodesToScore"] = percentage_of_nodes_to_score
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
