"""The real kube-scheduler samples nodes as the simulator's ``--percentage-of-nodes-to-score 0`` does.

kube-scheduler stops filtering once it has found ``numFeasibleNodesToFind`` feasible nodes
(upstream's adaptive default: 50 - nodes/125 percent, at least 100 nodes) and scores only those;
the next cycle starts where this one stopped (simulator.sampling). Upstream filters in parallel,
so which nodes a cycle keeps varies; with ``parallelism: 1`` the walk is sequential, which is
what the simulator models, and the answer below is deterministic.

Scenario, in the session's shared control plane: 150 equal CPU-only Nodes ``zz-sampling-000`` ...
``-149`` (cpu 8, memory 32Gi), labelled for this test, then a second kube-scheduler
(``parallelism: 1``, profile ``dra-gpu-sampling``, the adaptive default). Its node list is in the
order its informer delivered the Nodes, which is not their name order; the scheduler logs it
("Added node to NodeTree", -v=2), and the test reads it there. The Node of ours that comes last
in that order is then made large (cpu 128, memory 512Gi): kube-scheduler's default scores
(LeastAllocated, BalancedAllocation) prefer it for any small pod. Other tests' Nodes are in the
list too, infeasible for these pods (the label). Pods through that scheduler, one after the other:

0. ``probe`` (cpu 9) fits only the large Node: it binds there once the scheduler has seen the
   Node's new size (every cycle before that finds nothing and walks every node, so the walk's
   start does not move);
1. ``sampling-1`` (cpu 1, memory 1Gi): the cycle keeps the first ``want`` (100 here) of our
   Nodes in list order and stops at the next feasible one; the large Node lies beyond, unseen,
   and the pod goes to one of the kept small Nodes (all equal: a random one);
2. ``sampling-2``: the cycle starts there, reaches the large Node, and binds the pod to it.

The simulator (kube-default policy, the same Nodes with the scheduler's node list given as its
own, the others as Nodes no pod fits) must give the same answers; with every node scored (100)
its ``sampling-1`` goes to the large Node, which shows that step 1 is the sampling's doing.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.real

NS = "default"
LABEL = "dra-gpu-test/sampling"
SCHEDULER = "dra-gpu-sampling"
OURS = [f"zz-sampling-{i:03d}" for i in range(150)]
SMALL_CPU, SMALL_MEM_GI = 8, 32
LARGE_CPU, LARGE_MEM_GI = 128, 512
POD_CPU_MILLI, POD_MEM_MIB = 1000, 1024
PROBE_CPU_MILLI = 9000  # more than a small Node has: fits the large Node only
BIND_WAIT = 90.0


def _node(name: str, cpu: int, mem_gi: int) -> dict:
    from dra.testing.cluster.fleet import ready_node

    return ready_node(name, {LABEL: "yes"}, cpu=str(cpu), memory=f"{mem_gi}Gi")


def _create_nodes(api) -> None:  # noqa: ANN001
    from dra.testing.cluster.fleet import apply_node

    for name in OURS:
        apply_node(api, _node(name, SMALL_CPU, SMALL_MEM_GI))


def _node_order(log: Path, expected: set[str], timeout: float = 60.0) -> list[str]:
    """The scheduler's node list, in order, from its log (once every expected Node is in it)."""
    added = re.compile(r'"Added node to NodeTree" node="([^"]+)"')
    deadline = time.monotonic() + timeout
    while True:
        order = list(dict.fromkeys(added.findall(log.read_text(errors="replace"))))
        if expected <= set(order) or time.monotonic() > deadline:
            assert expected <= set(order), f"the scheduler did not list every Node in {timeout:.0f}s (log {log})"
            return order
        time.sleep(0.2)


def _pod(name: str, cpu_milli: int = POD_CPU_MILLI) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
            "spec": {"schedulerName": SCHEDULER, "nodeSelector": {LABEL: "yes"},
                     "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"requests": {"cpu": f"{cpu_milli}m",
                                                                "memory": f"{POD_MEM_MIB}Mi"}}}]}}


def _bind(core: client.CoreV1Api, name: str, log: Path, cpu_milli: int = POD_CPU_MILLI) -> str:
    core.create_namespaced_pod(NS, _pod(name, cpu_milli))
    deadline = time.monotonic() + BIND_WAIT
    while time.monotonic() < deadline:
        node = core.read_namespaced_pod(name, NS).spec.node_name
        if node:
            return node
        time.sleep(0.2)
    raise AssertionError(f"pod {name} not bound by {SCHEDULER} in {BIND_WAIT:.0f}s (log {log})")


def _simulated(order: list[str], large: str, percentage: int) -> list[str]:
    """Where the simulator's kube-default sends the probe and the two pods on the same Nodes."""
    from simulator.engine import build_cluster, demand_for
    from simulator.fleet.model import Fleet, NodeSpec
    from simulator.placement import get_placement
    from simulator.scoring import get_policy
    from simulator.trace.model import Pod, Trace

    specs = []
    for name in order:
        if name == large:
            specs.append(NodeSpec(name, LARGE_CPU * 1000, LARGE_MEM_GI * 1024, 0, ""))
        elif name in OURS:
            specs.append(NodeSpec(name, SMALL_CPU * 1000, SMALL_MEM_GI * 1024, 0, ""))
        else:  # another test's Node: the pods' node selector rules it out
            specs.append(NodeSpec(name, 0, 0, 0, ""))
    pods = [Pod("probe", PROBE_CPU_MILLI, POD_MEM_MIB)] + [Pod(f"sampling-{i}", POD_CPU_MILLI, POD_MEM_MIB)
                                                          for i in (1, 2)]
    place = get_placement("device-plugin")
    cluster, _ = build_cluster(Fleet("sampling", specs), Trace("t", pods), place, get_policy("kube-default"), 7,
                               "random", percentage, node_list=list(range(len(specs))))
    out = []
    for pod in pods:
        b = cluster.schedule(pod, demand_for(place, pod), 0.0)
        assert b is not None
        out.append(cluster.nodes[b.node].name)
    return out


def test_kube_scheduler_scores_only_the_first_feasible_nodes_as_the_simulator_does(cluster, tmp_path):
    from dra.testing.cluster.process import free_port, https_ok
    from dra.testing.cluster.scheduler import scheduler_component, write_scheduler_config
    from simulator.sampling import num_feasible_nodes_to_find

    api = cluster.api_client()
    core = client.CoreV1Api(api)
    _create_nodes(api)
    kubeconfig = cluster.dir / "scheduler.kubeconfig"
    config = write_scheduler_config(tmp_path / "sampling.yaml", kubeconfig, scheduler_name=SCHEDULER, parallelism=1)
    port = free_port()
    log = tmp_path / "kube-scheduler-sampling.log"
    sched = scheduler_component(cluster.binaries.kube_scheduler, kubeconfig, cluster.version, port=port, log=log,
                                config=config, name="kube-scheduler-sampling")
    sched.start()
    pods = ["probe", "sampling-1", "sampling-2"]
    try:
        sched.wait_ready(lambda: https_ok(f"https://127.0.0.1:{port}/healthz", None), 60)
        order = _node_order(log, {n.metadata.name for n in core.list_node().items})
        ours_in_order = [n for n in order if n in OURS]
        want = num_feasible_nodes_to_find(0, len(order))
        if want >= len(OURS):
            pytest.skip(f"{len(order)} Nodes in the shared cluster: a cycle keeps {want}, ours all fit one window")
        large = ours_in_order[-1]
        body = _node(large, LARGE_CPU, LARGE_MEM_GI)
        core.patch_node_status(large, {"status": body["status"]})
        real = [_bind(core, "probe", log, PROBE_CPU_MILLI), _bind(core, "sampling-1", log),
                _bind(core, "sampling-2", log)]
    finally:
        sched.stop()
        for name in pods:
            try:
                core.delete_namespaced_pod(name, NS, grace_period_seconds=0)
            except ApiException:
                pass
        for name in OURS:
            try:
                core.delete_node(name)
            except ApiException:
                pass

    window = set(ours_in_order[:want])
    simulated = _simulated(order, large, 0)
    every_node = _simulated(order, large, 100)
    assert every_node[1] == large  # scored, the large Node wins: step 1 below is the sampling
    for who, (probe, first, second) in (("kube-scheduler", real), ("simulator", simulated)):
        assert probe == large, f"{who}: the probe went to {probe}, not {large}"
        assert first in window, f"{who}: sampling-1 went to {first}, outside the first {want} feasible Nodes"
        assert second == large, f"{who}: sampling-2 went to {second}, not {large}"
