"""The devices (and counter sets) one GPU contributes in each publishing mode.

Modes (``mode=`` of :func:`dra.slices.build_slices`):

``whole``
    One device ``gpu-<minor>`` per GPU; MIG state is ignored.
``static-mig``
    What NVIDIA's driver announces without dynamic MIG: a GPU with MIG off is a whole
    device; a GPU with MIG on is announced only through its existing MIG devices
    ``gpu-<minor>-mig-<profile>-<giProfileId>-<start>`` (announcing both led to double
    allocation upstream, issue #719). Unlike upstream we leave out the ``memorySlice<i>``
    capacities of static MIG devices: the placement is already in the device name, and
    with our extra attributes they could exceed the 32 attributes-plus-capacities limit.
``dynamic-mig``
    Partitionable devices: per MIG-capable GPU a counter set plus the full GPU and every
    (profile, placement) as a device consuming from it (see :mod:`dra.slices.counters`).
    As upstream, an Ampere GPU (MIG mode cannot be toggled without a reset) offers only the
    full GPU while MIG is off and only the partitions while MIG is on. GPUs without MIG are
    whole devices without counters (an empty counter set is rejected by the API).
``shared``
    The ``static-mig`` devices, each allocatable by many claims at once
    (``allowMultipleAllocations``) through consumable capacity. Policies:

    * ``compute`` = ``1000`` (milli-GPU, the unit of openb's ``gpu_milli``), requestPolicy
      default ``1000``, validRange min ``1``, max ``1000``, step ``1``. A claim that names
      no compute takes the whole device, so exclusive users and sharers never overlap.
    * ``memory`` = device memory rounded down to MiB, requestPolicy default ``0``,
      validRange min ``0``, step ``1Mi``. Memory is reserved only when a claim asks for it,
      so a fractional request (``compute: 250``) does not pin memory it did not ask for,
      while a claim that asks (``memory: 20Gi``) gets it accounted and bounded.
    * No other capacity is published in this mode: with ``allowMultipleAllocations`` every
      capacity without a policy is consumed whole by each allocation, which would forbid
      sharing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from dra.api import (
    CapacityRequestPolicy,
    CapacityRequestPolicyRange,
    CounterSet,
    Device,
    DeviceAttribute,
    DeviceCapacity,
    DeviceTaint,
    NodeAllocatableResource,
    Quantity,
)
from dra.slices.fast import constructor
from dra.gpu.inventory import GpuInfo, MigDeviceInfo, MigProfile
from dra.slices.attributes import (
    NUMA_NODE,
    capacity,
    gpu_attributes,
    memory_capacity,
    numa_list_attr,
    shared_attr,
    string_attr,
)
from dra.slices.counters import counter_model

from dra.slices import MODES  # noqa: E402  (one definition)
MIB = 1024 * 1024
COMPUTE_UNITS = 1000  # milli-GPU

_make_device = constructor(Device)


@dataclass(slots=True)
class GpuDevices:
    """What one GPU publishes: an optional counter set and its devices."""

    gpu: GpuInfo
    devices: list[Device] = field(default_factory=list)
    counter_set: CounterSet | None = None


def gpu_device_name(gpu: GpuInfo) -> str:
    return f"gpu-{gpu.minor}"


def mig_device_name(gpu: GpuInfo, profile: str, gi_profile_id: int, start: int) -> str:
    return f"gpu-{gpu.minor}-mig-{profile.replace('.', '')}-{gi_profile_id}-{start}"


def _engines_capacity(engines: Mapping[str, int], memory: int) -> dict[str, DeviceCapacity]:
    caps = {key: capacity(value) for key, value in engines.items()}
    caps["memory"] = memory_capacity(memory)
    return caps


def _full_gpu(
    gpu: GpuInfo,
    base: dict[str, DeviceAttribute],
    *,
    dynamic: bool = False,
    consumes: list | None = None,
    shared: bool = False,
) -> Device:
    attrs = {"type": shared_attr("string", "gpu"), "uuid": string_attr(gpu.uuid), **base}
    if shared:
        return _make_device(name=gpu_device_name(gpu), attributes=attrs,
                            capacity=_shared_policies(gpu.memory_bytes), allow_multiple_allocations=True)
    caps: dict[str, DeviceCapacity] = {"memory": memory_capacity(gpu.memory_bytes)}
    if gpu.multiprocessors > 0:
        caps["multiprocessors"] = capacity(gpu.multiprocessors)
    if dynamic and gpu.mig_profiles:
        # As upstream: the full GPU's capacity covers every dimension MIG profiles have.
        for key in ("copyEngines", "decoders", "encoders", "jpegEngines", "ofaEngines"):
            caps[key] = capacity(max(p.engines()[key] for p in gpu.mig_profiles))
    return _make_device(
        name=gpu_device_name(gpu), attributes=attrs, capacity=caps, consumes_counters=consumes
    )


def _mig_base(gpu: GpuInfo, base: dict[str, DeviceAttribute]) -> dict[str, DeviceAttribute]:
    return {
        "type": shared_attr("string", "mig"),
        "parentUUID": string_attr(gpu.uuid),
        **base,
    }


def _static_mig(gpu: GpuInfo, mig_base: dict[str, DeviceAttribute], dev: MigDeviceInfo,
                shared: bool = False) -> Device:
    attrs = {**mig_base, "uuid": string_attr(dev.uuid), "profile": shared_attr("string", dev.profile)}
    name = mig_device_name(gpu, dev.profile, dev.gi_profile_id, dev.placement.start)
    if shared:
        return _make_device(name=name, attributes=attrs, capacity=_shared_policies(dev.memory_bytes),
                            allow_multiple_allocations=True)
    return _make_device(name=name, attributes=attrs, capacity=_engines_capacity(dev.engines(), dev.memory_bytes))


# (profile object id) -> (profile, its capacity dict); the profile is kept so the id stays valid.
_profile_caps: dict[int, tuple[MigProfile, dict[str, DeviceCapacity]]] = {}


def _profile_capacity(profile: MigProfile) -> dict[str, DeviceCapacity]:
    found = _profile_caps.get(id(profile))
    if found is None or found[0] is not profile:
        if len(_profile_caps) > 4096:
            _profile_caps.clear()
        found = (profile, _engines_capacity(profile.engines(), profile.memory_bytes))
        _profile_caps[id(profile)] = found
    return found[1]


def whole(gpu: GpuInfo) -> GpuDevices:
    return GpuDevices(gpu, [_full_gpu(gpu, gpu_attributes(gpu), dynamic=False)])


def static_mig(gpu: GpuInfo, *, shared: bool = False) -> GpuDevices:
    base = gpu_attributes(gpu)
    if not gpu.mig_enabled:
        return GpuDevices(gpu, [_full_gpu(gpu, base, shared=shared)])
    mig_base = _mig_base(gpu, base)
    return GpuDevices(gpu, [_static_mig(gpu, mig_base, d, shared) for d in gpu.mig_devices])


def dynamic_mig(gpu: GpuInfo) -> GpuDevices:
    base = gpu_attributes(gpu)
    if not gpu.mig_capable or not gpu.mig_profiles:
        return GpuDevices(gpu, [_full_gpu(gpu, base, dynamic=False)])
    model = counter_model(gpu)
    devices: list[Device] = []
    offer_full = gpu.mig_toggle_without_reset or not gpu.mig_enabled
    offer_parts = gpu.mig_toggle_without_reset or gpu.mig_enabled
    if offer_full:
        # With partitions on offer the full GPU consumes every counter; alone it needs none.
        consumes = model.full_gpu_use(gpu.minor) if offer_parts else None
        devices.append(_full_gpu(gpu, base, dynamic=True, consumes=consumes))
    if offer_parts:
        mig_base = _mig_base(gpu, base)
        for profile in gpu.mig_profiles:
            caps = _profile_capacity(profile)
            profile_attr = shared_attr("string", profile.name)
            for placement in profile.placements:
                devices.append(
                    _make_device(
                        name=mig_device_name(gpu, profile.name, profile.gi_profile_id, placement.start),
                        attributes={**mig_base, "profile": profile_attr},
                        capacity=caps,
                        consumes_counters=model.partition_use(gpu.minor, profile.name, placement.start),
                    )
                )
    if not offer_parts:
        return GpuDevices(gpu, devices)
    return GpuDevices(gpu, devices, counter_set=model.counter_set(gpu))


_policy_cache: dict[int, dict[str, DeviceCapacity]] = {}


def _shared_policies(memory_bytes: int) -> dict[str, DeviceCapacity]:
    """Consumable ``compute`` and ``memory`` (see the module docstring), shared by value."""
    memory = (memory_bytes // MIB) * MIB
    found = _policy_cache.get(memory)
    if found is not None:
        return found
    found = {
        "compute": DeviceCapacity.model_construct(
            value=Quantity.from_int(COMPUTE_UNITS),
            request_policy=CapacityRequestPolicy.model_construct(
                default=Quantity.from_int(COMPUTE_UNITS),
                valid_range=CapacityRequestPolicyRange.model_construct(
                    min=Quantity.from_int(1), max=Quantity.from_int(COMPUTE_UNITS), step=Quantity.from_int(1)
                ),
            ),
        ),
        "memory": DeviceCapacity.model_construct(
            value=Quantity.from_int(memory, "BinarySI"),
            request_policy=CapacityRequestPolicy.model_construct(
                default=Quantity.from_int(0),
                valid_range=CapacityRequestPolicyRange.model_construct(
                    min=Quantity.from_int(0), step=Quantity.from_int(MIB, "BinarySI")
                ),
            ),
        ),
    }
    if len(_policy_cache) > 4096:
        _policy_cache.clear()
    _policy_cache[memory] = found
    return found


def shared(gpu: GpuInfo) -> GpuDevices:
    return static_mig(gpu, shared=True)


BUILDERS = {"whole": whole, "static-mig": static_mig, "dynamic-mig": dynamic_mig, "shared": shared}


def apply_taints(groups: Sequence[GpuDevices], taints: Mapping[str, Sequence[DeviceTaint]]) -> None:
    """Attach taints given by device name or by GPU UUID (then to all devices of that GPU)."""
    for group in groups:
        by_gpu = list(taints.get(group.gpu.uuid, ()))
        group.devices = [
            d.model_copy(update={"taints": by_gpu + list(taints.get(d.name, ()))})
            if by_gpu or d.name in taints
            else d
            for d in group.devices
        ]


def apply_version_shape(groups: Sequence[GpuDevices], *, list_numa: bool,
                        overheads: Mapping[str, Mapping[str, NodeAllocatableResource]] | None) -> None:
    """Give the devices the shape of the target version: ``numaNode`` as a one-element list
    (``DRAListTypeAttributes``) and, per device type, the host-resource overhead
    (``nodeAllocatableResources``, :mod:`dra.slices.overhead`). The caller decides whether the
    version and its gates allow each; here they are only applied."""
    for group in groups:
        updated = []
        for d in group.devices:
            update: dict = {}
            attrs = d.attributes
            if list_numa and attrs and NUMA_NODE in attrs and attrs[NUMA_NODE].int_ is not None:
                update["attributes"] = {**attrs, NUMA_NODE: numa_list_attr(attrs[NUMA_NODE].int_)}
            if overheads and attrs and "type" in attrs:
                found = overheads.get(attrs["type"].string or "")
                if found:
                    update["node_allocatable_resources"] = dict(found)
            updated.append(d.model_copy(update=update) if update else d)
        group.devices = updated
