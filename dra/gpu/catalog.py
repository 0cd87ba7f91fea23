"""The catalog of GPU models: public specifications as NVML would report them.

``GPU_MODELS`` maps a catalog key (``H100-SXM5-80GB``) to a :class:`GpuModel`: the product
name NVML returns, brand, architecture, compute capability, memory (MiB, as
``nvidia-smi --query-gpu=memory.total`` shows it), SM count, MIG table, and the NVLink
topology an 8-GPU board of that model has. :func:`find_model` resolves keys and the short
aliases users type (``h100``, ``a100-40gb``, ``t4``) and the GPU model codes of the Alibaba
``openb`` trace (``G2``, ``G3``, ``P100``, ``T4``, ``V100M16``, ``V100M32``, ``A10``).

The two undisclosed openb codes get documented stand-ins, not guesses presented as facts:

* ``G2`` (4,392 GPUs, 8 per node in openb): stand-in "Ampere 24 GB inference card" with
  the A10's public specs (72 SMs, 24 GB, no MIG, no NVLink).
* ``G3`` (312 GPUs): stand-in "Ampere 40 GB training card" with the A100-PCIE-40GB's
  public specs but MIG off and no NVLink.

The Alibaba spot-GPU 2026 node list names two undisclosed series the same way:

* ``GPU-series-1`` (989 nodes of 1, 4 or 8 GPUs): stand-in "Ampere 24 GB" (A10 specs), the
  class of the 1-GPU inference nodes it sits beside.
* ``GPU-series-2`` (122 nodes of 8 GPUs, 192 vCPUs like the H800 nodes): stand-in "Hopper
  80 GB" (H800 specs, NVSwitch, MIG off).

Their product names say ``(stand-in)`` so nothing downstream mistakes them for real parts.
H800 and A800 are real parts: the H100 SXM5 / A100 SXM4 80GB dies with NVLink cut to 400 GB/s,
so memory, SM count and MIG tables are those of their H100/A100 counterparts.
"""

from __future__ import annotations

from dataclasses import dataclass

from dra.errors import UserError
from dra.gpu import mig_tables
from dra.gpu.inventory import MigProfile

MIB = 1024 * 1024


class UnknownModelError(UserError):
    """A profile or fleet names a GPU model that is not in the catalog."""


@dataclass(frozen=True, slots=True)
class GpuModel:
    key: str
    product_name: str
    brand: str
    architecture: str
    cuda_compute_capability: str
    memory_mib: int
    multiprocessors: int
    mig_profiles: tuple[MigProfile, ...] = ()
    # How the GPUs of one multi-GPU board of this model are linked:
    # "switch" = NVSwitch, all GPUs in one NVLink domain; "mesh" = direct NVLink mesh
    # (hybrid cube-mesh on V100 SXM2: one connected domain); "pairs" = NVLink bridges
    # between neighbouring pairs; "fabric" = multi-node NVLink (GB200 NVL72); "none" = PCIe only.
    nvlink: str = "none"
    notes: str = ""

    @property
    def memory_bytes(self) -> int:
        return self.memory_mib * MIB

    @property
    def mig_capable(self) -> bool:
        return bool(self.mig_profiles)


def _m(*args, **kwargs) -> GpuModel:  # noqa: ANN002, ANN003 - terse table rows
    return GpuModel(*args, **kwargs)


GPU_MODELS: dict[str, GpuModel] = {
    m.key: m
    for m in (
        _m("H100-SXM5-80GB", "NVIDIA H100 80GB HBM3", "Nvidia", "Hopper", "9.0", 81559, 132,
           mig_tables.H100_SXM_80GB, nvlink="switch"),
        _m("H100-PCIE-80GB", "NVIDIA H100 PCIe", "Nvidia", "Hopper", "9.0", 81559, 114,
           mig_tables.H100_PCIE_80GB, nvlink="pairs", notes="NVLink bridge between pairs"),
        _m("H200-SXM5-141GB", "NVIDIA H200", "Nvidia", "Hopper", "9.0", 143771, 132,
           mig_tables.H200_141GB, nvlink="switch"),
        _m("B200-180GB", "NVIDIA B200", "Nvidia", "Blackwell", "10.0", 183359, 148,
           mig_tables.B200_180GB, nvlink="switch"),
        _m("GB200", "NVIDIA GB200", "Nvidia", "Blackwell", "10.0", 189471, 152,
           mig_tables.GB200_186GB, nvlink="fabric",
           notes="4 GPUs per compute tray, 18 trays per NVL72 rack in one NVLink clique"),
        _m("A100-SXM4-40GB", "NVIDIA A100-SXM4-40GB", "Nvidia", "Ampere", "8.0", 40960, 108,
           mig_tables.A100_40GB, nvlink="switch"),
        _m("A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB", "Nvidia", "Ampere", "8.0", 81920, 108,
           mig_tables.A100_80GB, nvlink="switch"),
        _m("A100-PCIE-40GB", "NVIDIA A100-PCIE-40GB", "Nvidia", "Ampere", "8.0", 40960, 108,
           mig_tables.A100_40GB, nvlink="pairs"),
        _m("L40S", "NVIDIA L40S", "Nvidia", "Ada Lovelace", "8.9", 46068, 142),
        _m("L4", "NVIDIA L4", "Nvidia", "Ada Lovelace", "8.9", 23034, 58),
        _m("A10G", "NVIDIA A10G", "Nvidia", "Ampere", "8.6", 23028, 80),
        _m("A10", "NVIDIA A10", "Nvidia", "Ampere", "8.6", 23028, 72),
        _m("T4", "Tesla T4", "Tesla", "Turing", "7.5", 15360, 40),
        _m("V100-SXM2-16GB", "Tesla V100-SXM2-16GB", "Tesla", "Volta", "7.0", 16160, 80,
           nvlink="mesh"),
        _m("V100-SXM2-32GB", "Tesla V100-SXM2-32GB", "Tesla", "Volta", "7.0", 32510, 80,
           nvlink="mesh"),
        _m("P100-PCIE-16GB", "Tesla P100-PCIE-16GB", "Tesla", "Pascal", "6.0", 16280, 56),
        # China-market Hopper/Ampere SXM parts: same dies, memory and MIG geometry as H100 SXM5
        # 80GB / A100-SXM4-80GB; NVLink bandwidth cut to 400 GB/s but still NVSwitch boards.
        _m("H800-SXM5-80GB", "NVIDIA H800", "Nvidia", "Hopper", "9.0", 81559, 132,
           mig_tables.H100_SXM_80GB, nvlink="switch", notes="H100 SXM5 die, NVLink 400 GB/s"),
        _m("A800-SXM4-80GB", "NVIDIA A800-SXM4-80GB", "Nvidia", "Ampere", "8.0", 81920, 108,
           mig_tables.A100_80GB, nvlink="switch", notes="A100 SXM4 die, NVLink 400 GB/s"),
        _m("ALIBABA-SERIES-1", "Alibaba GPU-series-1 (stand-in: Ampere 24GB)", "Nvidia", "Ampere", "8.6",
           23028, 72, notes="undisclosed spot-gpu-2026 model (1, 4 or 8 per node); A10-class stand-in"),
        _m("ALIBABA-SERIES-2", "Alibaba GPU-series-2 (stand-in: Hopper 80GB, MIG off)", "Nvidia", "Hopper",
           "9.0", 81559, 132, nvlink="switch",
           notes="undisclosed spot-gpu-2026 model (8 per node); H800-class stand-in without MIG"),
        _m("ALIBABA-G2", "Alibaba G2 (stand-in: Ampere 24GB)", "Nvidia", "Ampere", "8.6",
           23028, 72, notes="undisclosed openb model; A10-class stand-in"),
        _m("ALIBABA-G3", "Alibaba G3 (stand-in: Ampere 40GB)", "Nvidia", "Ampere", "8.0",
           40960, 108, notes="undisclosed openb model; A100-PCIE-40GB-class stand-in, MIG off"),
    )
}

# Short names users type, and the openb trace's GPU model codes.
MODEL_ALIASES: dict[str, str] = {
    "h100": "H100-SXM5-80GB",
    "h100-sxm": "H100-SXM5-80GB",
    "h100-80gb": "H100-SXM5-80GB",
    "h100-pcie": "H100-PCIE-80GB",
    "h200": "H200-SXM5-141GB",
    "b200": "B200-180GB",
    "gb200": "GB200",
    "a100": "A100-SXM4-80GB",
    "a100-80gb": "A100-SXM4-80GB",
    "a100-40gb": "A100-SXM4-40GB",
    "a100-pcie": "A100-PCIE-40GB",
    "l40s": "L40S",
    "l4": "L4",
    "a10g": "A10G",
    "a10": "A10",
    "t4": "T4",
    "v100": "V100-SXM2-32GB",
    "v100-16gb": "V100-SXM2-16GB",
    "v100-32gb": "V100-SXM2-32GB",
    "v100m16": "V100-SXM2-16GB",
    "v100m32": "V100-SXM2-32GB",
    "p100": "P100-PCIE-16GB",
    "h800": "H800-SXM5-80GB",
    "a800": "A800-SXM4-80GB",
    "gpu-series-1": "ALIBABA-SERIES-1",
    "gpu-series-2": "ALIBABA-SERIES-2",
    "g2": "ALIBABA-G2",
    "g3": "ALIBABA-G3",
}

# The model codes of the Alibaba openb node list, as they appear in its `model` column.
OPENB_MODELS: dict[str, str] = {
    code: MODEL_ALIASES[code.lower()]
    for code in ("G2", "G3", "P100", "T4", "V100M16", "V100M32", "A10")
}


def find_model(name: str) -> GpuModel:
    """Resolve a catalog key, an alias or an openb code (case-insensitive)."""
    if name in GPU_MODELS:
        return GPU_MODELS[name]
    lowered = name.lower()
    if lowered in MODEL_ALIASES:
        return GPU_MODELS[MODEL_ALIASES[lowered]]
    for key, model in GPU_MODELS.items():
        if key.lower() == lowered:
            return model
    known = ", ".join(sorted(GPU_MODELS))
    raise UnknownModelError(f"unknown GPU model {name!r} (known: {known}; aliases: "
                            f"{', '.join(sorted(MODEL_ALIASES))})")
