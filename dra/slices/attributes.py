"""Device attributes and capacities as NVIDIA's driver names them, built cheaply.

Attribute names (bare keys belong to the driver's domain, ``gpu.nvidia.com``):

=============================== ======= ===============================================
key                             type    value
=============================== ======= ===============================================
type                            string  ``gpu`` or ``mig``
uuid                            string  ``GPU-...`` / ``MIG-...`` (dynamic MIG: none)
parentUUID, profile             string  MIG devices only
productName, brand, architecture string as NVML reports them
cudaComputeCapability           version ``9.0`` -> ``9.0.0``
driverVersion                   version ``580.95.05`` -> ``580.95.5`` (semver: no leading 0)
cudaDriverVersion               version ``13.0`` -> ``13.0.0``
resource.kubernetes.io/pciBusID string  ``0000:18:00.0``
resource.kubernetes.io/pcieRoot string  ``pci0000:15`` (when known)
resource.kubernetes.io/numaNode int     when known; a one-element ``ints`` list when
                                        ``DRAListTypeAttributes`` is on (KEP-6072, as NVIDIA)
index, minor                    int     ours (NVIDIA dropped them in 2025): NVML index/minor
nvlinkDomain                    string  ours: equal for NVLink peers, unique in the fleet
cliqueId                        string  ours: ``<clusterUUID>.<cliqueId>`` on fabric platforms
=============================== ======= ===============================================

Most values repeat across thousands of GPUs of one model, so attribute and capacity objects
for them are made once and shared (they are never mutated after building). Building the
slices of 1,000 nodes is the simulator's start-up cost; sharing keeps it small.
"""

from __future__ import annotations

import re
from typing import Any

from dra.api import DeviceAttribute, DeviceCapacity, Quantity
from dra.slices.fast import constructor
from dra.gpu.inventory import GpuInfo

STD = "resource.kubernetes.io"
PCI_BUS_ID = f"{STD}/pciBusID"
PCIE_ROOT = f"{STD}/pcieRoot"
NUMA_NODE = f"{STD}/numaNode"

# pydantic models are made without re-validation: every value here is built by this module
# from typed inventory data, and the tests re-parse every built slice with full validation.
_construct_attribute = constructor(DeviceAttribute)
_construct_capacity = constructor(DeviceCapacity)

_shared_attrs: dict[tuple[str, Any], DeviceAttribute] = {}
_shared_caps: dict[tuple[int, str], DeviceCapacity] = {}
_versions: dict[str, str | None] = {}
_SHARE_LIMIT = 100_000  # bound the caches (values are low-cardinality; this is a safety net)


def string_attr(value: str) -> DeviceAttribute:
    return _construct_attribute(string=value)


def int_attr(value: int) -> DeviceAttribute:
    return _construct_attribute(int_=value)


def shared_attr(kind: str, value: Any) -> DeviceAttribute:
    """An attribute object shared by every device with the same (kind, value)."""
    key = (kind, value)
    attr = _shared_attrs.get(key)
    if attr is None:
        if len(_shared_attrs) > _SHARE_LIMIT:
            _shared_attrs.clear()
        attr = _construct_attribute(**{kind: value})
        _shared_attrs[key] = attr
    return attr


def capacity(value: int, fmt: str = "DecimalSI") -> DeviceCapacity:
    """A fixed (non-consumable) capacity, shared by value."""
    key = (value, fmt)
    cap = _shared_caps.get(key)
    if cap is None:
        if len(_shared_caps) > _SHARE_LIMIT:
            _shared_caps.clear()
        cap = _construct_capacity(value=Quantity.from_int(value, fmt))
        _shared_caps[key] = cap
    return cap


def memory_capacity(value: int) -> DeviceCapacity:
    return capacity(value, "BinarySI")


_NUMERIC = re.compile(r"^\d+$")


def semver(text: str) -> str | None:
    """A driver-style version (``9.0``, ``580.95.05``, ``12.4``) as semver 2.0.0, or None.

    NVIDIA's driver normalises the same way: pad to three parts, drop leading zeros.
    """
    if text in _versions:
        return _versions[text]
    parts = str(text).strip().split(".")
    result: str | None
    if not parts or not all(_NUMERIC.match(p) for p in parts):
        result = None
    else:
        nums = [int(p) for p in parts[:3]] + [0] * (3 - min(3, len(parts)))
        result = ".".join(str(n) for n in nums)
    _versions[text] = result
    return result


_model_parts: dict[tuple[str, ...], dict[str, DeviceAttribute]] = {}
_position_parts: dict[tuple[object, ...], dict[str, DeviceAttribute]] = {}


def _model_part(gpu: GpuInfo) -> dict[str, DeviceAttribute]:
    """Attributes that follow from the GPU model and driver (same on every such GPU)."""
    key = (gpu.product_name, gpu.brand, gpu.architecture, gpu.cuda_compute_capability,
           gpu.driver_version, gpu.cuda_driver_version)
    part = _model_parts.get(key)
    if part is None:
        part = {
            "productName": shared_attr("string", gpu.product_name),
            "brand": shared_attr("string", gpu.brand),
            "architecture": shared_attr("string", gpu.architecture),
        }
        for name, text in (
            ("cudaComputeCapability", gpu.cuda_compute_capability),
            ("driverVersion", gpu.driver_version),
            ("cudaDriverVersion", gpu.cuda_driver_version),
        ):
            version = semver(text)
            if version is not None:
                part[name] = shared_attr("version", version)
        if len(_model_parts) > 4096:
            _model_parts.clear()
        _model_parts[key] = part
    return part


def _position_part(gpu: GpuInfo) -> dict[str, DeviceAttribute]:
    """Attributes of the GPU's place in its node (equal on nodes of the same board layout)."""
    key = (gpu.pci_bus_id, gpu.pcie_root, gpu.numa_node, gpu.index, gpu.minor)
    part = _position_parts.get(key)
    if part is None:
        part = {PCI_BUS_ID: shared_attr("string", gpu.pci_bus_id)}
        if gpu.pcie_root:
            part[PCIE_ROOT] = shared_attr("string", gpu.pcie_root)
        if gpu.numa_node is not None and gpu.numa_node >= 0:
            part[NUMA_NODE] = shared_attr("int_", gpu.numa_node)
        part["index"] = shared_attr("int_", gpu.index)
        part["minor"] = shared_attr("int_", gpu.minor)
        if len(_position_parts) > _SHARE_LIMIT:
            _position_parts.clear()
        _position_parts[key] = part
    return part


_numa_lists: dict[int, DeviceAttribute] = {}


def numa_list_attr(numa_node: int) -> DeviceAttribute:
    """``resource.kubernetes.io/numaNode`` in list form (``ints: [n]``), shared by value.

    KEP-6072 prefers the list form once list-typed attributes exist (a device may sit on
    several NUMA nodes); a scalar stays comparable with a one-element list in CEL and in
    matchAttribute, so claims written for either form keep working."""
    attr = _numa_lists.get(numa_node)
    if attr is None:
        attr = _construct_attribute(ints=[numa_node])
        _numa_lists[numa_node] = attr
    return attr


def gpu_attributes(gpu: GpuInfo) -> dict[str, DeviceAttribute]:
    """The attributes every device of this GPU carries (``type`` and ``uuid`` excluded)."""
    attrs = {**_model_part(gpu), **_position_part(gpu)}
    if gpu.nvlink_domain:
        attrs["nvlinkDomain"] = shared_attr("string", gpu.nvlink_domain)
    clique = gpu.fabric_clique
    if clique:
        attrs["cliqueId"] = shared_attr("string", clique)
    return attrs
