"""GPU nodes without kubelets: Node objects plus their ResourceSlices, published by our publisher.

A fleet is written ``PROFILE[:COUNT[:MODE]],...`` (``dgx-h100:4,gb200-nvl72:1``,
``dgx-h100-mig:2:static-mig``): COUNT nodes (default 1) of a built-in profile
(:mod:`dra.gpu.builtin`), each publishing its GPUs in MODE (default ``whole``). Nodes are
named ``<profile>-<i>``. Each Node gets the capacity a kube-scheduler needs to place pods
(cpu, memory, pods), the labels NVIDIA's GPU feature discovery would put there, and a Ready
condition; its slices are published by :class:`dra.slices.publisher.SlicePublisher`, the code
the plugin itself runs, so what the scheduler sees is what a real node would publish.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from dra.errors import UserError
from dra.gpu.builtin import load_profile
from dra.gpu.inventory import NodeInventory
from dra.slices import DRIVER_NAME, MODES, build_slices

NODE_CPU = "128"
NODE_MEMORY = "1Ti"
NODE_PODS = "110"


class FleetError(UserError):
    """A ``--fleet`` value is wrong; the message names the entry."""


@dataclass(frozen=True)
class NodeSpec:
    name: str
    profile: str
    mode: str = "whole"


def parse_fleet(text: str, option: str = "--fleet") -> list[NodeSpec]:
    """``dgx-h100:4,gb200-nvl72:1`` -> node specs (profiles checked, names unique)."""
    nodes: list[NodeSpec] = []
    for entry in filter(None, (e.strip() for e in str(text).split(","))):
        parts = entry.split(":")
        if len(parts) > 3 or not parts[0]:
            raise FleetError(f"{option}: {entry!r} is not PROFILE[:COUNT[:MODE]]")
        profile = parts[0]
        try:
            count = int(parts[1]) if len(parts) > 1 and parts[1] else 1
        except ValueError:
            raise FleetError(f"{option}: {entry!r}: COUNT must be a whole number") from None
        if not 1 <= count <= 1000:
            raise FleetError(f"{option}: {entry!r}: COUNT must be 1..1000")
        mode = parts[2] if len(parts) > 2 else "whole"
        if mode not in MODES:
            raise FleetError(f"{option}: {entry!r}: unknown mode {mode!r} (one of {', '.join(MODES)})")
        load_profile(profile, "check")  # a clear ProfileError for an unknown profile
        base = sum(1 for n in nodes if n.profile == profile)
        nodes += [NodeSpec(f"{profile}-{base + i}", profile, mode) for i in range(count)]
    if not nodes:
        raise FleetError(f"{option}: no nodes given (e.g. dgx-h100:4,gb200-nvl72:1)")
    return nodes


def node_object(inventory: NodeInventory) -> dict[str, Any]:
    """The Node a kubelet with NVIDIA's feature discovery would register for ``inventory``."""
    labels = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
    if inventory.gpus:
        gpu = inventory.gpus[0]
        labels.update({"nvidia.com/gpu.present": "true", "nvidia.com/gpu.count": str(len(inventory.gpus)),
                       "nvidia.com/gpu.product": gpu.product_name.replace(" ", "-")})
    return ready_node(inventory.node_name, labels)


def ready_node(name: str, labels: dict[str, str], *, cpu: str = NODE_CPU, memory: str = NODE_MEMORY) -> dict[str, Any]:
    """A Node object as a Ready kubelet would report it: ``labels`` plus its hostname label,
    ``cpu`` and ``memory`` as capacity and allocatable (pods: 110)."""
    resources = {"cpu": cpu, "memory": memory, "pods": NODE_PODS}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "no kubelet: node object made by dra-gpu's test cluster"}],
        },
    }


def create_node(api_client: Any, inventory: NodeInventory) -> Any:
    """Create (or replace the status of) the Node for ``inventory``; returns the stored Node."""
    return apply_node(api_client, node_object(inventory))


def apply_node(api_client: Any, body: dict[str, Any]) -> Any:
    """Create (or replace the status of) the Node ``body`` and make it schedulable as a Ready
    kubelet's would be; returns the stored Node."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(api_client)
    name = body["metadata"]["name"]
    try:
        core.create_node(body)
    except ApiException as e:
        if e.status != 409:
            raise
    # The TaintNodesByCondition admission plugin gives every new Node the not-ready NoSchedule
    # taint; the node-lifecycle controller would lift it once a kubelet reports Ready, but it is
    # off here (there is no kubelet), so lift it ourselves.
    core.patch_node(name, {"spec": {"taints": None}})
    # Node status is a subresource: make sure capacity and the Ready condition are really there.
    return core.patch_node_status(name, {"status": body["status"]})


def publish_node(api_client: Any, spec: NodeSpec, k8s_version: str, driver: str = DRIVER_NAME) -> int:
    """Create ``spec``'s Node and publish its slices; returns the number of slices."""
    from dra.slices.publisher import SlicePublisher

    inventory = load_profile(spec.profile, spec.name)
    node = create_node(api_client, inventory)
    slices = build_slices(inventory, mode=spec.mode, k8s_version=k8s_version, driver=driver)
    SlicePublisher(api_client, driver, spec.name, node.metadata.uid).publish(slices)
    return len(slices)


def create_fleet(api_client: Any, nodes: Sequence[NodeSpec], k8s_version: str,
                 progress: Callable[[str], None] = lambda _: None) -> int:
    total = 0
    for spec in nodes:
        n = publish_node(api_client, spec, k8s_version)
        total += n
        progress(f"  node {spec.name}: {spec.profile}, {spec.mode}, {n} ResourceSlice(s)")
    return total
