"""Which of a Pod's extended resources a node serves through DRA, and which its device plugin.

As the 1.37 scheduler's ``filterExtendedResources`` (``pkg/scheduler/framework/plugins/
dynamicresources/extendeddynamicresources.go``), per node and per extended resource the Pod
asks for (a non-zero request of an extended resource name, or of an implicit
``deviceclass.resource.kubernetes.io/<class>`` name):

* a DeviceClass maps it and the node's ``status.allocatable`` has none of it (absent or 0):
  DRA serves it, through the Pod's special claim;
* no class maps it and the node does not list it in ``status.allocatable``: the Pod does not
  fit the node ("cannot fit resource");
* otherwise (the node lists it): the device plugin serves it and it stays out of the claim.
  The ``NodeResourcesFit`` plugin then checks the amount; here the request is compared with
  the node's allocatable (other pods' use is not modelled).

A node whose device plugin serves every DRA-mapped resource gets no claim at all: the Pod is
placed there by the device plugin. Only Pods that ask for at least one DRA-mapped resource are
considered, as the scheduler's PreFilter does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dra.allocator.extended import IMPLICIT_PREFIX, claim_dict_for_pod, pod_name


def _is_dra_extended_name(name: str) -> bool:
    """schedutil.IsDRAExtendedResourceName: an extended resource name or an implicit class name."""
    if name.startswith(IMPLICIT_PREFIX):
        return True
    native = "/" not in name or "kubernetes.io/" in name
    return not native and not name.startswith("requests.")


def _count(value: Any) -> int:
    from dra.api import Quantity
    from dra.api.quantity import QuantityError

    try:
        return Quantity(str(value)).as_integer()
    except QuantityError:
        return 0  # the claim builder reports a malformed quantity with its place


def pod_requests(pod: dict[str, Any]) -> dict[str, int]:
    """The Pod's effective extended-resource requests (resourcehelper.PodRequests): the sum over
    regular and sidecar containers, at least the largest plain init container's."""
    spec = pod.get("spec") or {}
    total: dict[str, int] = {}
    init_max: dict[str, int] = {}
    for container in spec.get("containers") or []:
        for name, value in _requests_of(container).items():
            total[name] = total.get(name, 0) + _count(value)
    for container in spec.get("initContainers") or []:
        for name, value in _requests_of(container).items():
            if container.get("restartPolicy") == "Always":
                total[name] = total.get(name, 0) + _count(value)
            else:
                init_max[name] = max(init_max.get(name, 0), _count(value))
    for name, value in init_max.items():
        total[name] = max(total.get(name, 0), value)
    return {n: v for n, v in total.items() if _is_dra_extended_name(n)}


def _requests_of(container: dict[str, Any]) -> dict[str, Any]:
    res = container.get("resources") or {}
    return {**(res.get("limits") or {}), **(res.get("requests") or {})}


def _allocatable(node: Any) -> dict[str, int]:
    status = getattr(node, "status", None) or {}
    return {name: _count(value) for name, value in (status.get("allocatable") or {}).items()}


@dataclass
class NodePlan:
    """What a Pod needs on one node: its special claim (None: nothing through DRA), the
    resources its device plugin serves, or why it cannot run there."""

    claim: dict[str, Any] | None = None
    device_plugin: list[str] = field(default_factory=list)
    unfit: str | None = None


def plan_on_node(pod: dict[str, Any], mapping: dict[str, str], node: Any, *, v1_34: bool = False) -> NodePlan:
    """The Pod's needs on ``node`` (see the module docstring); ``v1_34``: the claim as 1.34 makes it."""
    allocatable = _allocatable(node)
    dra_served: dict[str, str] = {}
    plan = NodePlan()
    node_name = node.metadata.name if node.metadata else "?"
    for name, count in sorted(pod_requests(pod).items()):
        if count == 0:
            continue
        have = allocatable.get(name)
        if name in mapping and not have:
            dra_served[name] = mapping[name]
        elif have is None:
            plan.unfit = (f"node {node_name}: cannot fit resource {name}: not in the node's allocatable"
                          " and no DeviceClass maps it")
            return plan
        elif count > have:
            plan.unfit = f"node {node_name}: Insufficient {name} (the device plugin advertises {have}, the Pod asks {count})"
            return plan
        else:
            plan.device_plugin.append(name)
    if dra_served:
        plan.claim = claim_dict_for_pod(pod, dra_served, v1_34=v1_34)
    return plan


def describe(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"Pod {meta.get('namespace') or 'default'}/{pod_name(pod)}"
