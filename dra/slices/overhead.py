"""GPU host-resource overhead, published through ``Device.nodeAllocatableResources`` (KEP-5517).

A GPU costs its pod host memory (pinned buffers, the CUDA context, driver bookkeeping) that
the pod's own requests do not name. Kubernetes 1.37 lets a driver say so per device:
``nodeAllocatableResources[<cpu|memory|hugepages-*>].overhead = {perPod?, perContainer?}``;
the scheduler charges ``perPod + perContainer x containers`` for every pod that references
the claim, and the kubelet adds it to the pod's cgroup limits. NVIDIA's driver publishes only
this ``overhead`` branch (never ``mapping``), per device class (``gpu``, ``mig``), behind its
``NodeAllocatableResources`` driver gate, on 1.37+ with ``DRANodeAllocatableResources`` on.

Where it is published (:func:`overhead_blocker` says why not, in one line):

* 1.34/1.35: the field does not exist;
* 1.36: only ``nodeAllocatableResourceMappings`` exists, a mapping with no overhead form, so
  the overhead cannot be said there (tombstoned in 1.37 anyway);
* 1.37: only when ``DRANodeAllocatableResources`` (alpha, off by default) is on -- with the
  gate off the API server drops the field, which our publisher reports as dropped fields.

The setting is written ``TYPE.RESOURCE.perPod=QUANTITY`` (and ``perContainer``), comma
separated, e.g. ``gpu.memory.perPod=256Mi,gpu.memory.perContainer=64Mi,mig.memory.perPod=128Mi``
(``--node-allocatable-overhead`` of ``dra slices`` and ``dra plugin run``, Helm
``nodeAllocatableOverhead``).
"""

from __future__ import annotations

import re
from typing import Mapping

from dra.api import NodeAllocatableOverhead, NodeAllocatableResource, Quantity
from dra.api.quantity import QuantityError
from dra.errors import UserError
from dra.versions import KubernetesVersion

DEVICE_TYPES = ("gpu", "mig")
GATE = "DRANodeAllocatableResources"
# Upstream's IsNodeAllocatableResourceName: cpu, memory, hugepages-<size>.
_RESOURCE = re.compile(r"^(cpu|memory|hugepages-[0-9A-Za-z.]+)$")
_FIELDS = {"perPod": "per_pod", "perContainer": "per_container"}

# device type -> resource name -> the object every such device carries (shared, never mutated)
Overheads = Mapping[str, Mapping[str, NodeAllocatableResource]]


class OverheadError(UserError):
    """A malformed ``--node-allocatable-overhead`` setting."""


def parse_overhead(text: str, *, option: str = "--node-allocatable-overhead") -> dict[str, dict[str, NodeAllocatableResource]]:
    """``gpu.memory.perPod=256Mi,...`` as device type -> resource -> NodeAllocatableResource."""
    values: dict[str, dict[str, dict[str, Quantity]]] = {}
    for part in filter(None, (p.strip() for p in str(text or "").split(","))):
        key, sep, value = part.partition("=")
        keys = key.strip().split(".")
        if not sep or len(keys) != 3:
            raise OverheadError(f"{option}: {part!r} is not TYPE.RESOURCE.perPod|perContainer=QUANTITY"
                                " (e.g. gpu.memory.perPod=256Mi)")
        dev_type, resource, field = keys
        if dev_type not in DEVICE_TYPES:
            raise OverheadError(f"{option}: {part!r}: device type {dev_type!r} is not one of {', '.join(DEVICE_TYPES)}")
        if not _RESOURCE.match(resource):
            raise OverheadError(f"{option}: {part!r}: {resource!r} must be a node allocatable resource name"
                                " (cpu, memory or hugepages-<size>)")
        if field not in _FIELDS:
            raise OverheadError(f"{option}: {part!r}: {field!r} is not perPod or perContainer")
        try:
            quantity = Quantity.parse(value.strip())
        except QuantityError as err:
            raise OverheadError(f"{option}: {part!r}: {value.strip()!r} is not a quantity ({err})") from None
        if quantity.sign() < 0:
            raise OverheadError(f"{option}: {part!r}: must be non-negative")
        slot = values.setdefault(dev_type, {}).setdefault(resource, {})
        if field in slot:
            raise OverheadError(f"{option}: {dev_type}.{resource}.{field} is given twice")
        slot[field] = quantity
    return {
        dev_type: {
            resource: NodeAllocatableResource(overhead=NodeAllocatableOverhead(
                **{_FIELDS[f]: q for f, q in fields.items()}))
            for resource, fields in sorted(resources.items())
        }
        for dev_type, resources in sorted(values.items())
    }


def overhead_blocker(version: KubernetesVersion) -> str | None:
    """Why ``version`` cannot carry the overhead, or None when it can."""
    if version.minor in ("1.34", "1.35"):
        return f"Kubernetes {version.minor} has no Device.nodeAllocatableResources (1.37+)"
    if version.minor == "1.36":
        return ("Kubernetes 1.36 has only nodeAllocatableResourceMappings, which cannot express an overhead"
                " (1.37+ nodeAllocatableResources)")
    if not version.gates.get(GATE, False):
        return f"feature gate {GATE} is off on Kubernetes {version.minor} (alpha, off by default)"
    return None


def format_overhead(overheads: Overheads) -> str:
    """The setting back in its ``TYPE.RESOURCE.FIELD=Q`` form (sorted; for logs and docs)."""
    parts = []
    for dev_type, resources in sorted(overheads.items()):
        for resource, value in sorted(resources.items()):
            ov = value.overhead
            for wire, attr in _FIELDS.items():
                q = getattr(ov, attr) if ov is not None else None
                if q is not None:
                    parts.append(f"{dev_type}.{resource}.{wire}={q}")
    return ",".join(parts)
