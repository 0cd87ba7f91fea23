"""Discover a real node's GPUs through NVML (nvidia-ml-py).

``discover(node_name)`` initialises NVML, asks every GPU what the driver publishes
(:mod:`dra.gpu.nvml_calls` holds the individual calls) and returns a
:class:`~dra.gpu.inventory.NodeInventory`. Without an NVIDIA driver it raises
:class:`NvmlUnavailableError` with one line saying so and pointing at ``--profile``.

What comes from where:

* identity, memory, PCI bus id, compute capability, brand, architecture: NVML per GPU;
* ``pcieRoot`` and (when NVML lacks ``nvmlDeviceGetNumaNodeId``) the NUMA node: sysfs;
* MIG: mode, GPU-instance profiles (full compute instance only, no ``+me`` / ``-me`` /
  graphics variants) with their possible placements, and the MIG devices that exist now;
  when NVML lists no profile for a MIG-capable GPU (some drivers do so while MIG is off),
  the catalog's table for the same product name is used;
* NVLink: GPU pairs whose P2P status over NVLink is OK are joined into peer groups
  (NVSwitch systems give one group); multi-node NVLink (GB200 NVL72) from
  ``nvmlDeviceGetGpuFabricInfoV``: cluster UUID and clique id once the fabric is up.

Pass ``calls=RecordedCalls.load(path)`` to run the same code against recorded answers.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from dra.errors import UserError
from dra.gpu.catalog import GPU_MODELS
from dra.gpu.inventory import GpuInfo, MigDeviceInfo, MigPlacement, MigProfile, NodeInventory
from dra.gpu.topology import fabric_domain_id, groups_from_links, node_domain_ids

MIB = 1024 * 1024

# NVML_BRAND_* -> the names go-nvlib (and so NVIDIA's driver) publishes.
BRANDS = {
    0: "Unknown", 1: "Quadro", 2: "Tesla", 3: "NVS", 4: "Grid", 5: "GeForce", 6: "Titan",
    7: "NvidiaVApps", 8: "NvidiaVPC", 9: "NvidiaVCS", 10: "NvidiaVWS", 11: "NvidiaCloudGaming",
    12: "QuadroRTX", 13: "NvidiaRTX", 14: "Nvidia", 15: "GeForceRTX", 16: "TitanRTX",
}
# NVML_DEVICE_ARCH_* -> architecture names.
ARCHITECTURES = {
    2: "Kepler", 3: "Maxwell", 4: "Pascal", 5: "Volta", 6: "Turing", 7: "Ampere",
    8: "Ada Lovelace", 9: "Hopper", 10: "Blackwell", 13: "Rubin",
}
# nvmlDeviceGetGpuInstanceProfileInfo profile indexes (NVML_GPU_INSTANCE_PROFILE_*): 0x0..0x11.
GI_PROFILE_INDEXES = range(0x12)
NVML_GPU_FABRIC_STATE_COMPLETED = 3
_FULL_PROFILE_NAME = re.compile(r"^\d+g\.\d+gb$")


class NvmlUnavailableError(UserError):
    """NVML cannot be used here (no driver, no library, no permission)."""


class NvmlQueryError(RuntimeError):
    """NVML answered an unexpected error for a GPU that is present (a failing GPU, not user input)."""


def _default_calls() -> Any:
    try:
        from dra.gpu.nvml_calls import PynvmlCalls

        return PynvmlCalls()
    except ImportError as err:  # nvidia-ml-py missing: an install problem the user can fix
        raise NvmlUnavailableError(f"nvidia-ml-py is not installed ({err})") from None


def discover(node_name: str, *, calls: Any | None = None) -> NodeInventory:
    """The inventory of this node from NVML."""
    calls = calls or _default_calls()
    try:
        calls.init()
    except Exception as err:  # noqa: BLE001 - any NVML init failure means "no usable driver"
        raise NvmlUnavailableError(
            f"NVML is not available on this machine ({err or type(err).__name__}): no NVIDIA "
            "driver is loaded; use --profile to describe GPUs instead"
        ) from None
    try:
        return _discover(node_name, calls)
    except UserError:
        raise
    except Exception as err:
        if type(err).__name__.startswith("NVMLError"):
            raise NvmlQueryError(f"NVML query failed: {err}") from err
        raise
    finally:
        try:
            calls.shutdown()
        except Exception:  # noqa: BLE001 - shutdown problems must not hide the inventory
            pass


def normalize_bus_id(bus_id: str) -> str:
    """NVML's ``00000000:18:00.0`` -> Kubernetes' ``0000:18:00.0`` (4-digit domain, lower case)."""
    domain, _, rest = bus_id.strip().lower().partition(":")
    return f"{int(domain, 16):04x}:{rest}" if rest else bus_id.lower()


def cuda_version_text(value: int) -> str:
    """NVML's CUDA driver version int (12040) -> ``12.4``."""
    return f"{value // 1000}.{(value % 1000) // 10}"


def _discover(node_name: str, calls: Any) -> NodeInventory:
    driver_version = calls.system_driver_version()
    cuda = cuda_version_text(calls.system_cuda_driver_version())
    count = calls.device_count()
    partial = [_gpu(calls, i, driver_version, cuda) for i in range(count)]

    links = [(i, j) for i in range(count) for j in range(i + 1, count) if calls.p2p_nvlink(i, j)]
    groups = groups_from_links(list(range(count)), links)
    domains = node_domain_ids(node_name, groups)

    gpus = []
    for i, gpu in enumerate(partial):
        fabric = calls.fabric_info(i)
        if fabric and fabric.get("state") == NVML_GPU_FABRIC_STATE_COMPLETED and fabric.get("status") == 0 \
                and fabric.get("clusterUuid") not in (None, "00000000-0000-0000-0000-000000000000"):
            cluster, clique = fabric["clusterUuid"], str(fabric["cliqueId"])
            gpus.append(_with(gpu, nvlink_domain=fabric_domain_id(cluster, clique),
                              fabric_cluster_uuid=cluster, clique_id=clique))
        else:
            gpus.append(_with(gpu, nvlink_domain=domains[i]))
    return NodeInventory(
        node_name=node_name,
        gpus=tuple(gpus),
        nvlink_groups=tuple(g for g in groups if len(g) > 1),
        source="nvml",
    )


def _with(gpu: GpuInfo, **changes: Any) -> GpuInfo:
    return replace(gpu, **changes)


def _gpu(calls: Any, i: int, driver_version: str, cuda: str) -> GpuInfo:
    name = calls.name(i)
    bus_id = normalize_bus_id(calls.pci_bus_id(i))
    numa = calls.numa_node(i)
    if numa is None:
        numa = calls.sysfs_numa_node(bus_id)
    major, minor = calls.compute_capability(i)
    sms = calls.multiprocessors(i) or _catalog_sms(name)
    mode = calls.mig_mode(i)
    mig_capable = mode is not None
    mig_enabled = bool(mode and mode[0] == 1)
    profiles = _mig_profiles(calls, i) if mig_capable else ()
    if mig_capable and not profiles:
        # Some drivers list GPU-instance profiles only while MIG is on; fall back to the
        # catalog's table for this product so dynamic MIG can still be offered.
        profiles = _catalog_profiles(name)
    devices = _mig_devices(calls, i, profiles) if mig_enabled else ()
    brand = calls.brand(i)
    arch = calls.architecture(i)
    return GpuInfo(
        uuid=calls.uuid(i),
        index=i,
        minor=calls.minor(i),
        product_name=name,
        brand=BRANDS.get(brand, "Unknown") if brand is not None else "Unknown",
        architecture=ARCHITECTURES.get(arch, "Unknown") if arch is not None else "Unknown",
        cuda_compute_capability=f"{major}.{minor}",
        driver_version=driver_version,
        cuda_driver_version=cuda,
        memory_bytes=calls.memory_total(i),
        multiprocessors=sms,
        pci_bus_id=bus_id,
        pcie_root=calls.pcie_root(bus_id),
        numa_node=numa if numa is not None and numa >= 0 else None,
        mig_capable=mig_capable,
        mig_enabled=mig_enabled,
        mig_profiles=profiles,
        mig_devices=devices,
    )


def _catalog_sms(product_name: str) -> int:
    """SM count from the catalog when NVML does not report it for a full GPU."""
    for model in GPU_MODELS.values():
        if model.product_name == product_name:
            return model.multiprocessors
    return 0


def _catalog_profiles(product_name: str) -> tuple[MigProfile, ...]:
    for model in GPU_MODELS.values():
        if model.product_name == product_name:
            return model.mig_profiles
    return ()


def _profile_name(info: dict[str, Any]) -> str:
    name = str(info.get("name") or "").removeprefix("MIG ").strip()
    if name:
        return name
    return f"{info['sliceCount']}g.{round(info['memorySizeMB'] / 1024)}gb"


def _mig_profiles(calls: Any, i: int) -> tuple[MigProfile, ...]:
    seen: dict[int, MigProfile] = {}
    for index in GI_PROFILE_INDEXES:
        info = calls.gi_profile_info(i, index)
        if not info or info["id"] in seen:
            continue
        name = _profile_name(info)
        if not _FULL_PROFILE_NAME.match(name):
            continue  # +me / -me / graphics variants: not offered (see module docstring)
        placements = calls.gi_possible_placements(i, info["id"]) or []
        placement_tuple = tuple(MigPlacement(start=s, size=z) for s, z in placements)
        seen[info["id"]] = MigProfile(
            name=name,
            gi_profile_id=info["id"],
            compute_slices=info["sliceCount"],
            memory_slices=placement_tuple[0].size if placement_tuple else 0,
            memory_bytes=info["memorySizeMB"] * MIB,
            multiprocessors=info["multiprocessorCount"],
            copy_engines=info["copyEngineCount"],
            decoders=info["decoderCount"],
            encoders=info["encoderCount"],
            jpeg_engines=info["jpegCount"],
            ofa_engines=info["ofaCount"],
            placements=placement_tuple,
        )
    return tuple(sorted(seen.values(), key=lambda p: (p.compute_slices, p.memory_bytes)))


def _mig_devices(calls: Any, i: int, profiles: tuple[MigProfile, ...]) -> tuple[MigDeviceInfo, ...]:
    by_id = {p.gi_profile_id: p for p in profiles}
    devices = []
    for slot in range(calls.max_mig_device_count(i)):
        dev = calls.mig_device(i, slot)
        if dev is None:
            continue
        gi = calls.gpu_instance_info(i, dev["giId"]) or {}
        profile_id = gi.get("profileId", -1)
        start, size = gi.get("placement", [0, 0])
        attrs = dev["attributes"]
        profile = by_id.get(profile_id)
        name = profile.name if profile else f"{attrs['gpuInstanceSliceCount']}g.{round(attrs['memorySizeMB'] / 1024)}gb"
        if attrs["computeInstanceSliceCount"] < attrs["gpuInstanceSliceCount"]:
            name = f"{attrs['computeInstanceSliceCount']}c.{name}"  # a partial compute instance
        devices.append(
            MigDeviceInfo(
                uuid=dev["uuid"],
                profile=name,
                gi_profile_id=profile_id,
                placement=MigPlacement(start=start, size=size),
                gi_id=dev["giId"],
                ci_id=dev["ciId"],
                memory_bytes=attrs["memorySizeMB"] * MIB,
                multiprocessors=attrs["multiprocessorCount"],
                copy_engines=attrs["sharedCopyEngineCount"],
                decoders=attrs["sharedDecoderCount"],
                encoders=attrs["sharedEncoderCount"],
                jpeg_engines=attrs["sharedJpegCount"],
                ofa_engines=attrs["sharedOfaCount"],
            )
        )
    return tuple(sorted(devices, key=lambda d: (d.placement.start, d.ci_id)))
