"""The real kube-scheduler against ``dra allocate``: same devices, or the same unschedulable verdict.

Each scenario is one Node (a built-in profile, its slices published in one mode by our
publisher) and a sequence of Pods pinned to it (``nodeSelector``), each with ResourceClaims
from ``manifests/examples`` templates or generated claims, or containers asking for extended
resources (``nvidia.com/gpu: N``, served by DRA through the ``gpu.nvidia.com`` DeviceClass's
``extendedResourceName``, or ``deviceclass.resource.kubernetes.io/<class>``: KEP-5004, where the
scheduler makes the pod's claim). Pod by pod:

1. ``dra allocate --node N --together`` runs on the objects as the server holds them (the
   DeviceClasses, the node's slices, the pod's claims or templates, the Pod itself when it asks
   for extended resources, every claim already allocated as ``--allocated``);
2. the Pod is created and the real kube-scheduler (its DynamicResources plugin is upstream's
   allocator) either binds it, writing the claims' allocations, or reports it Unschedulable;
3. both answers must agree: for each claim and request the same devices, or both unschedulable.

An Unschedulable verdict is final only once it has stood for :data:`SETTLE` seconds
(:data:`DISAGREE_SETTLE` where ``dra allocate`` did allocate): the scheduler's informers may lag
the objects the test just created (a new Node still tainted not-ready or without allocatable,
ResourceSlices or a DeviceClass not seen yet), and then it retries by itself when they arrive.
A real disagreement stays one: it only costs the wait.

Cases where our allocator is known to differ from a version's scheduler are marked
``xfail(strict=True)`` with the exact gap, so they fail the day the gap closes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from dra.testing.cluster.fleet import NodeSpec, publish_node
from dra.testing.cluster.rest import raw_list as _raw_list
from dra.testing.cluster.rest import wait_default_service_account

pytestmark = pytest.mark.real

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "manifests/examples"
SCHEDULE_WAIT = 60.0
# Longer than the scheduler's retry of a pod that failed on stale informer data: the event that
# fixes it requeues the pod, which waits out its backoff (1 s, doubling per failed attempt).
SETTLE = 5.0
# When `dra allocate` did allocate, an Unschedulable verdict would be a disagreement: give the
# scheduler longer to change its mind (a loaded 2-core machine delays its event handling; seen on
# 1.36: "cannot allocate all claims" for 5 s on a node whose one slice had just been published).
DISAGREE_SETTLE = 30.0
EXTENDED_GATE = "DRAExtendedResource"
LAST_MESSAGE: dict[str, str] = {}


@dataclass(frozen=True)
class PodCase:
    """One pod: claims by template name (from manifests/examples or ``extra``) or inline claims."""

    templates: tuple[str, ...] = ()
    claims: tuple[dict, ...] = ()  # ResourceClaim specs created for this pod (spec.devices...)
    # Extended resources per container, e.g. ({"nvidia.com/gpu": 2}, {"nvidia.com/gpu": 1}): two
    # containers. One resource name per pod: 1.34 orders a pod's requests by iterating a Go map.
    extended: tuple[dict[str, int], ...] = ()
    init_extended: dict[str, int] | None = None  # one (plain) init container asking for these


@dataclass(frozen=True)
class Scenario:
    id: str
    profile: str
    mode: str
    pods: tuple[PodCase, ...]
    xfail: dict[str, str] = field(default_factory=dict)  # minor -> exact gap
    # Minors whose scheduler walks a pool's slices in informer order (1.34 and 1.35 do: none of
    # their allocator variants sorts; 1.36+ sorts them by name), so with several slices per node
    # which free device it takes differs from run to run: there only the verdict (allocated or
    # unschedulable) is compared, never the device names.
    verdict_only: frozenset[str] = frozenset()
    since: str = "1.34"  # the first minor whose scheduler serves the scenario (older: skipped, saying why)
    why_since: str = ""


def _count_claim(n: int, cls: str = "gpu.nvidia.com", mode: str = "ExactCount", selector: str | None = None) -> dict:
    exactly: dict = {"deviceClassName": cls, "allocationMode": mode}
    if mode == "ExactCount":
        exactly["count"] = n
    if selector:
        exactly["selectors"] = [{"cel": {"expression": selector}}]
    return {"devices": {"requests": [{"name": "gpus", "exactly": exactly}]}}


SCENARIOS = [
    Scenario("nvlink-dgx", "dgx-h100", "whole", (PodCase(("four-gpus-one-nvlink-domain",)),) * 3),
    Scenario("nvlink-pairs", "hgx-h100-pcie", "whole", (PodCase(("four-gpus-one-nvlink-domain",)),)),
    Scenario("gpu40-too-small", "inference-l4", "whole", (PodCase(("gpu-40gi",)),)),
    Scenario("gpu40-a100", "dgx-a100-40gb", "whole", (PodCase(("gpu-40gi",)),) * 2),
    Scenario("mig-static", "dgx-h100-mig-1g", "static-mig", (PodCase(("mig-1g10gb",)),) * 3),
    Scenario("mig-dynamic", "dgx-h100", "dynamic-mig", (PodCase(("mig-1g10gb",)),) * 2,
             verdict_only=frozenset({"1.34", "1.35"})),  # 4 slices per pool (seen on 1.35.4: gpu-6, then gpu-3)
    Scenario("shared-quarter", "h100-pcie-x2", "shared", (PodCase(("shared-gpu-quarter",)),) * 9),
    Scenario("claims-count", "dgx-h100", "whole", (
        PodCase(claims=(_count_claim(3),)), PodCase(claims=(_count_claim(3),)), PodCase(claims=(_count_claim(3),)),
        PodCase(claims=(_count_claim(2),)))),
    Scenario("claims-all-then-none", "inference-t4", "whole", (
        PodCase(claims=(_count_claim(0, mode="All"),)), PodCase(claims=(_count_claim(1),)))),
    Scenario("claims-selector-two", "dgx-h100", "whole", (
        PodCase(claims=(_count_claim(1, selector="device.attributes['gpu.nvidia.com'].index >= 6"),
                        _count_claim(1, selector="device.attributes['gpu.nvidia.com'].index >= 6"))),
        PodCase(claims=(_count_claim(1, selector="device.attributes['gpu.nvidia.com'].index >= 6"),)))),
    # KEP-5004: nvidia.com/gpu through gpu.nvidia.com's extendedResourceName. 3, then 2+2 in two
    # containers (requests container-0-request-0 and container-1-request-0), then 2 of the 1 left.
    Scenario("extended-gpus", "dgx-h100", "whole", (
        PodCase(extended=({"nvidia.com/gpu": 3},)),
        PodCase(extended=({"nvidia.com/gpu": 2}, {"nvidia.com/gpu": 2})),
        PodCase(extended=({"nvidia.com/gpu": 2},)))),
    # A pod with a claim of its own and an extended resource: the scheduler allocates the claims
    # of the pod together, its own extended-resource claim last.
    Scenario("extended-with-claim", "dgx-h100", "whole", (
        PodCase(templates=("four-gpus-one-nvlink-domain",), extended=({"nvidia.com/gpu": 2},)),
        PodCase(extended=({"nvidia.com/gpu": 2},)),
        PodCase(extended=({"nvidia.com/gpu": 1},)))),
    # A plain init container's GPUs: 1.35+ let it reuse the main container's 2 and ask for 1 more
    # (3 in all, so 4 more fit next), 1.34 asks for 3 + 2 (so the next 4 do not).
    Scenario("extended-init-container", "dgx-h100", "whole", (
        PodCase(extended=({"nvidia.com/gpu": 2},), init_extended={"nvidia.com/gpu": 3}),
        PodCase(extended=({"nvidia.com/gpu": 4},)))),
    # The implicit name every DeviceClass has, on static MIG slices.
    Scenario("extended-implicit-mig", "dgx-h100-mig-1g", "static-mig", (
        PodCase(extended=({"deviceclass.resource.kubernetes.io/mig.nvidia.com": 3},)),) * 2,
        since="1.35", why_since="kube-scheduler 1.34 does not take deviceclass.resource.kubernetes.io/<class> for an "
        "extended resource (IsExtendedResourceName is false in the kubernetes.io/ namespace) and binds the pod "
        "with no devices; 1.35 added IsDRAExtendedResourceName"),
]

def _params():
    out = []
    for s in SCENARIOS:
        out.append(pytest.param(s, id=s.id))
    return out


def _dump(path: Path, items: list[dict]) -> Path:
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return path


def _ours(cluster, tmp: Path, node: str, ns: str, pod_claims: list[dict], pod: dict | None = None) -> dict | None:
    """``dra allocate`` on the server's objects: {claim/template name: {request: [devices]}}, or None (unschedulable).

    ``pod``, when it asks for extended resources, goes in too: ``dra allocate`` makes its claim
    (``<pod>-extended-resources``) as the scheduler would."""
    api = cluster.api_client()
    slices = _raw_list(api, "/apis/resource.k8s.io/v1/resourceslices", [("fieldSelector", f"spec.nodeName={node}")])
    nodes = [n for n in _raw_list(api, "/api/v1/nodes") if n["metadata"]["name"] == node]
    allocated = [c for c in _raw_list(api, f"/apis/resource.k8s.io/v1/namespaces/{ns}/resourceclaims")
                 if (c.get("status") or {}).get("allocation")]
    for c in allocated:  # in use: never allocated again by `dra allocate`
        c["metadata"]["name"] = "inuse-" + c["metadata"]["name"]
    files = [_dump(tmp / "slices.json", slices), _dump(tmp / "nodes.json", nodes), _dump(tmp / "claims.json", pod_claims),
             REPO / "manifests/deviceclasses.yaml"]
    if pod is not None:
        files.append(_dump(tmp / "pod.json", [pod]))
    # The scheduler's own version and gates: `dra allocate` picks that version's allocator variant.
    argv = [sys.executable, "-m", "dra.cli", "allocate", "--node", node, "--together", "-o", "json",
            "--kubernetes-version", cluster.version.minor, "--feature-gates", cluster.version.feature_gates_flag()]
    for f in files:
        argv += ["-f", str(f)]
    if allocated:
        argv += ["--allocated", str(_dump(tmp / "allocated.json", allocated))]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if proc.returncode == 1:
        return None
    assert proc.returncode == 0, f"dra allocate failed ({proc.returncode}): {proc.stderr.strip()[-600:]}"
    out = json.loads(proc.stdout)
    items = out.get("items", [out]) if isinstance(out, dict) else out
    return {c["metadata"]["name"]: _devices(c) for c in items if c.get("kind") == "ResourceClaim"}


def _devices(claim: dict) -> dict[str, list[str]]:
    res: dict[str, list[str]] = {}
    for r in (((claim.get("status") or {}).get("allocation") or {}).get("devices") or {}).get("results") or []:
        res.setdefault(r["request"], []).append(f"{r['pool']}/{r['device']}")
    return {k: sorted(v) for k, v in res.items()}


def _only_selector_misses(message: str) -> bool:
    """``0/N nodes are available: N node(s) didn't match Pod's node affinity/selector.``: every node
    failed only the node selector, i.e. the scheduler does not know the pod's (pinned) node yet."""
    m = re.match(r"0/(\d+) nodes are available: (\d+) node\(s\) didn't match Pod's node affinity/selector\.", message)
    return bool(m) and m.group(1) == m.group(2)


def _unschedulable_message(pod, claims_ready: bool) -> str | None:
    """The scheduler's Unschedulable message, or None while there is none that can be a verdict."""
    for cond in pod.status.conditions or []:
        # A verdict counts once every claim of the pod exists: before that the scheduler only
        # says it waits for the resource-claim controller.
        # Nor does "no node matched the pod's nodeSelector" while the pod's own node is new: the
        # scheduler's informer may not have that Node yet, and it retries when the Node arrives.
        if (cond.type == "PodScheduled" and cond.status == "False" and cond.reason == "Unschedulable"
                and claims_ready and "waiting for" not in (cond.message or "")
                and not _only_selector_misses(cond.message or "")):
            return cond.message or ""
    return None


def _theirs(cluster, ns: str, pod_name: str, claim_names: dict[str, str], extended_key: str | None = None,
            settle: float = SETTLE) -> dict | None:
    """Wait for the scheduler: {our claim key: {request: [devices]}} once bound, None when Unschedulable.

    ``extended_key``: the key under which the claim the scheduler made for the pod's extended
    resources (``status.extendedResourceClaimStatus``) is reported. Unschedulable is final once it
    has stood for ``settle`` seconds (see the module docstring)."""
    core = client.CoreV1Api(cluster.api_client())
    rapi = client.ResourceV1Api(cluster.api_client())
    deadline = time.monotonic() + SCHEDULE_WAIT + settle
    unschedulable_since: float | None = None
    while time.monotonic() < deadline:
        pod = core.read_namespaced_pod(pod_name, ns)
        extended = pod.status.extended_resource_claim_status
        if pod.spec.node_name and (extended_key is None or extended is not None):
            generated = {s.name: s.resource_claim_name for s in (pod.status.resource_claim_statuses or [])}
            out = {}
            for pod_claim, key in claim_names.items():
                real = generated.get(pod_claim) or key
                claim = rapi.read_namespaced_resource_claim(real, ns)
                out[key] = _devices(cluster.api_client().sanitize_for_serialization(claim))
            if extended_key is not None:
                claim = rapi.read_namespaced_resource_claim(extended.resource_claim_name, ns)
                out[extended_key] = _devices(cluster.api_client().sanitize_for_serialization(claim))
            return out
        claims_ready = len(pod.status.resource_claim_statuses or []) >= sum(
            1 for c in pod.spec.resource_claims or [] if c.resource_claim_template_name)
        message = _unschedulable_message(pod, claims_ready)
        if message is None:
            unschedulable_since = None
        else:
            LAST_MESSAGE[pod_name] = message
            unschedulable_since = unschedulable_since or time.monotonic()
            if time.monotonic() - unschedulable_since >= settle:
                return None
        time.sleep(0.2)
    if pod.spec.node_name:
        raise AssertionError(f"pod {ns}/{pod_name}: bound to {pod.spec.node_name}, but kube-scheduler set no "
                             f"status.extendedResourceClaimStatus in {SCHEDULE_WAIT:.0f}s: "
                             f"{json.dumps(cluster.api_client().sanitize_for_serialization(pod.status))[:1500]}")
    raise AssertionError(f"pod {ns}/{pod_name}: kube-scheduler neither bound it nor called it unschedulable "
                         f"in {SCHEDULE_WAIT:.0f}s (log {cluster.log('kube-scheduler')})")


def _containers(case: PodCase, claim_refs: list[dict]) -> list[dict]:
    """The pod's containers: the first uses every claim; one per entry of ``case.extended``."""
    out = []
    for i in range(max(1, len(case.extended))):
        c: dict = {"name": f"c{i}", "image": "registry.k8s.io/pause:3.10", "resources": {}}
        if i == 0 and claim_refs:
            c["resources"]["claims"] = [{"name": r["name"]} for r in claim_refs]
        if i < len(case.extended):
            amounts = {k: str(v) for k, v in case.extended[i].items()}
            c["resources"].update({"requests": amounts, "limits": amounts})
        out.append(c)
    return out


def _init_containers(case: PodCase) -> list[dict]:
    if not case.init_extended:
        return []
    amounts = {k: str(v) for k, v in case.init_extended.items()}
    return [{"name": "init", "image": "registry.k8s.io/pause:3.10", "resources": {"requests": amounts, "limits": amounts}}]


def _prepare(cluster, scenario: Scenario) -> tuple[str, str]:
    """The scenario's namespace and Node, its slices published and the DeviceClasses applied:
    (node, namespace)."""
    api = cluster.api_client()
    core = client.CoreV1Api(api)
    subprocess.run(["/usr/bin/kubectl", "--kubeconfig", str(cluster.kubeconfig), "apply", "--server-side",
                    "--force-conflicts", "-f", str(REPO / "manifests/deviceclasses.yaml")],
                   capture_output=True, text=True, timeout=120, check=True)
    node = f"sched-{scenario.id}"
    ns = f"s-{scenario.id}"
    core.create_namespace({"metadata": {"name": ns}})
    wait_default_service_account(api, ns)
    publish_node(api, NodeSpec(node, scenario.profile, scenario.mode), cluster.version.minor)
    return node, ns


def test_implicit_names_bind_without_devices_before_they_existed(cluster, tmp_path):
    """Before 1.35 a ``deviceclass.resource.kubernetes.io/<class>`` request is no extended resource
    to kube-scheduler: it binds the pod and allocates nothing. ``dra allocate --kubernetes-version``
    for that minor must say the same (a note, no claim, exit 0), and the real scheduler must make
    no claim for the pod."""
    scenario = next(s for s in SCENARIOS if s.id == "extended-implicit-mig")
    if cluster.version.at_least(scenario.since):
        pytest.skip(f"Kubernetes {cluster.version.minor} allocates devices for these names "
                    "(test_scheduler_agrees_with_dra_allocate[extended-implicit-mig])")
    if not cluster.version.enabled(EXTENDED_GATE):
        pytest.skip(f"Kubernetes {cluster.version.minor} has no {EXTENDED_GATE} gate")
    node, ns = _prepare(cluster, scenario)
    core = client.CoreV1Api(cluster.api_client())
    rapi = client.ResourceV1Api(cluster.api_client())
    for i, case in enumerate(scenario.pods):
        pod_name = f"pod-{i}"
        d = tmp_path / pod_name
        d.mkdir()
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name, "namespace": ns},
               "spec": {"nodeSelector": {"kubernetes.io/hostname": node},
                        "containers": _containers(case, [])}}
        ours = _ours(cluster, d, node, ns, [], pod)
        core.create_namespaced_pod(ns, pod)
        theirs = _theirs(cluster, ns, pod_name, {}, None, SETTLE)
        assert ours == {}, f"pod {i}: dra allocate made claims {ours}"
        assert theirs == {}, f"pod {i}: kube-scheduler did not bind it: {LAST_MESSAGE.get(pod_name, '')}"
        time.sleep(2)  # a claim the scheduler made would be recorded with the binding
        status = core.read_namespaced_pod(pod_name, ns).status
        assert status.extended_resource_claim_status is None, f"pod {i}: {status.extended_resource_claim_status}"
    assert rapi.list_namespaced_resource_claim(ns).items == []


@pytest.mark.parametrize("scenario", _params())
def test_scheduler_agrees_with_dra_allocate(cluster, scenario: Scenario, tmp_path, request):
    if not cluster.version.at_least(scenario.since):
        pytest.skip(f"Kubernetes {cluster.version.minor}: {scenario.why_since} "
                    "(test_implicit_names_bind_without_devices_before_they_existed checks that)")
    if any(pc.extended for pc in scenario.pods) and not cluster.version.enabled(EXTENDED_GATE):
        pytest.skip(f"Kubernetes {cluster.version.minor} has no {EXTENDED_GATE} gate")
    gap = scenario.xfail.get(cluster.version.minor)
    if gap:
        request.applymarker(pytest.mark.xfail(strict=True, reason=gap))
    api = cluster.api_client()
    core = client.CoreV1Api(api)
    rapi = client.ResourceV1Api(api)
    node, ns = _prepare(cluster, scenario)
    templates = {}
    for p in EXAMPLES.glob("*.yaml"):
        for doc in yaml.safe_load_all(p.read_text()):
            if doc and doc.get("kind") == "ResourceClaimTemplate":
                doc["metadata"]["namespace"] = ns
                templates[doc["metadata"]["name"]] = doc
    for name in {t for pc in scenario.pods for t in pc.templates}:
        rapi.create_namespaced_resource_claim_template(ns, templates[name])
    disagreements = []
    for i, case in enumerate(scenario.pods):
        pod_name = f"pod-{i}"
        pod_claims, refs, keys = [], [], {}
        for t in case.templates:
            pod_claims.append(templates[t])
            refs.append({"name": t, "resourceClaimTemplateName": t})
            keys[t] = t
        for j, spec in enumerate(case.claims):
            name = f"{pod_name}-c{j}"
            claim = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
                     "metadata": {"name": name, "namespace": ns}, "spec": spec}
            rapi.create_namespaced_resource_claim(ns, claim)
            pod_claims.append(claim)
            refs.append({"name": f"c{j}", "resourceClaimName": name})
            keys[f"c{j}"] = name
        d = tmp_path / pod_name
        d.mkdir()
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name, "namespace": ns},
               "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "resourceClaims": refs,
                        "initContainers": _init_containers(case), "containers": _containers(case, refs)}}
        extended_key = f"{pod_name}-extended-resources" if case.extended else None
        ours = _ours(cluster, d, node, ns, pod_claims, pod if case.extended else None)
        core.create_namespaced_pod(ns, pod)
        theirs = _theirs(cluster, ns, pod_name, keys, extended_key, SETTLE if ours is None else DISAGREE_SETTLE)
        if cluster.version.minor in scenario.verdict_only:
            same = (ours is None) == (theirs is None)
        else:
            same = ours == theirs
        if not same:
            disagreements.append(f"pod {i}: kube-scheduler {_show(theirs)} {LAST_MESSAGE.get(pod_name, '')}; "
                                 f"dra allocate {_show(ours)}")
        if theirs is None and ours is None:
            continue
        if theirs is None:  # keep both sides on the same in-use set: stop at the first divergence
            break
    assert not disagreements, f"{scenario.id} on {scenario.profile}/{scenario.mode}: " + "; ".join(disagreements)


def _show(result: dict | None) -> str:
    return "unschedulable" if result is None else json.dumps(result, sort_keys=True)


