"""GPU inventory: what GPUs a node has, from NVML or from the built-in catalog.

* :mod:`dra.gpu.inventory` - the frozen data model (``NodeInventory``, ``GpuInfo``, MIG types);
* :mod:`dra.gpu.catalog` and :mod:`dra.gpu.mig_tables` - GPU models, public specs, MIG tables;
* :mod:`dra.gpu.builtin` - node shapes and profiles for machines without GPUs;
* :mod:`dra.gpu.nvml` - discovery on a real node through nvidia-ml-py (NVML).
"""

from dra.gpu.inventory import (
    GpuInfo,
    InventoryError,
    MigDeviceInfo,
    MigPlacement,
    MigProfile,
    NodeInventory,
)

__all__ = [
    "GpuInfo",
    "InventoryError",
    "MigDeviceInfo",
    "MigPlacement",
    "MigProfile",
    "NodeInventory",
]
