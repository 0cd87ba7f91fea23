"""Work out, without side effects, what preparing one claim means on this node.

Input: the fetched claim, the catalog of published devices, this driver and pool. Output:
one :class:`PlannedDevice` per allocated device of this driver, with the configuration that
applies to it. Everything a user can get wrong is found here, before the checkpoint records
anything and before any hardware is touched, so a bad claim leaves nothing behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dra.plugin.claims import ClaimError
from dra.plugin.config import (
    ConfigError,
    DeviceConfig,
    GpuConfig,
    check_fits,
    config_for,
    default_config,
    select_entries,
)
from dra.plugin.devices import DeviceCatalog, DeviceSpec


@dataclass(frozen=True)
class PlannedDevice:
    request: str
    spec: DeviceSpec
    config: DeviceConfig
    # Devices with the same group share sharing settings (one MPS daemon per group).
    config_group: int | None
    share_id: str | None = None
    admin_access: bool = False
    pod_claim_name: str | None = None  # set on claims made from a template (KEP-5304 paths)

    @property
    def request_name(self) -> str:
        # The kubelet wants request names without the /subrequest suffix.
        return self.request.split("/", 1)[0]


# A request name is a DNS label, optionally "/<subrequest>" (a DNS label too), as the API has it.
_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_REQUEST = re.compile(rf"^{_LABEL}(/{_LABEL})?$")
# shareID is a UID the scheduler makes; it becomes part of a CDI device name.
_SHARE_ID = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def _check_result(result, spec, place: str, seen: set) -> None:
    """Every input of one allocation result, before anything is recorded."""
    if not isinstance(result.request, str) or not _REQUEST.match(result.request):
        raise ClaimError(f"{place}: invalid request name {result.request!r} (a DNS label, optionally /<subrequest>)",
                         "invalid")
    share_id = result.share_id
    if share_id is not None:
        if not spec.multi_allocatable:
            raise ClaimError(f"{place}: shareID {share_id!r} on device {spec.name}, which is not shareable "
                             "(allowMultipleAllocations is not set)", "invalid")
        if not isinstance(share_id, str) or not _SHARE_ID.match(share_id):
            raise ClaimError(f"{place}: invalid shareID {share_id!r}", "invalid")
    key = (spec.name, share_id)
    if key in seen:
        what = f"device {spec.name}" + (f" with shareID {share_id}" if share_id else "")
        raise ClaimError(f"{place}: {what} is allocated twice in this claim", "invalid")
    seen.add(key)


def _check_limits(p: "PlannedDevice", place: str) -> None:
    """Per-device limits must fit the device they apply to."""
    sharing = p.config.sharing
    mps = getattr(sharing, "mps_config", None) if sharing else None
    if mps is None or p.spec.memory_bytes is None:
        return
    limit = mps.pinned_limit_for(p.spec.uuid or "", p.spec.gpu_index)
    if limit is not None and limit.value() > p.spec.memory_bytes:
        raise ConfigError(f"{place}: pinned memory limit {limit} is larger than device {p.spec.name}'s memory "
                          f"({p.spec.memory_bytes} bytes)")


def plan_claim(claim, catalog: DeviceCatalog, driver: str, pool: str) -> list[PlannedDevice]:
    name = f"{claim.metadata.namespace}/{claim.metadata.name}"
    allocation = claim.status.allocation
    results = [r for r in (allocation.devices.results if allocation.devices else None) or () if r.driver == driver]
    if not results:
        raise ClaimError(f"claim {name}: no device allocated by driver {driver}", "not_allocated")
    entries = select_entries(allocation.devices.config, driver, name)
    planned = []
    seen: set = set()
    annotations = getattr(claim.metadata, "annotations", None) or {}
    pod_claim_name = annotations.get("resource.kubernetes.io/pod-claim-name")
    for result in results:
        place = f"claim {name}, request {result.request}"
        if result.pool != pool:
            raise ClaimError(
                f"{place}: device {result.pool}/{result.device} is in pool {result.pool!r}, "
                f"not in this node's pool {pool!r}",
                "wrong_node",
            )
        spec = catalog.get(result.device)
        if spec is None:
            raise ClaimError(f"{place}: device {result.device} is not published by this node", "unknown_device")
        _check_result(result, spec, place, seen)
        entry = config_for(entries, result.request)
        config = entry.config if entry else default_config(spec.type)
        check_fits(config, spec.type, spec.name, entry.place if entry else place)
        planned.append(
            PlannedDevice(
                request=result.request,
                spec=spec,
                config=config,
                config_group=entry.index if entry else None,
                share_id=result.share_id,
                admin_access=bool(result.admin_access),
                pod_claim_name=pod_claim_name,
            )
        )
        _check_limits(planned[-1], entry.place if entry else place)
    _check_mps_keys(planned, name)
    return planned


def _check_mps_keys(planned: list[PlannedDevice], claim: str) -> None:
    """Per-device pinned-memory limits must name a device (UUID or index) of their group."""
    groups: dict[int | None, list[PlannedDevice]] = {}
    for device in planned:
        groups.setdefault(device.config_group, []).append(device)
    for devices in groups.values():
        sharing = devices[0].config.sharing
        mps = getattr(sharing, "mps_config", None) if sharing else None
        if mps is None or not mps.default_per_device_pinned_memory_limit:
            continue
        known = set()
        for d in devices:
            known.add(str(d.spec.gpu_index))
            if d.spec.uuid:
                known.add(d.spec.uuid)
        for key in mps.default_per_device_pinned_memory_limit:
            if key not in known:
                raise ConfigError(
                    f"claim {claim}: mpsConfig.defaultPerDevicePinnedMemoryLimit[{key!r}]: "
                    f"no device with that UUID or index in the requests this config applies to"
                )


def time_slice_interval(config: DeviceConfig) -> str | None:
    """The time-slice interval a config asks for on a full GPU (None: leave it alone)."""
    if isinstance(config, GpuConfig) and config.sharing and config.sharing.strategy == "TimeSlicing":
        tsc = config.sharing.time_slicing_config
        return tsc.interval if tsc else "Default"
    return None
