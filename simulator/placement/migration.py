"""Placement model: migrating from the device plugin to DRA, node by node (KEP-5004).

``dra-extended`` (every GPU node converted) and ``dra-extended:F`` (a fraction ``F`` of
them, ``0 <= F <= 1``): the path most platform teams take first. Pods keep their
``nvidia.com/gpu: N``; a node serves that name either through the device plugin (it is in
the node's ``status.capacity``) or through DRA, never both (``dra-2026.md`` §3.5):

- **device-plugin nodes** (not converted): the integer model of ``device-plugin`` --
  whole GPUs, the pod's allowed models and GPU-memory floor as node affinity on GFD labels;
- **DRA nodes** (converted): the driver publishes shared-mode slices, and the DeviceClass
  ``gpu.nvidia.com`` (``manifests/deviceclasses.yaml``) carries
  ``extendedResourceName: nvidia.com/gpu``. A whole-GPU pod scheduled there gets the
  special claim the 1.37 scheduler makes (:func:`dra.allocator.extended.claim_dict_for_pod`:
  annotated ``resource.kubernetes.io/extended-resource-claim``, one ExactCount request per
  container and resource), placed by the version's allocator on the node's slices, next
  to the native claims of other pods on the same GPUs.

Which pods keep ``nvidia.com/gpu: N``: GPU pods asking for whole GPUs without a MIG
profile and without a multi-GPU NVLink requirement. Their allowed models and memory floor
stay node affinity on both kinds of node (the device plugin's way, which the pod keeps).
Pods that need what only a claim can say -- a fraction of a GPU, a MIG profile, several
GPUs on one NVLink domain -- carry native claims (as in ``dra``) and can only run on DRA
nodes.

RDMA NICs (fleets with NICs, ``simulator.placement.nics``): nodes not converted, CPU nodes
included, count NIC units as the ``device-plugin`` model does; converted nodes publish their NICs
to DRA. A pod keeping ``nvidia.com/gpu`` asks for its NIC share there in a claim of its own (the
scheduler's claim holds the extended resource alone), which nothing ties to its GPUs' PCIe root;
pods with native claims get the NIC under the GPU's root, as in ``dra``.

Which nodes are converted: per GPU model, ``floor(n*F)`` of its ``n`` nodes, taken from the
model's nodes (fleet order) in van der Corput order (positions 0, n/2, n/4, 3n/4, ...) --
an even spread that converts every model by the same fraction, deterministic, and
growing with ``F`` (a node converted at ``F`` is converted at every larger fraction). ``F = 0`` is the
device-plugin placement; ``F = 1`` serves every whole-GPU pod through DRA.

Device choice: with ``device_choice="policy"`` (default) the scheduler-made claim also
carries the selector naming the devices the policy picked, as native claims do in ``dra``
(kube-scheduler has no device scoring; this is the simulator's stand-in for the FGD
paper's GPU choice); with ``"allocator"`` the claim is exactly the scheduler's and the
allocator's first fit decides.

Needs ``DRAExtendedResource`` (on by default from 1.36; ``feature_gates`` turns it on for
1.34/1.35); otherwise the model refuses to start with one line saying so.
"""

from __future__ import annotations

import copy
from typing import Any

from dra.errors import UserError
from simulator.fleet.model import Fleet
from simulator.placement.base import Placement, count_nics
from simulator.placement.dra import DraPlacement, device_classes
from simulator.state import Binding, Counters, Demand, NodeState
from simulator.trace.model import Pod

EXTENDED_RESOURCE = "nvidia.com/gpu"
NAME = "dra-extended"


class MigrationError(UserError):
    pass


class DevicePluginNode:
    """``NodeState.extra`` of a node not converted: it serves ``nvidia.com/gpu`` through the
    device plugin and runs no DRA driver (read by :mod:`simulator.placement.diagnose`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DevicePluginNode()"


DEVICE_PLUGIN_NODE = DevicePluginNode()


def parse_fraction(text: str, where: str = NAME) -> float:
    """``F`` of ``dra-extended:F``: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise MigrationError(f"placement {where}: fraction {text!r} is not a number (use {NAME}:0.5)") from None
    if not 0.0 <= value <= 1.0:
        raise MigrationError(f"placement {where}: fraction {text} is outside [0, 1]")
    return value


def _radical_inverse(i: int) -> float:
    """Van der Corput (base 2): 0, 1/2, 1/4, 3/4, 1/8, ... -- each prefix evenly spread."""
    out, f = 0.0, 0.5
    while i:
        if i & 1:
            out += f
        i >>= 1
        f /= 2
    return out


def converted_nodes(nodes: list[NodeState], fraction: float) -> set[int]:
    """Indices of the GPU nodes converted to DRA at ``fraction`` (see the module docstring)."""
    by_model: dict[str, list[int]] = {}
    for node in nodes:
        if node.gpu_count:
            by_model.setdefault(node.model, []).append(node.idx)
    out: set[int] = set()
    for idxs in by_model.values():
        k = int(len(idxs) * fraction + 1e-9)
        order = sorted(range(len(idxs)), key=lambda i: (_radical_inverse(i), i))
        out.update(idxs[i] for i in order[:k])
    return out


def is_extended(d: Demand) -> bool:
    """Whether a demand is a pod that keeps ``nvidia.com/gpu: N`` (whole GPUs, no MIG profile,
    no multi-GPU NVLink constraint, no GPU memory reserved on a share)."""
    return d.count >= 1 and d.milli == 1000 and d.mig is None and not d.nvlink and not d.mem_request


def pod_object(pod: Pod, count: int) -> dict[str, Any]:
    """The pod as the scheduler sees it: one container asking ``nvidia.com/gpu: count``."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "pod", "namespace": "default"},
        "spec": {"containers": [{"name": "main", "resources": {
            "requests": {"cpu": f"{pod.cpu_milli}m", "memory": f"{pod.memory_mib}Mi", EXTENDED_RESOURCE: str(count)},
            "limits": {EXTENDED_RESOURCE: str(count)},
        }}]},
    }


class DraMigrationPlacement(DraPlacement):
    """Device-plugin nodes and DRA nodes side by side; see the module docstring."""

    description = "nvidia.com/gpu served by the device plugin or, on converted nodes, by DRA (KEP-5004)"

    def __init__(self, fraction: float = 1.0, **options: Any) -> None:
        super().__init__(mode="shared", **options)
        if not self.version.enabled("DRAExtendedResource"):
            raise MigrationError(
                f"placement {NAME}: extended resources backed by DRA need the DRAExtendedResource feature gate, "
                f"off in Kubernetes {self.version.minor} (use --feature-gates DRAExtendedResource=true or "
                "--kubernetes-version 1.36+)"
            )
        self.fraction = float(fraction)
        self.name = NAME if self.fraction == 1.0 else f"{NAME}:{self.fraction:g}"
        self.dra_nodes: set[int] = set()
        self._mapping: dict[str, str] = {}
        self.extended_claims = 0  # whole-GPU pods bound through a scheduler-made claim
        self.device_plugin_pods = 0  # whole-GPU pods bound by the device plugin

    def setup(self, nodes: list[NodeState], fleet: Fleet, counters: Counters) -> None:
        from dra.allocator.extended import class_for_resources

        self.dra_nodes = converted_nodes(nodes, self.fraction)
        super().setup([n for n in nodes if n.idx in self.dra_nodes], fleet, counters)
        for n in nodes:
            if n.idx not in self.dra_nodes and n.gpu_count:
                n.extra = DEVICE_PLUGIN_NODE
        # Nodes not converted (GPU nodes on the device plugin, and CPU nodes) count their RDMA
        # NICs the device plugin's way, as the ``device-plugin`` model does; converted nodes
        # publish them to DRA (simulator.placement.nics)
        if fleet.has_nics:
            self.nic_counts = count_nics([n for n in nodes if n.idx not in self.dra_nodes])
        self._mapping = class_for_resources(list(device_classes()))
        if EXTENDED_RESOURCE not in self._mapping:
            raise MigrationError(f"placement {NAME}: no DeviceClass in manifests/deviceclasses.yaml maps "
                                 f"{EXTENDED_RESOURCE} (spec.extendedResourceName)")
        self.extended_claims = self.device_plugin_pods = 0

    # -- demands, node by node -----------------------------------------------------------
    def demand(self, pod: Pod) -> Demand:
        d = super().demand(pod)
        if is_extended(d):
            # node affinity, as the pod had under the device plugin; the claim has no selector
            return Demand(cpu=d.cpu, mem=d.mem, count=d.count, milli=1000, models=d.models, gpu_mem=d.gpu_mem,
                          requested_milli=d.requested_milli)
        return d

    def gpu_key(self, node: NodeState) -> tuple:
        if node.idx in self.dra_nodes:
            return (True,) + super().gpu_key(node)
        return (False,) + Placement.gpu_key(self, node)

    def eligible(self, node: NodeState, d: Demand) -> list[int]:
        if node.idx in self.dra_nodes:
            if is_extended(d) and d.gpu_mem and node.gpu_mem and node.gpu_mem < d.gpu_mem:
                return []  # the pod's node affinity (GFD memory label)
            return super().eligible(node, d)
        if not is_extended(d):
            return []  # a native claim: this node has no DRA driver
        if d.gpu_mem and node.gpu_mem and node.gpu_mem < d.gpu_mem:
            return []
        return [i for i, g in enumerate(node.gpu_free) if g == 1000]

    def fits(self, node: NodeState, d: Demand) -> bool:
        if node.idx in self.dra_nodes:
            return super().fits(node, d)
        return Placement.fits(self, node, d)  # the device plugin's GPUs and NIC units

    # -- claims ----------------------------------------------------------------------------
    def claim_key(self, d: Demand, pins: tuple[int, ...] | None) -> tuple:  # type: ignore[override]
        return (is_extended(d),) + DraPlacement.claim_key(d, pins)

    def pairs_nic(self, d: Demand) -> bool:
        """A pod keeping ``nvidia.com/gpu`` asks for its NIC share in a claim of its own (the
        scheduler's claim holds the extended resource alone), so no constraint ties the NIC to
        its GPUs' PCIe root: the allocator takes any NIC with room."""
        return not is_extended(d)

    def claims_for(self, d: Demand, pins: tuple[int, ...] | None) -> list[Any]:
        claims = super().claims_for(d, pins)
        if is_extended(d) and self.wants_nic(d):  # and the pod's own claim for its NIC share
            claims.append(self.claim_for(Demand(cpu=0, mem=0, count=0, milli=0, rdma_milli=d.rdma_milli), None))
        return claims

    def claim_dict(self, d: Demand, pins: tuple[int, ...] | None = None, name: str = "pod-gpu") -> dict:
        if not is_extended(d):
            return super().claim_dict(d, pins, name)
        return self.extended_claim_dict(d.count, pins, name)

    def extended_claim_dict(self, count: int, pins: tuple[int, ...] | None = None, name: str = "pod") -> dict:
        """The claim the 1.37 scheduler makes for a pod asking ``nvidia.com/gpu: count``
        (plus, with pins, the selector naming the policy's devices)."""
        from dra.allocator.extended import claim_dict_for_pod

        pod = Pod(name, 0, 0, count, 1000)
        claim = claim_dict_for_pod(pod_object(pod, count), self._mapping)
        if claim is None:  # pragma: no cover - the mapping was checked in setup
            raise AssertionError("no extended-resource claim")
        if pins:
            claim = copy.deepcopy(claim)
            expr = f"device.attributes['{self.driver}'].index in [{', '.join(str(i) for i in pins)}]"
            for r in claim["spec"]["devices"]["requests"]:
                r["exactly"]["selectors"] = [{"cel": {"expression": expr}}]
        return claim

    # -- binding ------------------------------------------------------------------------------
    def bind(self, node: NodeState, pod: Pod, d: Demand, gpus: tuple[int, ...], now: float) -> Binding | None:
        if node.idx in self.dra_nodes:
            binding = super().bind(node, pod, d, gpus, now)
            if binding is not None and is_extended(d):
                self.extended_claims += 1
            return binding
        # the device plugin, exactly as the ``device-plugin`` model binds
        if gpus:
            self.device_plugin_pods += 1
        return Placement.bind(self, node, pod, d, gpus, now)

    def release(self, node: NodeState, binding: Binding) -> None:
        if node.idx in self.dra_nodes:
            super().release(node, binding)
        else:
            Placement.release(self, node, binding)

    def accounting(self) -> dict:
        return {**super().accounting(), "dra_nodes": len(self.dra_nodes),
                "extended_resource_claims": self.extended_claims,
                "device_plugin_pods": self.device_plugin_pods}
