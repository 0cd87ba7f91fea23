"""The real kube-scheduler scores a MIG-profile claim's ``firstAvailable`` as the simulator does.

The simulator (``DraPlacement.claim_score``, added to ``kube-default`` by
:mod:`simulator.scoring.kube`) models kube-scheduler's DynamicResources *Score* (1.35+,
upstream ``computeScore``): per ``firstAvailable`` request a node scores ``8 - i``, ``i`` the
index of the subrequest the allocator took there; normalised x100 by the best node and weighted
2, so a node where the MIG-profile pod's claim gets its first alternative (a partition, ``mig``)
scores 200 and one where only the second fits (a share, ``share``) 2 * (100 * 7 // 8) = 174.
1.34 has no such Score.

Scenario: two Nodes of the same shape (``h100-x1``: one H100 SXM5 80GB; cpu 128, memory 1Ti,
pods 110 as every test Node), both publishing what the simulator publishes in its shared mode
(:func:`simulator.placement.dra_mig.build_shared_mig_slices`: the shared GPU and its
dynamic-MIG partitions, all consuming one counter set), through our publisher. Pods, in order:

1. ``hog`` (CPU only, cpu 16, memory 1Gi) pinned to A: A is much busier in CPU;
2. ``share`` (cpu 1, memory 1Gi, a 500-milli share of a shared GPU: the simulator's claim)
   pinned to B: B's GPU is shared, its counters are held, no partition can be made there;
3. ``mig-on-b`` (cpu 1, memory 1Gi, the simulator's own 1g.10gb claim from
   ``DraPlacement.claim_dict``: firstAvailable [mig, share]) pinned to B must get ``gpu/share``:
   B is feasible for that claim, through its second alternative only (and stays so: two shares
   of 500 and 142 leave room for a third);
4. ``probe`` (CPU only, cpu 1, memory 1Gi) may go to A or B (a label both carry, no pin): the
   real scheduler must send it to B -- the other default scores favour B;
5. ``mig`` (cpu 1, memory 1Gi, the same claim as 3.) may go to A or B: 1.35+ must bind it to A
   with ``gpu/mig`` (the DynamicResources score outweighs the rest), 1.34 to B with ``gpu/share``.

Expected upstream scores for step 5 (NodeResourcesFit LeastAllocated and BalancedAllocation,
weight 1 each, over cpu and memory with the incoming pod counted; TaintToleration, NodeAffinity,
InterPodAffinity, PodTopologySpread and ImageLocality are equal on both nodes: no taints,
preferred terms, pod affinities, spread constraints or images)::

    A: cpu 16+1 = 17 of 128, memory 2Gi of 1Ti
       LeastAllocated  ((128000-17000)*100/128000 = 86, (1Ti-2Gi)*100/1Ti = 99) -> 185/2 = 92
       Balanced        fractions 0.1328, 0.0020 -> std 0.0654 -> int(93.46)        = 93
       DynamicResources (1.35+) gpu/mig, 8 - 0 = 8 -> 8*100/8 = 100, x2              = 200
    B: cpu 1+1+1+1 = 4 of 128, memory 4Gi of 1Ti
       LeastAllocated  (124000*100/128000 = 96, 99)                     -> 195/2 = 97
       Balanced        fractions 0.0313, 0.0039 -> std 0.0137 -> int(98.63)        = 98
       DynamicResources (1.35+) gpu/share, 8 - 1 = 7 -> 7*100/8 = 87, x2             = 174
    1.35+: A 92+93+200 = 385, B 97+98+174 = 369 -> A (by 16)
    1.34:  A 185, B 195                        -> B (by 10)

The other scores favour B by 10 (the probe in step 4 saw A 185, B 98+98 = 196), less than the
26 the DynamicResources score is worth, and clearly: the probe shows that the real scheduler
sends a pod with the same cpu/memory to B.

The simulator is asked the same question (same profile, same cpu/memory, the same pods bound
through its placement): its claim score must be 200 on A and 174 on B (0 on 1.34), its
``kube-default`` totals the ones above, and the device it allocates the real one.

1.34 runs the scenario only if its scheduler places step 3's pod on B. It does not (seen with
1.34.4: "cannot allocate all claims", though a plain share claim of the same size does fit
there), nor does the simulator's 1.34 allocator; then no node offers only the share
alternative, and the test skips saying so.

1.35 takes a different path, and the simulator follows it: its allocator holds shared counters
for dedicated devices only (``AllocatedDevices``; 1.36 made it ``IsDeviceAllocated``, shares
included), so a GPU holding a share still gives a MIG partition. Step 3 then gets ``gpu/mig``
on B, both nodes score 200 in step 5, and the other scores send the pod to B (195 + 200 against
185 + 200). Seen first on the real 1.35.4 scheduler with this test; ``dra.allocator`` and the
simulator's 1.35 index were corrected after it (tests/data/oracle-regressions/1.35-shared-device-
counters-not-held.json). Expectations below are therefore taken from the simulator's own answers
(its devices, claim scores and kube-default totals), with the hand-computed numbers above
asserted where they apply.

Informer races: Node A and its slices are created before B's, and the scheduler sees each kind
through one watch in resourceVersion order, so once it has placed ``share`` on B's devices it
knows A's Node and slices too; DeviceClasses are applied before either. A pod is waited for
until bound; an Unschedulable verdict counts only once it has stood :data:`SETTLE` seconds
(the scheduler retries by itself when a lagging object arrives).
"""

from __future__ import annotations

import json
import random
import subprocess
import time
from pathlib import Path

import pytest
from kubernetes import client

from dra.testing.cluster.rest import wait_default_service_account

pytestmark = pytest.mark.real

REPO = Path(__file__).resolve().parents[2]
PROFILE = "h100-x1"
MODEL = "H100-SXM5-80GB"
MIG_PROFILE = "1g.10gb"
NS = "scoring"
NODE_A, NODE_B = "score-a", "score-b"
GROUP_LABEL = "dra-gpu.test/scoring"  # on A and B only: the unpinned pods may go to either, nowhere else
NODE_CPU_MILLI, NODE_MEM_MIB = 128_000, 1 << 20  # dra.testing.cluster.fleet's NODE_CPU and NODE_MEMORY
HOG_CPU, SMALL_CPU, POD_MEM_MIB = 16_000, 1_000, 1024
SCHEDULE_WAIT = 90.0
# An Unschedulable verdict must stand this long to count (the scheduler retries when a lagging
# informer catches up; a loaded 2-core machine delays that): long where a bind is expected.
SETTLE = 30.0

# Step 5's expected scores (module docstring): LeastAllocated + BalancedAllocation, and DynamicResources (1.35+)
EXPECTED_OTHER = {NODE_A: 92 + 93, NODE_B: 97 + 98}
EXPECTED_CLAIM = {NODE_A: 200, NODE_B: 174}  # B: 200 on 1.35, whose step 3 takes a partition on B too


def _request(device: str | None) -> str:
    """The subrequest of the [mig, share] claim a device answers."""
    return "gpu/mig" if device and "-mig-" in device else "gpu/share"


# ----------------------------------------------------------------------------------- the simulator
def _sim_pods():
    from simulator.trace.model import Pod

    mig = dict(num_gpu=1, gpu_milli=-(-1000 // 7), gpu_memory_mib=10240, mig_profile=MIG_PROFILE)
    return {
        "hog": Pod("hog", HOG_CPU, POD_MEM_MIB),
        "share": Pod("share", SMALL_CPU, POD_MEM_MIB, num_gpu=1, gpu_milli=500),
        "mig-on-b": Pod("mig-on-b", SMALL_CPU, POD_MEM_MIB, **mig),
        "probe": Pod("probe", SMALL_CPU, POD_MEM_MIB),
        "mig": Pod("mig", SMALL_CPU, POD_MEM_MIB, **mig),
    }


def _simulator(version):
    """The simulator's DRA placement over A and B with steps 1-4 bound as the cluster binds them:
    (placement, {node name: NodeState}, pods, {pod: device it got}); a device is None where the
    simulator's allocator refused the pod."""
    from dra.testing.cluster.apiserver import NEVER_ON
    from simulator.fleet.model import Fleet, NodeSpec as SimNodeSpec
    from simulator.placement import get_placement
    from simulator.state import Counters, NodeState

    specs = [SimNodeSpec(n, NODE_CPU_MILLI, NODE_MEM_MIB, 1, MODEL, profile=PROFILE) for n in (NODE_A, NODE_B)]
    nodes = {s.name: NodeState(i, s, 0) for i, s in enumerate(specs)}
    gates = {g: on for g, on in version.gates.items() if not (on and g in NEVER_ON)}  # the cluster's gates
    placement = get_placement("dra", kubernetes_version=version.minor, feature_gates=gates)
    placement.setup(list(nodes.values()), Fleet("scoring", specs), Counters())
    pods = _sim_pods()
    devices: dict[str, str | None] = {}
    for name, node_name in (("hog", NODE_A), ("share", NODE_B), ("mig-on-b", NODE_B), ("probe", NODE_B)):
        node, pod = nodes[node_name], pods[name]
        d = placement.demand(pod)
        if d.count:
            gpus = placement.eligible(node, d)
            b = placement.bind(node, pod, d, tuple(gpus[: d.count]), 0.0) if len(gpus) >= d.count else None
            devices[name] = b and b.detail[0][1]
            if b is None:
                continue
        node.cpu_free -= d.cpu
        node.mem_free -= d.mem
    return placement, nodes, pods, devices


def _claim(placement, pod, name: str) -> dict:
    claim = placement.claim_dict(placement.demand(pod), None, name=name)
    claim["metadata"]["namespace"] = NS
    return claim


# ----------------------------------------------------------------------------------- the cluster
def _node(api, name: str, version: str) -> None:
    """Node ``name`` (built-in ``h100-x1``) labelled for this test, its slices the simulator's."""
    from dra.gpu.builtin import load_profile
    from dra.slices import DRIVER_NAME
    from dra.slices.publisher import SlicePublisher
    from dra.testing.cluster.fleet import create_node
    from simulator.placement.dra_mig import build_shared_mig_slices

    inventory = load_profile(PROFILE, name)
    node = create_node(api, inventory)
    client.CoreV1Api(api).patch_node(name, {"metadata": {"labels": {GROUP_LABEL: "yes"}}})
    SlicePublisher(api, DRIVER_NAME, name, node.metadata.uid).publish(build_shared_mig_slices(inventory, version))


def _pod(name: str, cpu_milli: int, claim: str | None = None, node: str | None = None) -> dict:
    container: dict = {"name": "c", "image": "registry.k8s.io/pause:3.10",
                       "resources": {"requests": {"cpu": f"{cpu_milli}m", "memory": f"{POD_MEM_MIB}Mi"}}}
    spec: dict = {"containers": [container],
                  "nodeSelector": {"kubernetes.io/hostname": node} if node else {GROUP_LABEL: "yes"}}
    if claim:
        container["resources"]["claims"] = [{"name": "gpu"}]
        spec["resourceClaims"] = [{"name": "gpu", "resourceClaimName": claim}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS}, "spec": spec}


def _unschedulable(pod) -> str | None:
    for cond in pod.status.conditions or []:
        if cond.type == "PodScheduled" and cond.status == "False" and cond.reason == "Unschedulable":
            return cond.message or ""
    return None


def _bind(cluster, pod: dict, claim: dict | None = None, settle: float = SETTLE):
    """Create ``claim`` and ``pod``; wait for the scheduler: (node, allocation results) once it
    binds the pod, (None, verdict) once an Unschedulable verdict has stood ``settle`` seconds."""
    api = cluster.api_client()
    core, rapi = client.CoreV1Api(api), client.ResourceV1Api(api)
    if claim is not None:
        rapi.create_namespaced_resource_claim(NS, claim)
    name = pod["metadata"]["name"]
    core.create_namespaced_pod(NS, pod)
    deadline = time.monotonic() + SCHEDULE_WAIT + settle
    since: float | None = None
    message = ""
    while time.monotonic() < deadline:
        p = core.read_namespaced_pod(name, NS)
        if p.spec.node_name:
            results: list[dict] = []
            if claim is not None:
                results = _results(cluster, claim["metadata"]["name"], deadline)
            return p.spec.node_name, results
        m = _unschedulable(p)
        if m is None:
            since = None
        else:
            message = m
            since = since or time.monotonic()
            if time.monotonic() - since >= settle:
                return None, message
        time.sleep(0.2)
    raise AssertionError(f"Kubernetes {cluster.version.minor}: kube-scheduler neither bound pod {NS}/{name} nor "
                         f"called it unschedulable in {SCHEDULE_WAIT:.0f}s (log {cluster.log('kube-scheduler')})")


def _bound(cluster, pod: dict, claim: dict | None = None) -> tuple[str, list[dict]]:
    node, res = _bind(cluster, pod, claim)
    assert node is not None, (f"Kubernetes {cluster.version.minor}: pod {pod['metadata']['name']} unschedulable "
                              f"for {SETTLE:.0f}s: {res} (log {cluster.log('kube-scheduler')})")
    return node, res


def _results(cluster, claim: str, deadline: float) -> list[dict]:
    """The claim's allocation results (the scheduler writes them before it binds the pod)."""
    from dra.testing.cluster.rest import raw

    while True:
        obj = raw(cluster.api_client(), "GET", f"/apis/resource.k8s.io/v1/namespaces/{NS}/resourceclaims/{claim}")
        results = ((((obj.get("status") or {}).get("allocation") or {}).get("devices") or {}).get("results"))
        if results or time.monotonic() > deadline:
            assert results, f"claim {claim}: pod bound but no allocation: {json.dumps(obj.get('status'))[:800]}"
            return results
        time.sleep(0.2)


def _show(node: str | None, results) -> str:
    if node is None:
        return f"unschedulable ({results})"
    return f"{node} with " + ", ".join(f"{r['request']}={r['pool']}/{r['device']}" for r in results)


def _got(node: str | None, results) -> tuple:
    """(node, [(request, pool/device)]) of a bound pod."""
    return node, [(r["request"], f"{r['pool']}/{r['device']}") for r in results or []]


# ----------------------------------------------------------------------------------- the test
def test_dynamic_resources_score_prefers_the_first_available_alternative(cluster):
    version = cluster.version
    minor = version.minor
    scored = version.at_least("1.35")  # computeScore is in DynamicResources from 1.35
    for gate in ("DRAPrioritizedList", "DRAConsumableCapacity", "DRAPartitionableDevices"):
        if not version.enabled(gate):  # firstAvailable, shares, partitions sharing the counter set
            pytest.skip(f"Kubernetes {minor}: {gate} is off in this control plane")

    # The simulator's prediction first (it needs no cluster).
    from simulator.scoring.base import ScoringContext
    from simulator.scoring.kube import KubeDefault

    placement, sim_nodes, pods, sim_devices = _simulator(version)
    a, b = sim_nodes[NODE_A], sim_nodes[NODE_B]
    totals = {NODE_A: 0, NODE_B: 0}  # filled below when the simulator places step 3 at all
    if sim_devices["mig-on-b"] is not None:
        d = placement.demand(pods["mig"])
        claim_scores = {NODE_A: placement.claim_score(a, d), NODE_B: placement.claim_score(b, d)}
        expected_claim = dict(EXPECTED_CLAIM) if scored else {NODE_A: 0, NODE_B: 0}
        if scored and _request(sim_devices["mig-on-b"]) == "gpu/mig":  # 1.35: B gave a partition in step 3
            expected_claim[NODE_B] = 200
        assert claim_scores == expected_claim, f"simulator's DynamicResources score on {minor}"
        ctx = ScoringContext(rng=random.Random(0), frag=None, eligible=placement.eligible,
                             claim_score=placement.claim_score)
        totals = {NODE_A: KubeDefault().score(a, d, ctx), NODE_B: KubeDefault().score(b, d, ctx)}
        assert totals == {n: EXPECTED_OTHER[n] + expected_claim[n] for n in (NODE_A, NODE_B)}, \
            f"simulator's kube-default totals on {minor}"
        for name, node in ((NODE_A, a), (NODE_B, b)):  # the device the claim gets on each node
            gpus = placement.eligible(node, d)
            bound = placement.bind(node, pods["mig"], d, tuple(gpus[:1]), 0.0)
            assert bound is not None, f"simulator: the MIG pod does not fit on {name}"
            sim_devices[f"mig@{name}"] = bound.detail[0][1]
            placement.release(node, bound)

    # The cluster: DeviceClasses, then A (wholly), then B.
    api = cluster.api_client()
    core = client.CoreV1Api(api)
    subprocess.run(["/usr/bin/kubectl", "--kubeconfig", str(cluster.kubeconfig), "apply", "--server-side",
                    "--force-conflicts", "-f", str(REPO / "manifests/deviceclasses.yaml")],
                   capture_output=True, text=True, timeout=120, check=True)
    core.create_namespace({"metadata": {"name": NS}})
    wait_default_service_account(api, NS)
    _node(api, NODE_A, minor)
    _node(api, NODE_B, minor)

    # 1. A busy in CPU; 2. B's GPU shared
    assert _bound(cluster, _pod("hog", HOG_CPU, node=NODE_A))[0] == NODE_A
    node, res = _bound(cluster, _pod("share", SMALL_CPU, "share", node=NODE_B),
                       _claim(placement, pods["share"], "share"))
    assert _got(node, res) == (NODE_B, [("gpu", f"{NODE_B}/{sim_devices['share']}")]), _show(node, res)

    # 3. the MIG claim fits on B, through its share alternative only
    node, res = _bind(cluster, _pod("mig-on-b", SMALL_CPU, "mig-on-b", node=NODE_B),
                      _claim(placement, pods["mig-on-b"], "mig-on-b"), settle=SETTLE if scored else 5.0)
    if node is None and sim_devices["mig-on-b"] is None and not scored:
        pytest.skip(f"Kubernetes {minor}: kube-scheduler does not place the [mig, share] claim on a GPU that "
                    f"holds a share (neither does the simulator's {minor} allocator): {res.split(' still ')[0]} -- "
                    "so no node offers only the share alternative, and without DynamicResources' Score there is "
                    "nothing else to check")
    # Every step is checked, each disagreement noted and the next step still run: the failure
    # then says what the real scheduler did with the whole scenario.
    disagreements = []
    sim_b = sim_devices["mig-on-b"]
    if _got(node, res) != (NODE_B, [(_request(sim_b), f"{NODE_B}/{sim_b}")]):
        disagreements.append(f"step 3: the MIG claim pinned to {NODE_B} got {_show(node, res)}; the simulator "
                             + (f"gives {NODE_B}/{sim_b} ({_request(sim_b)})" if sim_b else "refuses it"))

    # 4. the other scores favour B (A 185, B 196)
    node, _ = _bound(cluster, _pod("probe", SMALL_CPU))
    if node != NODE_B:
        disagreements.append(f"step 4: a CPU-only pod went to {node}, but LeastAllocated + BalancedAllocation "
                             f"favour {NODE_B} (A 185, B 196)")

    # 5. the unpinned MIG pod
    node, res = _bound(cluster, _pod("mig", SMALL_CPU, "mig"), _claim(placement, pods["mig"], "mig"))
    # The simulator's kube-default totals decide: 1.36+ A 385 = 185 + 200, B 369 = 195 + 174 (A);
    # 1.35 A 385, B 395 = 195 + 200 (B, with a partition); 1.34 A 185, B 195 (B, no such score)
    best = max((NODE_A, NODE_B), key=lambda n: totals[n])
    device = sim_devices.get(f"mig@{best}")
    want = (best, [(_request(device), f"{best}/{device}")])
    why = ", ".join(f"{n} {totals[n]}" for n in (NODE_A, NODE_B))
    if _got(node, res) != want:
        disagreements.append(f"step 5: the unpinned MIG pod went to {_show(node, res)}; the simulator's model "
                             f"says {want[0]} with {want[1][0][0]}={want[1][0][1]} ({why})")
    assert not disagreements, (f"Kubernetes {minor}: " + "; ".join(disagreements)
                               + f" (log {cluster.log('kube-scheduler')})")
