"""The real kube-scheduler against ``dra allocate``: same devices, or the same unschedulable verdict.

Each scenario is one Node (a built-in profile, its slices published in one mode by our
publisher) and a sequence of Pods pinned to it (``nodeSelector``), each with ResourceClaims
from ``manifests/examples`` templates or generated claims. Pod by pod:

1. ``dra allocate --node N --together`` runs on the objects as the server holds them (the
   DeviceClasses, the node's slices, the pod's claims or templates, every claim already
   allocated as ``--allocated``);
2. the Pod is created and the real kube-scheduler (its DynamicResources plugin is upstream's
   allocator) either binds it, writing the claims' allocations, or reports it Unschedulable;
3. both answers must agree: for each claim and request the same devices, or both unschedulable.

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
from kubernetes.client.rest import ApiException

from dra.testing.cluster.fleet import NodeSpec, publish_node
from dra.testing.cluster.rest import raw_list as _raw_list

pytestmark = pytest.mark.real

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "manifests/examples"
SCHEDULE_WAIT = 60.0
LAST_MESSAGE: dict[str, str] = {}


@dataclass(frozen=True)
class PodCase:
    """One pod: claims by template name (from manifests/examples or ``extra``) or inline claims."""

    templates: tuple[str, ...] = ()
    claims: tuple[dict, ...] = ()  # ResourceClaim specs created for this pod (spec.devices...)


@dataclass(frozen=True)
class Scenario:
    id: str
    profile: str
    mode: str
    pods: tuple[PodCase, ...]
    xfail: dict[str, str] = field(default_factory=dict)  # minor -> exact gap
    # Minors whose scheduler walks a pool's slices in informer order (1.34 does; 1.36+ sorts them by
    # name), so with several slices per node which free device it takes differs from run to run:
    # there only the verdict (allocated or unschedulable) is compared, never the device names.
    verdict_only: frozenset[str] = frozenset()


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
             verdict_only=frozenset({"1.34"})),
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
]

def _params():
    out = []
    for s in SCENARIOS:
        out.append(pytest.param(s, id=s.id))
    return out


def _dump(path: Path, items: list[dict]) -> Path:
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return path


def _ours(cluster, tmp: Path, node: str, ns: str, pod_claims: list[dict]) -> dict | None:
    """``dra allocate`` on the server's objects: {claim/template name: {request: [devices]}}, or None (unschedulable)."""
    api = cluster.api_client()
    slices = _raw_list(api, "/apis/resource.k8s.io/v1/resourceslices", [("fieldSelector", f"spec.nodeName={node}")])
    nodes = [n for n in _raw_list(api, "/api/v1/nodes") if n["metadata"]["name"] == node]
    allocated = [c for c in _raw_list(api, f"/apis/resource.k8s.io/v1/namespaces/{ns}/resourceclaims")
                 if (c.get("status") or {}).get("allocation")]
    for c in allocated:  # in use: never allocated again by `dra allocate`
        c["metadata"]["name"] = "inuse-" + c["metadata"]["name"]
    files = [_dump(tmp / "slices.json", slices), _dump(tmp / "nodes.json", nodes), _dump(tmp / "claims.json", pod_claims),
             REPO / "manifests/deviceclasses.yaml"]
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


def _theirs(cluster, ns: str, pod_name: str, claim_names: dict[str, str]) -> dict | None:
    """Wait for the scheduler: {our claim key: {request: [devices]}} once bound, None when Unschedulable."""
    core = client.CoreV1Api(cluster.api_client())
    rapi = client.ResourceV1Api(cluster.api_client())
    deadline = time.monotonic() + SCHEDULE_WAIT
    while time.monotonic() < deadline:
        pod = core.read_namespaced_pod(pod_name, ns)
        if pod.spec.node_name:
            generated = {s.name: s.resource_claim_name for s in (pod.status.resource_claim_statuses or [])}
            out = {}
            for pod_claim, key in claim_names.items():
                real = generated.get(pod_claim) or key
                claim = rapi.read_namespaced_resource_claim(real, ns)
                out[key] = _devices(cluster.api_client().sanitize_for_serialization(claim))
            return out
        claims_ready = len(pod.status.resource_claim_statuses or []) >= sum(
            1 for c in pod.spec.resource_claims or [] if c.resource_claim_template_name)
        for cond in pod.status.conditions or []:
            # A verdict counts once every claim of the pod exists: before that the scheduler only
            # says it waits for the resource-claim controller.
            # Nor does "no node matched the pod's nodeSelector" while the pod's own node is new: the
            # scheduler's informer may not have that Node yet, and it retries when the Node arrives.
            if (cond.type == "PodScheduled" and cond.status == "False" and cond.reason == "Unschedulable"
                    and claims_ready and "waiting for" not in (cond.message or "")
                    and not _only_selector_misses(cond.message or "")):
                LAST_MESSAGE[pod_name] = cond.message or ""
                return None
        time.sleep(0.2)
    raise AssertionError(f"pod {ns}/{pod_name}: kube-scheduler neither bound it nor called it unschedulable "
                         f"in {SCHEDULE_WAIT:.0f}s (log {cluster.log('kube-scheduler')})")


@pytest.mark.parametrize("scenario", _params())
def test_scheduler_agrees_with_dra_allocate(cluster, scenario: Scenario, tmp_path, request):
    gap = scenario.xfail.get(cluster.version.minor)
    if gap:
        request.applymarker(pytest.mark.xfail(strict=True, reason=gap))
    api = cluster.api_client()
    core = client.CoreV1Api(api)
    rapi = client.ResourceV1Api(api)
    subprocess.run(["/usr/bin/kubectl", "--kubeconfig", str(cluster.kubeconfig), "apply", "--server-side",
                    "--force-conflicts", "-f", str(REPO / "manifests/deviceclasses.yaml")],
                   capture_output=True, text=True, timeout=120, check=True)
    node = f"sched-{scenario.id}"
    ns = f"s-{scenario.id}"
    core.create_namespace({"metadata": {"name": ns}})
    _wait_sa(core, ns)
    publish_node(api, NodeSpec(node, scenario.profile, scenario.mode), cluster.version.minor)
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
        ours = _ours(cluster, d, node, ns, pod_claims)
        core.create_namespaced_pod(ns, {
            "metadata": {"name": pod_name},
            "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "resourceClaims": refs,
                     "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"claims": [{"name": r["name"]} for r in refs]}}]}})
        theirs = _theirs(cluster, ns, pod_name, keys)
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


def _wait_sa(core, ns: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            core.read_namespaced_service_account("default", ns)
            return
        except ApiException:
            time.sleep(0.3)
    raise AssertionError(f"no default ServiceAccount in {ns} after {timeout:.0f}s")
