"""The side effects of preparing a claim, and how to undo them.

A prepared device is described by a JSON *record* (stored in the checkpoint and in the CDI
spec's annotations): which device, which GPU, the MIG placement, the sharing settings it asks
for. ``initial_record`` writes down the intent before anything happens (PrepareStarted);
``apply`` makes it so through the backend and fills in what the hardware answered (MIG UUID,
instance ids); ``write_cdi`` publishes it to the container runtime; ``undo`` reverses all of it
from the record alone, whatever point a crashed prepare had reached, so that it can run after
a restart as well as after a failure.
"""

from __future__ import annotations

from typing import Any

from dra.plugin.backend import DeviceBackend, MpsDaemon, MpsSettings
from dra.plugin.cdi import CdiDevice, CdiWriter
from dra.plugin.checkpoint import ClaimRecord
from dra.plugin.edits import common_edits, gpu_edits, mig_edits, mps_edits
from dra.plugin.plan import PlannedDevice, time_slice_interval
from dra.plugin.types import ClaimRef


def initial_record(ref: ClaimRef, pool: str, p: PlannedDevice) -> dict[str, Any]:
    """The record of one planned device before any effect (what PrepareStarted stores)."""
    spec = p.spec
    rec: dict[str, Any] = {
        "device": spec.name,
        "type": spec.type,
        "pool": pool,
        "request": p.request,
        "requests": [p.request_name],
        "gpuUUID": spec.gpu_uuid,
        "gpuMinor": spec.gpu_minor,
        "gpuIndex": spec.gpu_index,
        "uuid": spec.uuid,
        "multiAllocatable": spec.multi_allocatable,
        "adminAccess": p.admin_access,
    }
    if p.share_id is not None:
        rec["shareID"] = p.share_id
    if p.pod_claim_name:
        rec["podClaimName"] = p.pod_claim_name
    if spec.type == "mig":
        rec["mig"] = {
            "dynamic": spec.dynamic_mig,
            "profile": spec.profile,
            "giProfileID": spec.gi_profile_id,
            "placementStart": spec.placement_start,
            "placementSize": spec.placement_size,
            "giID": spec.gi_id,
            "ciID": spec.ci_id,
        }
    interval = time_slice_interval(p.config)
    if interval is not None:
        # Recorded even for "Default": a claim asking for the default interval conflicts
        # with one that set another on the same GPU (it would silently get theirs).
        rec["timeSlice"] = interval
    sharing = p.config.sharing
    if sharing is not None and sharing.strategy == "MPS":
        group = "default" if p.config_group is None else str(p.config_group)
        rec["mpsDaemon"] = f"{ref.uid}-{group}"
    return rec


def apply(backend: DeviceBackend, planned: list[PlannedDevice], records: list[dict]) -> list[dict]:
    """Create MIG instances, set time slices, start MPS daemons; complete ``records`` in place."""
    mps_members: dict[str, list[tuple[PlannedDevice, dict]]] = {}
    for p, rec in zip(planned, records):
        mig = rec.get("mig")
        if mig and mig["dynamic"]:
            inst = backend.create_mig(
                rec["gpuUUID"], mig["profile"], mig["giProfileID"], mig["placementStart"], mig["placementSize"]
            )
            mig.update(giID=inst.gi_id, ciID=inst.ci_id)
            rec["uuid"] = inst.uuid
        if rec.get("timeSlice") and rec["timeSlice"] != "Default":
            backend.set_time_slice(rec["gpuUUID"], rec["timeSlice"])
        if rec.get("mpsDaemon"):
            mps_members.setdefault(rec["mpsDaemon"], []).append((p, rec))
    for daemon_id, members in mps_members.items():
        mps = members[0][0].config.sharing.mps_config
        limits = {}
        if mps is not None:
            for p, rec in members:
                limit = mps.pinned_limit_for(rec["uuid"], p.spec.gpu_index)
                if limit is not None:
                    limits[rec["uuid"]] = limit.value()
        settings = MpsSettings(mps.default_active_thread_percentage if mps else None, limits)
        daemon = backend.start_mps(daemon_id, [rec["uuid"] for _, rec in members], settings)
        for _, rec in members:
            rec["mps"] = {"pipeDir": daemon.pipe_dir, "shmDir": daemon.shm_dir, "logDir": daemon.log_dir,
                          # what a restarted plugin needs to start the daemon again
                          "activeThreadPercentage": settings.active_thread_percentage,
                          "pinnedMemoryLimits": settings.pinned_memory_limits}
            if daemon.workload:
                rec["mps"]["workload"] = daemon.workload  # the Deployment serving it (mps_pods)
    return records

def write_cdi(cdi: CdiWriter, ref: ClaimRef, records: list[dict], metadata=None) -> None:
    """Write the claim's CDI spec and record each device's CDI ids (plus, with ``metadata``,
    the KEP-5304 device metadata files and the CDI devices that mount them)."""
    cdi_devices = []
    meta_ids: dict[str, str] = {}
    if metadata is not None:
        for request, edits in metadata.write(ref.namespace, ref.name, ref.uid, records).items():
            name = cdi.device_name(ref.uid, f"metadata-{request}")
            cdi_devices.append(CdiDevice(name, edits))
            meta_ids[request] = cdi.qualified(name)
    for rec in records:
        name = cdi.device_name(ref.uid, rec["device"], rec.get("shareID"))
        if rec["type"] == "mig":
            edits = mig_edits(rec["gpuMinor"], rec["mig"]["giID"], rec["mig"]["ciID"])
        else:
            edits = gpu_edits(rec["gpuMinor"])
        if rec.get("mps"):
            m = rec["mps"]
            edits.extend(mps_edits(MpsDaemon(rec["mpsDaemon"], m["pipeDir"], m["logDir"], m["shmDir"])))
        cdi_devices.append(CdiDevice(name, edits))
        rec["cdiDeviceIDs"] = [cdi.qualified(name)]
        if rec["requests"][0] in meta_ids:
            rec["cdiDeviceIDs"].append(meta_ids[rec["requests"][0]])
    spec = cdi.build_spec(str(ref), ref.uid, cdi_devices, common_edits(), records)
    cdi.write(ref.uid, spec)


def mps_daemons(records: list[ClaimRecord]) -> dict[str, tuple[list[str], MpsSettings]]:
    """The MPS daemons completed claims run: id -> (device UUIDs, settings)."""
    out: dict[str, tuple[list[str], MpsSettings]] = {}
    for record in records:
        for d in record.devices:
            if d.get("mpsDaemon") and isinstance(d.get("mps"), dict):
                uuids, _ = out.setdefault(d["mpsDaemon"], ([], MpsSettings(
                    d["mps"].get("activeThreadPercentage"), dict(d["mps"].get("pinnedMemoryLimits") or {}))))
                if d.get("uuid"):
                    uuids.append(d["uuid"])
    return out


def undo(backend: DeviceBackend, cdi: CdiWriter, record: ClaimRecord, others: list[ClaimRecord],
         metadata=None) -> None:
    """Undo every effect ``record`` may have had; safe to repeat and after a partial prepare.

    ``others`` are the other claims' records: a GPU's time slice is only reset when none of
    them still asks for one.
    """
    cdi.remove(record.uid)
    if metadata is not None:
        metadata.remove(record.namespace, record.name)
    for daemon_id in sorted({d["mpsDaemon"] for d in record.devices if d.get("mpsDaemon")}):
        backend.stop_mps(daemon_id)
    for d in record.devices:
        mig = d.get("mig")
        if mig and mig.get("dynamic"):
            backend.destroy_mig(d["gpuUUID"], mig["giProfileID"], mig["placementStart"])
    for gpu in sorted({d["gpuUUID"] for d in record.devices if d.get("timeSlice") not in (None, "Default")}):
        still_used = any(o.get("timeSlice") not in (None, "Default") and o["gpuUUID"] == gpu
                         for r in others for o in r.devices)
        if not still_used:
            backend.set_time_slice(gpu, "Default")
