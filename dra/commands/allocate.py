"""``dra allocate``: run the structured allocator on manifests and explain failures.

Reads DeviceClasses, ResourceSlices, ResourceClaims, ResourceClaimTemplates (each stands
for the claim it would generate, named after the template) and (optionally) Nodes from
YAML/JSON files or directories, allocates the claims that have no ``status.allocation``
yet and prints them with ``status.allocation`` filled in. Claims that already carry an allocation
(in the inputs or in ``--allocated``) count as "in use".

By default claims are allocated one after another (like pods scheduled in sequence), each
on the first node, in name order, where it fits; ``--together`` allocates them as the
claims of one pod, on one node. ``--node`` restricts the search to one node (a Node object
from the inputs, or a bare node with that name and no labels).

Version: ``--kubernetes-version`` (1.34-1.37, default 1.37) selects the kube-scheduler whose
allocator is emulated: its feature gates at their defaults (``--feature-gates A=true,B=false``
changes them) become the allocator features as the scheduler maps them, and the allocator
variant (stable/incubating/experimental) is the one that version picks for them, with that
version's search order and counter bookkeeping. ``--features`` instead names the allocator
features directly (upstream names such as ``PartitionableDevices`` or gate names); the
variant is still the one ``--kubernetes-version`` would pick for them. The choice is
printed on stderr.

Extended resources (KEP-5004): Pods in the inputs whose containers request an extended
resource (``nvidia.com/gpu: 2``) that a DeviceClass maps (``spec.extendedResourceName``,
or, from 1.35, the implicit ``deviceclass.resource.kubernetes.io/<class>``) get the claim the
scheduler would make for them: annotated ``resource.kubernetes.io/extended-resource-claim``, one
request per container and resource (``container-<i>-request-<j>``), ExactCount of the
requested amount (from 1.35 a plain init container reuses what later containers ask for; 1.34
asks for every container's whole amount). Needs DRAExtendedResource (on by default from 1.36). As the 1.37 scheduler,
a node whose ``status.allocatable`` lists the resource (a device plugin advertises it) serves
it through the device plugin, not DRA: the Pod's claim on that node leaves it out, and a Pod
served wholly by device plugins needs no claim there (said on stderr); a resource that no
class maps and the node does not list does not fit the node.

Exit status: 0 all claims allocated, 1 some claim cannot be allocated (the reason is
printed), 2 bad input.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from typing import Any

from dra.commands.common import (
    add_filename_argument,
    add_output_argument,
    format_objects,
    load_inputs,
    table,
    validate_objects,
)
from dra.errors import UserError
from dra.versions import DEFAULT_VERSION


class AllocateInputError(UserError):
    pass


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "allocate",
        help="allocate ResourceClaims against ResourceSlices and explain failures",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_filename_argument(p, what="DeviceClasses, ResourceSlices, ResourceClaims, ResourceClaimTemplates, Nodes")
    p.add_argument("--node", metavar="NAME", help="allocate on this node only")
    p.add_argument("--kubernetes-version", default=None, metavar="VERSION",
                   help="kube-scheduler version whose allocator is emulated: 1.34|1.35|1.36|1.37 (default 1.37)")
    p.add_argument("--feature-gates", default="", metavar="A=true,B=false",
                   help="feature gates changed from the version's defaults")
    p.add_argument("--features", metavar="LIST",
                   help="comma-separated allocator features or gates instead of the version's gates "
                        "(e.g. PartitionableDevices,DeviceTaints)")
    p.add_argument("--allocated", action="append", default=[], metavar="FILE|DIR|-",
                   help="file or directory of already-allocated claims (their devices are in use; repeatable)")
    p.add_argument("--together", action="store_true",
                   help="allocate all claims together, as the claims of one pod")
    add_output_argument(p, what="allocated claims")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dra.allocator import AllocatedState, AllocationError, Allocator
    from dra.allocator.explanation import explain

    from dra.allocator.extended import claim_dict_for_pod, class_for_resources
    from dra.commands.allocate_extended import split_pods
    from dra.versions import KubernetesVersion, parse_gate_overrides

    version = KubernetesVersion.of(args.kubernetes_version or DEFAULT_VERSION,
                                   parse_gate_overrides(args.feature_gates))
    minor = version.minor
    pods, objs = split_pods(args.filename, _load_all)
    mapping: dict[str, str] = {}
    v1_34 = not version.at_least("1.35")
    # What the API server would refuse on create is refused here too, before allocating.
    validate_objects([o for o in objs if _kind(o) != "Node"], minor)
    classes = [o for o in objs if _kind(o) == "DeviceClass"]
    slices = [o for o in objs if _kind(o) == "ResourceSlice"]
    nodes = {o.metadata.name: o for o in objs if _kind(o) == "Node"}
    claims = [o for o in objs if _kind(o) == "ResourceClaim"]
    claims += [_claim_from_template(o) for o in objs if _kind(o) == "ResourceClaimTemplate"]
    if pods:
        if not version.enabled("DRAExtendedResource"):
            raise AllocateInputError(
                f"Pods with extended resources need DRAExtendedResource (off in Kubernetes {version.minor}; "
                "use --feature-gates DRAExtendedResource=true or --kubernetes-version 1.36+)"
            )
        # 1.34 (alpha) maps explicit names only and asks once per container (claim_dict_for_pod).
        mapping = class_for_resources(classes, implicit=not v1_34)
        # The scheduler's PreFilter: only Pods asking for a DRA-mapped resource (a malformed
        # amount is refused here, once, with its place).
        asked = pods
        pods = [p for p in asked if claim_dict_for_pod(p, mapping, v1_34=v1_34) is not None]
        if v1_34:
            from dra.commands.allocate_devplugin import describe

            ignored = [p for p in asked if p not in pods and _implicit_names(p)]
            for pod in ignored:
                print(f"# {describe(pod)}: Kubernetes 1.34 does not take {', '.join(_implicit_names(pod))} for an "
                      "extended resource (deviceclass.resource.kubernetes.io/ names came in 1.35): its scheduler "
                      "binds the pod with no devices", file=sys.stderr)
            if ignored and not claims and not pods:
                _print([], args.output)  # nothing for DRA to allocate: as 1.34, not an error
                return 0
    if not claims and not pods:
        raise AllocateInputError("nothing to allocate: no ResourceClaim or ResourceClaimTemplate in the inputs")
    previous = [o for o in _load_all(args.allocated, option="--allocated") if _kind(o) == "ResourceClaim"]
    validate_objects(previous, minor)
    pending = [c for c in claims if not _allocation(c)]
    state = AllocatedState.from_claims([*previous, *[c for c in claims if _allocation(c)]])

    allocator = _allocator(args.features, version, classes, slices, [*objs, *claims])
    print(f"# kubernetes {version.minor}, {allocator.behaviour.variant} allocator; features: "
          f"{', '.join(allocator.features.names()) or '(none)'}", file=sys.stderr)
    candidates = _candidate_nodes(args.node, nodes, slices)

    done: list[Any] = []
    failures: list[str] = []
    items: list[Any] = [*pending, *pods]
    groups = [items] if args.together else [[i] for i in items]
    for group in groups:
        if not group:
            continue
        placed = False
        unfit: dict[str, str] = {}
        for node in candidates:
            on_node = _claims_on_node(group, mapping, node, v1_34)
            if isinstance(on_node, str):
                unfit[node.name] = on_node
                continue
            node_claims, notes = on_node
            try:
                results = allocator.allocate(node, node_claims, allocated=state) if node_claims else []
            except AllocationError as err:
                if not err.node_local:  # bad input: same on every node
                    raise
                results = None  # "invalid resource pools": this node only (explained below)
            if results is None:
                continue
            for claim, result in zip(node_claims, results):
                out = _with_allocation(claim, result)
                done.append(out)
                for r in result.devices.results or []:
                    state.add_result(r)
            for note in notes:
                print(f"# {note}", file=sys.stderr)
            placed = True
            break
        if not placed:
            texts = []
            for node in candidates[:5]:
                if node.name in unfit:
                    texts.append(unfit[node.name] + "\n")
                else:
                    node_claims, _ = _claims_on_node(group, mapping, node, v1_34)  # type: ignore[misc]
                    texts.append(explain(allocator, node, node_claims, allocated=state).text())
            if len(candidates) > 5:
                texts.append(f"... and {len(candidates) - 5} more nodes\n")
            names = ", ".join(_item_name(c) for c in group)
            failures.append(f"cannot allocate {names}:\n" + "".join(texts))

    _print(done, args.output)
    if failures:
        # Explanations go with YAML as comments; other formats keep stdout machine-readable.
        stream = sys.stdout if args.output == "yaml" else sys.stderr
        for text in failures:
            for line in text.rstrip("\n").splitlines():
                print(f"# {line}" if args.output == "yaml" else line, file=stream)
        return 1
    return 0


def _implicit_names(pod: dict[str, Any]) -> list[str]:
    """The ``deviceclass.resource.kubernetes.io/<class>`` names a Pod's containers ask for."""
    from dra.allocator.extended import IMPLICIT_PREFIX

    spec = pod.get("spec") or {}
    names = set()
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        res = (c or {}).get("resources") or {}
        for part in ("requests", "limits"):
            names.update(n for n in (res.get(part) or {}) if str(n).startswith(IMPLICIT_PREFIX))
    return sorted(names)


def _claims_on_node(group: list[Any], mapping: dict[str, str], node: Any,
                    v1_34: bool = False) -> tuple[list[Any], list[str]] | str:
    """The claims ``group`` allocates on ``node`` (a Pod's special claim is made per node, as its
    device-plugin resources differ by node) plus notes for stderr, or why the group cannot run there."""
    from dra.api import ResourceClaim
    from dra.commands.allocate_devplugin import describe, plan_on_node

    claims: list[Any] = []
    notes: list[str] = []
    for item in group:
        if not isinstance(item, dict):
            claims.append(item)
            continue
        plan = plan_on_node(item, mapping, node, v1_34=v1_34)
        if plan.unfit:
            return f"{describe(item)}: {plan.unfit}"
        if plan.device_plugin:
            notes.append(f"{describe(item)} on node {node.name}: {', '.join(plan.device_plugin)} "
                         "served by the node's device plugin (status.allocatable), not DRA")
        if plan.claim is not None:
            claims.append(ResourceClaim.from_dict(plan.claim, path=describe(item)))
    return claims, notes


def _item_name(item: Any) -> str:
    if isinstance(item, dict):
        from dra.commands.allocate_devplugin import describe

        return f"{describe(item)} (claim {(item.get('metadata') or {}).get('name', '')}-extended-resources)"
    return _claim_name(item)


def _load_all(paths: list[str], option: str = "-f") -> list[Any]:
    return load_inputs(paths, option=option)


def _claim_from_template(template: Any) -> Any:
    """The claim a template would produce (named after the template)."""
    from dra.api import ResourceClaim

    meta = template.metadata
    data: dict[str, Any] = {"metadata": {"name": meta.name}}
    if meta.namespace:
        data["metadata"]["namespace"] = meta.namespace
    inner = template.spec.spec if template.spec is not None else None
    data["spec"] = inner.to_dict() if inner is not None else {}
    return ResourceClaim.from_dict(data, path=f"ResourceClaimTemplate {meta.name}")


def _kind(obj: Any) -> str:
    return type(obj).__name__


def _allocation(claim: Any) -> Any:
    status = getattr(claim, "status", None)
    return getattr(status, "allocation", None) if status is not None else None


def _claim_name(claim: Any) -> str:
    from dra.allocator.requests import claim_key

    return f"claim {claim_key(claim)}"


def _with_allocation(claim: Any, result: Any) -> dict[str, Any]:
    data = copy.deepcopy(claim.to_dict())
    data.setdefault("apiVersion", "resource.k8s.io/v1")
    data.setdefault("kind", "ResourceClaim")
    allocation = result.to_dict()
    _canonical_consumed(data, allocation)
    data.setdefault("status", {})["allocation"] = allocation
    return data


def _canonical_consumed(claim: dict[str, Any], allocation: dict[str, Any]) -> None:
    """Print consumed capacity as the claim asked for it (``20Gi``, not ``21474836480``).

    Upstream keeps the format of the request's quantity; a capacity the claim did not ask for
    is shown in binary form when it is a whole number of MiB (memory), as its slice shows it.
    """
    from dra.api.quantity import Quantity

    asked: dict[tuple[str, str], str] = {}
    for req in ((claim.get("spec") or {}).get("devices") or {}).get("requests") or []:
        subs = [(req.get("name", ""), req.get("exactly"))]
        subs += [(f"{req.get('name', '')}/{s.get('name', '')}", s) for s in req.get("firstAvailable") or []]
        for name, sub in subs:
            for key, value in (((sub or {}).get("capacity") or {}).get("requests") or {}).items():
                asked[(name, key)] = Quantity(str(value)).format
    for res in (allocation.get("devices") or {}).get("results") or []:
        consumed = res.get("consumedCapacity") or {}
        for key, value in consumed.items():
            q = Quantity(str(value))
            fmt = asked.get((res.get("request", ""), key))
            if fmt is None and q.is_integer() and q.value() and q.value() % 2**20 == 0:
                fmt = "BinarySI"
            if fmt:
                consumed[key] = str(q.with_format(fmt))


def _print(claims: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "yaml":
        import yaml

        # Always "---"-separated, so that the "# cannot allocate" comments after it stay apart.
        if claims:
            sys.stdout.write(yaml.safe_dump_all(claims, sort_keys=False, explicit_start=True))
        return
    if fmt == "json":
        # Several claims (or none) as a v1 List: what kubectl prints and `kubectl apply -f` takes.
        sys.stdout.write(json.dumps({"apiVersion": "v1", "kind": "List", "items": claims}, indent=2) + "\n")
        return
    sys.stdout.write(format_objects(claims, fmt, wide=_wide))


def _wide(claims: list[dict[str, Any]]) -> str:
    """NAMESPACE NAME NODE DEVICES: one row per allocated claim."""
    rows = [["NAMESPACE", "NAME", "NODE", "DEVICES"]]
    for c in claims:
        meta = c.get("metadata") or {}
        alloc = (c.get("status") or {}).get("allocation") or {}
        terms = ((alloc.get("nodeSelector") or {}).get("nodeSelectorTerms") or [{}])
        nodes = [v for t in terms for f in t.get("matchFields") or [] for v in f.get("values") or []]
        devices = [f"{r['request']}={r['pool']}/{r['device']}" for r in (alloc.get("devices") or {}).get("results") or []]
        rows.append([meta.get("namespace") or "-", meta.get("name", ""), ",".join(nodes) or "-",
                     ",".join(devices) or "-"])
    return table(rows)


def _candidate_nodes(name: str | None, nodes: dict[str, Any], slices: list[Any]) -> list[Any]:
    from dra.api import Node

    if name:
        return [nodes.get(name) or Node.from_dict({"metadata": {"name": name}})]
    names = set(nodes)
    for s in slices:
        if s.spec.node_name:
            names.add(s.spec.node_name)
        for d in s.spec.devices or []:
            if d.node_name:
                names.add(d.node_name)
    if not names:
        raise AllocateInputError(
            "no node given: use --node NAME (the slices name no node and no Node object was given)"
        )
    return [nodes.get(n) or Node.from_dict({"metadata": {"name": n}}) for n in sorted(names)]


def _allocator(spec: str | None, version: Any, classes: list[Any], slices: list[Any], objs: list[Any]) -> Any:
    from dra.allocator import Allocator
    from dra.allocator.variants import Behaviour, NoVariant

    if spec is None:
        return Allocator.for_version(version, classes, slices)
    features = _features(spec, objs)
    try:
        behaviour = Behaviour.of(version.minor, features)
    except NoVariant as err:
        raise AllocateInputError(f"--features: {err}") from None
    return Allocator(features, classes, slices, behaviour=behaviour)


def _features(spec: str | None, objs: list[Any]) -> Any:
    from dra.allocator import Features

    if spec is not None:
        return Features.from_names(spec.split(","))
    names = set(Features.kubernetes_1_35_defaults().names())
    names.update(features_used(objs))
    return Features.from_names(names)


def features_used(objs: list[Any]) -> set[str]:
    """Alpha features the inputs rely on (so that a default run does what they mean)."""
    used: set[str] = set()
    for o in objs:
        kind = _kind(o)
        if kind == "ResourceSlice":
            spec = o.spec
            if spec.shared_counters or spec.per_device_node_selection:
                used.add("PartitionableDevices")
            for d in spec.devices or []:
                if d.consumes_counters or d.node_name or d.node_selector or d.all_nodes:
                    used.add("PartitionableDevices")
                if d.taints:
                    used.add("DeviceTaints")
                if d.allow_multiple_allocations:
                    used.add("ConsumableCapacity")
                if d.binding_conditions or d.binds_to_node:
                    used.add("DeviceBindingAndStatus")
        elif kind == "ResourceClaim":
            devices = o.spec.devices if o.spec else None
            for r in (devices.requests or []) if devices else []:
                for req in [r.exactly, *(r.first_available or [])]:
                    if req is None:
                        continue
                    if req.tolerations:
                        used.add("DeviceTaints")
                    if req.capacity is not None:
                        used.add("ConsumableCapacity")
            for c in (devices.constraints or []) if devices else []:
                if c.distinct_attribute:
                    used.add("ConsumableCapacity")
    return used
