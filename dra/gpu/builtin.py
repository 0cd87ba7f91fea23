"""Built-in inventories for machines without GPUs: node shapes made of catalog models.

A *profile* is either a name or a YAML file:

* a named node shape (``dgx-h100``, ``gb200-nvl72``, ``inference-l4``, ... see
  :data:`NODE_SHAPES` and :func:`profile_names`);
* ``<model>-x<N>``: N GPUs of any catalog model or alias (``t4-x4``, ``h200-x8``,
  ``v100m32-x8``), linked the way that model's boards are;
* a YAML file (read by :mod:`dra.gpu.profile_file`), either a shape::

      model: H100-SXM5-80GB      # catalog key, alias or openb code
      count: 8
      nvlink: switch             # switch | mesh | pairs | none | fabric, or [[0,1],[2,3]]
      numaNodes: 2
      migLayout: all-balanced    # optional: all-balanced | all-<profile> | [3g.40gb, 1g.10gb]
      migEnabled: true           # optional: MIG on without MIG devices (default: on iff migLayout)
      driverVersion: 580.95.05
      cudaDriverVersion: "13.0"
      fabric: {clusterUUID: ..., cliqueId: 1}   # for nvlink: fabric

  or a recorded inventory (``dra inventory -o yaml`` on a real node: a mapping with
  ``gpus:``), which is loaded as is and renamed to the requested node.

:func:`build_node` is the fast path the simulator uses for the openb fleet (1,213 nodes):
``build_node("V100M32", 8, "openb-node-0042")``.

Everything is deterministic: UUIDs are name-based (uuid5) on the node name and GPU index,
so the same node always gets the same devices.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from dra.errors import UserError
from dra.gpu.catalog import GPU_MODELS, OPENB_MODELS, GpuModel, find_model
from dra.gpu.inventory import GpuInfo, MigDeviceInfo, MigPlacement, NodeInventory
from dra.gpu.topology import fabric_domain_id, node_domain_ids, with_singletons

DEFAULT_DRIVER_VERSION = "580.95.05"
DEFAULT_CUDA_DRIVER_VERSION = "13.0"
NVL72_NODES_PER_CLIQUE = 18

_NAMESPACE = uuid.UUID("6b1d7a52-3c55-4c7e-9a53-1f0d8f5b2b10")  # our own uuid5 namespace

# Plausible PCI bus numbers of an 8-GPU HGX board (those of a DGX H100), reused for smaller
# nodes: the first N are taken.
_HGX_BUSES = (0x18, 0x2A, 0x3A, 0x5D, 0x9A, 0xAB, 0xBA, 0xDB)


__all__ = [
    "GPU_MODELS", "NODE_SHAPES", "OPENB_MODELS", "Fabric", "NodeShape", "ProfileError",
    "build_node", "gb200_nvl72_rack", "load_profile", "nvl72_fabric", "profile_names",
]


class ProfileError(UserError):
    """A profile name or profile file is wrong; the message names it."""


@dataclass(frozen=True, slots=True)
class Fabric:
    """Multi-node NVLink membership: NVML's fabric cluster UUID and clique id."""

    cluster_uuid: str
    clique_id: str


@dataclass(frozen=True, slots=True)
class NodeShape:
    name: str
    model: str
    count: int
    description: str
    nvlink: str | None = None  # None = the model's default
    numa_nodes: int = 2
    mig_layout: str | None = None


NODE_SHAPES: dict[str, NodeShape] = {
    s.name: s
    for s in (
        NodeShape("dgx-a100", "A100-SXM4-80GB", 8, "DGX A100: 8 A100 80GB, one NVSwitch domain"),
        NodeShape("dgx-a100-40gb", "A100-SXM4-40GB", 8, "DGX A100 40GB: 8 A100 40GB, NVSwitch"),
        NodeShape("dgx-a100-mig", "A100-SXM4-80GB", 8, "DGX A100 with MIG on, balanced layout",
                  mig_layout="all-balanced"),
        NodeShape("dgx-h100", "H100-SXM5-80GB", 8, "DGX H100: 8 H100 SXM5 80GB, one NVSwitch domain"),
        NodeShape("dgx-h100-mig", "H100-SXM5-80GB", 8, "DGX H100 with MIG on, balanced layout",
                  mig_layout="all-balanced"),
        NodeShape("dgx-h100-mig-1g", "H100-SXM5-80GB", 8, "DGX H100 with MIG on, 7x 1g.10gb per GPU",
                  mig_layout="all-1g.10gb"),
        NodeShape("dgx-h200", "H200-SXM5-141GB", 8, "DGX H200: 8 H200 141GB, one NVSwitch domain"),
        NodeShape("dgx-b200", "B200-180GB", 8, "DGX B200: 8 B200 180GB, one NVSwitch domain"),
        NodeShape("gb200-nvl72", "GB200", 4,
                  "GB200 NVL72 compute tray: 4 GPUs; 18 trays share one NVLink clique"),
        NodeShape("h100-pcie-x2", "H100-PCIE-80GB", 2, "2 H100 PCIe joined by an NVLink bridge",
                  numa_nodes=1),
        NodeShape("hgx-h100-pcie", "H100-PCIE-80GB", 8, "8 H100 PCIe, NVLink bridges in pairs"),
        NodeShape("inference-l4", "L4", 4, "inference node: 4 L4, PCIe only", numa_nodes=1),
        NodeShape("inference-l4x8", "L4", 8, "inference node: 8 L4 (g2-standard-96 style)"),
        NodeShape("inference-t4", "T4", 4, "inference node: 4 T4, PCIe only", numa_nodes=1),
        NodeShape("inference-l40s", "L40S", 4, "inference node: 4 L40S, PCIe only"),
        NodeShape("inference-a10g", "A10G", 4, "inference node: 4 A10G (g5.12xlarge style)",
                  numa_nodes=1),
        NodeShape("training-v100", "V100-SXM2-32GB", 8, "8 V100 SXM2 32GB, hybrid cube-mesh NVLink"),
        NodeShape("legacy-p100", "P100-PCIE-16GB", 2, "2 P100 PCIe", numa_nodes=1),
    )
}

_GENERIC = re.compile(r"^(?P<model>.+)-x(?P<count>\d+)$")
# GPUs one node can hold: 8 on HGX/DGX boards, 16 on the largest (DGX-2/HGX-2) systems.
MAX_GPUS_PER_NODE = 16


def profile_names() -> list[str]:
    """Named shapes plus a few ``<model>-x<N>`` examples (any model/alias works)."""
    generic = ["a10-x1", "a10g-x1", "b200-x8", "g2-x8", "g3-x2", "h100-x1", "h200-x8", "l4-x1",
               "l40s-x8", "p100-x2", "t4-x1", "v100m16-x2", "v100m32-x8"]
    return sorted(NODE_SHAPES) + generic


# ---------------------------------------------------------------------------------------
# building one node


_NAMESPACE_BYTES = _NAMESPACE.bytes


def _uuid5(name: str) -> str:
    """``str(uuid.uuid5(_NAMESPACE, name))`` without the UUID object (hot path for big fleets)."""
    d = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])
    d[6] = (d[6] & 0x0F) | 0x50
    d[8] = (d[8] & 0x3F) | 0x80
    h = d.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _gpu_uuid(node_name: str, index: int) -> str:
    return f"GPU-{_uuid5(f'{node_name}/{index}')}"


def _nvlink_groups(kind: str | Sequence[Sequence[int]], count: int) -> list[tuple[int, ...]]:
    if not isinstance(kind, str):
        return [tuple(int(i) for i in g) for g in kind]
    if count < 2 or kind == "none":
        return []
    if kind in ("switch", "mesh", "fabric"):
        return [tuple(range(count))]
    if kind == "pairs":
        return [tuple(range(i, min(i + 2, count))) for i in range(0, count, 2) if i + 1 < count]
    raise ProfileError(f"nvlink: unknown topology {kind!r} (switch, mesh, pairs, fabric, none)")


def _mig_devices(model: GpuModel, gpu_uuid: str, layout: str | Sequence[str]) -> tuple[MigDeviceInfo, ...]:
    """Place the layout's profiles greedily (largest first) on the first free placement."""
    profiles = {p.name: p for p in model.mig_profiles}
    if isinstance(layout, str):
        if layout == "all-balanced":
            by_kind = {p.gi_profile_id: p.name for p in model.mig_profiles}
            wanted = [by_kind[9], by_kind[14], by_kind[19], by_kind[19]]
        elif layout.startswith("all-") and layout[4:] in profiles:
            wanted = [layout[4:]] * profiles[layout[4:]].max_instances
        else:
            raise ProfileError(
                f"migLayout: unknown layout {layout!r} for {model.key} (all-balanced, "
                f"all-<profile> with profile one of {', '.join(profiles)}, or a list of profiles)"
            )
    else:
        wanted = list(layout)
    for name in wanted:
        if name not in profiles:
            raise ProfileError(f"migLayout: {model.key} has no MIG profile {name!r}")
    wanted.sort(key=lambda n: -profiles[n].memory_slices)
    spots = _place([profiles[n].placements for n in wanted], frozenset())
    if spots is None:
        raise ProfileError(f"migLayout: {', '.join(wanted)} do not fit together on {model.key}")
    devices = []
    for gi_id, (name, spot) in enumerate(zip(wanted, spots), start=1):
        prof = profiles[name]
        devices.append(
            MigDeviceInfo(
                uuid=f"MIG-{_uuid5(f'{gpu_uuid}/{gi_id}')}",
                profile=name,
                gi_profile_id=prof.gi_profile_id,
                placement=spot,
                gi_id=gi_id,
                ci_id=0,
                memory_bytes=prof.memory_bytes,
                multiprocessors=prof.multiprocessors,
                copy_engines=prof.copy_engines,
                decoders=prof.decoders,
                encoders=prof.encoders,
                jpeg_engines=prof.jpeg_engines,
                ofa_engines=prof.ofa_engines,
            )
        )
    return tuple(sorted(devices, key=lambda d: d.placement.start))


def _place(options: list[tuple[MigPlacement, ...]], taken: frozenset[int]) -> list[MigPlacement] | None:
    """First placement per profile (in order) so that none overlap; a small backtracking search."""
    if not options:
        return []
    for spot in options[0]:
        if taken.isdisjoint(spot.slices):
            rest = _place(options[1:], taken | frozenset(spot.slices))
            if rest is not None:
                return [spot, *rest]
    return None


def build_node(
    model: str | GpuModel,
    gpu_count: int,
    node_name: str,
    *,
    nvlink: str | Sequence[Sequence[int]] | None = None,
    numa_nodes: int = 2,
    mig_layout: str | Sequence[str] | None = None,
    mig_enabled: bool | None = None,
    fabric: Fabric | None = None,
    driver_version: str = DEFAULT_DRIVER_VERSION,
    cuda_driver_version: str = DEFAULT_CUDA_DRIVER_VERSION,
    source: str = "",
) -> NodeInventory:
    """A node of ``gpu_count`` identical GPUs of ``model`` (catalog key, alias, openb code).

    ``mig_layout`` creates MIG devices on every GPU (and turns MIG on); ``mig_enabled=True``
    turns MIG on without creating any (what a dynamic-MIG node starts from).
    """
    spec = model if isinstance(model, GpuModel) else find_model(model)
    if not isinstance(gpu_count, int) or gpu_count < 0:
        raise ProfileError(f"count: expected a non-negative integer, got {gpu_count!r}")
    kind = nvlink if nvlink is not None else spec.nvlink
    if kind == "fabric" and fabric is None:
        fabric = nvl72_fabric("nvl72-rack-0")
    groups = with_singletons(range(gpu_count), _nvlink_groups(kind, gpu_count))
    for group in groups:
        for i in group:
            if not 0 <= i < gpu_count:
                raise ProfileError(f"nvlink: GPU index {i} out of range for {gpu_count} GPUs")
    domains = node_domain_ids(node_name, groups)
    fabric_domain = fabric_domain_id(fabric.cluster_uuid, fabric.clique_id) if fabric else None
    numa_nodes = max(1, numa_nodes)
    gpus = []
    for i in range(gpu_count):
        bus = _HGX_BUSES[i] if gpu_count <= len(_HGX_BUSES) else (0x10 + 8 * i) % 0xF8
        root_bus = _HGX_BUSES[i - i % 2] - 3 if gpu_count <= len(_HGX_BUSES) else bus - 3
        gpu_uuid = _gpu_uuid(node_name, i)
        mig = _mig_devices(spec, gpu_uuid, mig_layout) if mig_layout and spec.mig_capable else ()
        gpus.append(
            GpuInfo(
                uuid=gpu_uuid,
                index=i,
                minor=i,
                product_name=spec.product_name,
                brand=spec.brand,
                architecture=spec.architecture,
                cuda_compute_capability=spec.cuda_compute_capability,
                driver_version=driver_version,
                cuda_driver_version=cuda_driver_version,
                memory_bytes=spec.memory_bytes,
                multiprocessors=spec.multiprocessors,
                pci_bus_id=f"0000:{bus:02x}:00.0",
                pcie_root=f"pci0000:{root_bus:02x}",
                numa_node=i * numa_nodes // gpu_count,
                mig_capable=spec.mig_capable,
                mig_enabled=spec.mig_capable and (bool(mig) if mig_enabled is None else mig_enabled),
                mig_profiles=spec.mig_profiles,
                mig_devices=mig,
                nvlink_domain=fabric_domain if fabric_domain else domains[i],
                fabric_cluster_uuid=fabric.cluster_uuid if fabric else None,
                clique_id=fabric.clique_id if fabric else None,
            )
        )
    return NodeInventory(
        node_name=node_name,
        gpus=tuple(gpus),
        nvlink_groups=tuple(g for g in groups if len(g) > 1),
        source=source or f"builtin:{spec.key}x{gpu_count}",
    )


def nvl72_fabric(rack: str, clique_id: int = 1) -> Fabric:
    """The fabric identity of one NVL72 rack (deterministic from the rack name)."""
    return Fabric(cluster_uuid=_uuid5(f"fabric/{rack}"), clique_id=str(clique_id))


def gb200_nvl72_rack(rack: str = "nvl72-rack-0", *, nodes: int = NVL72_NODES_PER_CLIQUE) -> list[NodeInventory]:
    """The 18 compute trays (4 GB200 each, 72 GPUs) of one NVL72 rack, one NVLink clique."""
    fabric = nvl72_fabric(rack)
    return [
        build_node("GB200", 4, f"{rack}-node-{n:02d}", fabric=fabric, source="builtin:gb200-nvl72")
        for n in range(nodes)
    ]


# ---------------------------------------------------------------------------------------
# profiles by name or file


def load_profile(name_or_path: str | Path, node_name: str) -> NodeInventory:
    """Build the inventory of ``node_name`` from a profile name or a YAML profile file."""
    text = str(name_or_path)
    if text in NODE_SHAPES:
        shape = NODE_SHAPES[text]
        model = find_model(shape.model)
        return build_node(model, shape.count, node_name, nvlink=shape.nvlink,
                          numa_nodes=shape.numa_nodes, mig_layout=shape.mig_layout,
                          source=f"builtin:{shape.name}")
    path = Path(text)
    if text.endswith((".yaml", ".yml", ".json")) or path.is_file():
        from dra.gpu.profile_file import load_profile_file  # file formats live there

        return load_profile_file(path, node_name)
    generic = _GENERIC.match(text.lower())
    if generic:
        count = int(generic["count"])
        if not 1 <= count <= MAX_GPUS_PER_NODE:
            raise ProfileError(f"profile {text!r}: {count} GPUs per node; expected 1 to {MAX_GPUS_PER_NODE}")
        return build_node(generic["model"], count, node_name,
                          source=f"builtin:{text}")
    raise ProfileError(
        f"unknown profile {text!r}: not a file and not one of {', '.join(sorted(NODE_SHAPES))}"
        " (or <model>-x<N>, e.g. t4-x4)"
    )
