"""The inventory of one node's GPUs: what a backend found, before any DRA shape is given to it.

An inventory is plain, frozen data. Two backends produce it:

* :mod:`dra.gpu.nvml` asks the NVIDIA driver through NVML (a real node);
* :mod:`dra.gpu.builtin` builds it from the catalog of GPU models and node shapes (a
  machine without GPUs, the simulator, tests).

The slice builder (:mod:`dra.slices`) turns an inventory into ResourceSlices; nothing in
this module knows about Kubernetes objects.

Units: memory in bytes; ``multiprocessors`` is the streaming-multiprocessor (SM) count.
MIG placements count *memory slices* (8 on A100/H100/H200/B200), as NVML's
``nvmlGpuInstancePlacement_t`` does.

``to_dict``/``from_dict`` give a stable camelCase form so that an inventory recorded on a
real node can be written to YAML and loaded back as a profile (``dra inventory -o yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

from dra.errors import UserError


class InventoryError(UserError):
    """An inventory (usually a YAML profile) is malformed; the message names the field."""


@dataclass(frozen=True, slots=True)
class MigPlacement:
    """Where a GPU instance may sit: ``size`` memory slices starting at slice ``start``."""

    start: int
    size: int

    @property
    def slices(self) -> range:
        return range(self.start, self.start + self.size)


@dataclass(frozen=True, slots=True)
class MigProfile:
    """One GPU-instance profile (with its full compute instance), e.g. ``1g.10gb``.

    ``gi_profile_id`` is the profile id that ``nvidia-smi mig -lgip`` shows and NVML's
    ``nvmlGpuInstanceProfileInfo_t.id`` holds (19 for 1g, 14 for 2g, 0 for 7g, ...);
    NVIDIA's DRA driver puts it into the MIG device name.
    """

    name: str
    gi_profile_id: int
    compute_slices: int
    memory_slices: int
    memory_bytes: int
    multiprocessors: int
    copy_engines: int = 0
    decoders: int = 0
    encoders: int = 0
    jpeg_engines: int = 0
    ofa_engines: int = 0
    placements: tuple[MigPlacement, ...] = ()

    @property
    def max_instances(self) -> int:
        """How many instances of this profile alone fit on one GPU (the "x7" of 1g.10gb)."""
        taken: set[int] = set()
        count = 0
        for placement in sorted(self.placements, key=lambda p: p.start):
            if taken.isdisjoint(placement.slices):
                taken.update(placement.slices)
                count += 1
        return count

    def engines(self) -> dict[str, int]:
        """The per-profile capacities NVIDIA's driver publishes, by their attribute names."""
        return engine_capacities(self)


def engine_capacities(unit: "MigProfile | MigDeviceInfo") -> dict[str, int]:
    """The per-instance capacities NVIDIA's driver publishes for a MIG profile or device, by
    their attribute names (both carry the same engine counts)."""
    return {
        "multiprocessors": unit.multiprocessors,
        "copyEngines": unit.copy_engines,
        "decoders": unit.decoders,
        "encoders": unit.encoders,
        "jpegEngines": unit.jpeg_engines,
        "ofaEngines": unit.ofa_engines,
    }


@dataclass(frozen=True, slots=True)
class MigDeviceInfo:
    """A MIG device that exists now (static MIG): one GPU instance + compute instance."""

    uuid: str
    profile: str
    gi_profile_id: int
    placement: MigPlacement
    gi_id: int
    ci_id: int
    memory_bytes: int
    multiprocessors: int
    copy_engines: int = 0
    decoders: int = 0
    encoders: int = 0
    jpeg_engines: int = 0
    ofa_engines: int = 0

    def engines(self) -> dict[str, int]:
        return engine_capacities(self)


# Architectures whose MIG mode can be switched without a GPU reset (NVIDIA's driver offers
# the full GPU and its MIG partitions side by side only on these; see driver-anchors §b).
_MIG_TOGGLE_ARCHITECTURES = frozenset({"Hopper", "Blackwell"})


@dataclass(frozen=True, slots=True)
class GpuInfo:
    """One physical GPU as NVML (or a catalog entry) describes it."""

    uuid: str
    index: int
    minor: int
    product_name: str
    brand: str
    architecture: str
    cuda_compute_capability: str
    driver_version: str
    cuda_driver_version: str
    memory_bytes: int
    multiprocessors: int
    pci_bus_id: str
    pcie_root: str | None = None
    numa_node: int | None = None
    mig_capable: bool = False
    mig_enabled: bool = False
    mig_profiles: tuple[MigProfile, ...] = ()
    mig_devices: tuple[MigDeviceInfo, ...] = ()
    nvlink_domain: str | None = None
    fabric_cluster_uuid: str | None = None
    clique_id: str | None = None

    @property
    def mig_toggle_without_reset(self) -> bool:
        return self.architecture in _MIG_TOGGLE_ARCHITECTURES

    @property
    def memory_slice_count(self) -> int:
        """Memory slices of the GPU: the widest placement seen (8 on A100/H100/B200)."""
        ends = [p.start + p.size for prof in self.mig_profiles for p in prof.placements]
        return max(ends, default=0)

    def profile(self, name: str) -> MigProfile | None:
        for prof in self.mig_profiles:
            if prof.name == name:
                return prof
        return None

    @property
    def fabric_clique(self) -> str | None:
        """NVIDIA's clique id form ``<clusterUUID>.<cliqueId>``; None without a fabric."""
        if self.fabric_cluster_uuid and self.clique_id is not None:
            return f"{self.fabric_cluster_uuid}.{self.clique_id}"
        return None


@dataclass(frozen=True, slots=True)
class NodeInventory:
    """All GPUs of one node, plus the intra-node NVLink peer groups (by GPU index)."""

    node_name: str
    gpus: tuple[GpuInfo, ...] = ()
    nvlink_groups: tuple[tuple[int, ...], ...] = ()
    source: str = ""

    def gpu(self, index: int) -> GpuInfo:
        for gpu in self.gpus:
            if gpu.index == index:
                return gpu
        raise KeyError(index)

    # -- serialisation (profiles recorded from real nodes) -------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodeName": self.node_name,
            "source": self.source,
            "nvlinkGroups": [list(g) for g in self.nvlink_groups],
            "gpus": [_to_camel_dict(g) for g in self.gpus],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "") -> "NodeInventory":
        if not isinstance(data, Mapping):
            raise InventoryError(f"{path or '<inventory>'}: expected a mapping")
        gpus_raw = data.get("gpus")
        if not isinstance(gpus_raw, list):
            raise InventoryError(f"{_join(path, 'gpus')}: expected a list of GPUs")
        gpus = tuple(
            _gpu_from_dict(g, f"{_join(path, 'gpus')}[{i}]") for i, g in enumerate(gpus_raw)
        )
        groups_raw = data.get("nvlinkGroups") or []
        try:
            groups = tuple(tuple(int(i) for i in g) for g in groups_raw)
        except (TypeError, ValueError):
            raise InventoryError(
                f"{_join(path, 'nvlinkGroups')}: expected a list of lists of GPU indexes"
            ) from None
        return cls(
            node_name=str(data.get("nodeName", "")),
            gpus=gpus,
            nvlink_groups=groups,
            source=str(data.get("source", "")),
        )


# ---------------------------------------------------------------------------------------
# camelCase <-> dataclass helpers (kept generic: every field is an int/str/bool/None, a
# nested dataclass, or a tuple of them)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _to_camel_dict(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, tuple):
            value = [_to_camel_dict(v) if hasattr(v, "__dataclass_fields__") else v for v in value]
        elif hasattr(value, "__dataclass_fields__"):
            value = _to_camel_dict(value)
        out[_camel(f.name)] = value
    return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _scalar_fields(cls: type, data: Mapping[str, Any], path: str, nested: set[str]) -> dict[str, Any]:
    known = {_camel(f.name): f for f in fields(cls)}
    for key in data:
        if key not in known:
            raise InventoryError(f"{_join(path, str(key))}: unknown field")
    kwargs: dict[str, Any] = {}
    for camel, f in known.items():
        if f.name in nested or camel not in data:
            continue
        value = data[camel]
        expected = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        if value is not None and expected.startswith("int") and not isinstance(value, int):
            raise InventoryError(f"{_join(path, camel)}: expected an integer, got {value!r}")
        if value is not None and expected.startswith("bool") and not isinstance(value, bool):
            raise InventoryError(f"{_join(path, camel)}: expected true or false, got {value!r}")
        if value is not None and expected.startswith("str") and not isinstance(value, str):
            value = str(value)
        kwargs[f.name] = value
    return kwargs


def _placement_from_dict(data: Any, path: str) -> MigPlacement:
    if not isinstance(data, Mapping):
        raise InventoryError(f"{path}: expected a mapping with start and size")
    kwargs = _scalar_fields(MigPlacement, data, path, set())
    try:
        return MigPlacement(**kwargs)
    except TypeError:
        raise InventoryError(f"{path}: start and size are required") from None


def _profile_from_dict(data: Any, path: str) -> MigProfile:
    if not isinstance(data, Mapping):
        raise InventoryError(f"{path}: expected a mapping")
    kwargs = _scalar_fields(MigProfile, data, path, {"placements"})
    placements = tuple(
        _placement_from_dict(p, f"{_join(path, 'placements')}[{i}]")
        for i, p in enumerate(data.get("placements") or [])
    )
    try:
        return MigProfile(placements=placements, **kwargs)
    except TypeError as err:
        raise InventoryError(f"{path}: missing field ({err})") from None


def _mig_device_from_dict(data: Any, path: str) -> MigDeviceInfo:
    if not isinstance(data, Mapping):
        raise InventoryError(f"{path}: expected a mapping")
    kwargs = _scalar_fields(MigDeviceInfo, data, path, {"placement"})
    placement = _placement_from_dict(data.get("placement"), _join(path, "placement"))
    try:
        return MigDeviceInfo(placement=placement, **kwargs)
    except TypeError as err:
        raise InventoryError(f"{path}: missing field ({err})") from None


def _gpu_from_dict(data: Any, path: str) -> GpuInfo:
    if not isinstance(data, Mapping):
        raise InventoryError(f"{path}: expected a mapping")
    kwargs = _scalar_fields(GpuInfo, data, path, {"mig_profiles", "mig_devices"})
    profiles = tuple(
        _profile_from_dict(p, f"{_join(path, 'migProfiles')}[{i}]")
        for i, p in enumerate(data.get("migProfiles") or [])
    )
    devices = tuple(
        _mig_device_from_dict(d, f"{_join(path, 'migDevices')}[{i}]")
        for i, d in enumerate(data.get("migDevices") or [])
    )
    try:
        return GpuInfo(mig_profiles=profiles, mig_devices=devices, **kwargs)
    except TypeError as err:
        raise InventoryError(f"{path}: missing field ({err})") from None


__all__ = [
    "GpuInfo",
    "InventoryError",
    "MigDeviceInfo",
    "MigPlacement",
    "MigProfile",
    "NodeInventory",
]
