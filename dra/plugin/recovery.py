"""Startup recovery: make the node's device state agree with the checkpoint again.

Runs once before the plugin serves. Cases:

* no checkpoint: fresh start (leftover CDI specs of ours are stale and removed);
* checkpoint from another boot: the node rebooted, GPU-side effects are gone; drop it;
* ``PrepareStarted`` claims: the plugin died mid-prepare; roll their effects back;
* ``Unpreparing`` claims: the plugin died mid-unprepare; finish undoing and drop them
  (the kubelet already asked for it and will ask again, which then finds nothing to do);
* ``PrepareCompleted`` claims: keep them (the kubelet will not send Prepare again for
  running pods, so forgetting them would leak devices);
* a checkpoint that cannot be read or has the wrong shape (bad JSON, checksum, unknown
  version, a directory, a record that is not an object, a device without ``type``): it is moved aside
  as ``checkpoint.json.corrupt-<time>``, an error is logged naming that file, and the state
  is rebuilt from the per-claim CDI specs (whose annotations carry the device records). The
  plugin keeps starting: a crash loop would take every GPU on the node out of service
  (NVIDIA's driver does that, #1100).

Afterwards CDI specs that belong to no kept claim are removed and, in dynamic-MIG mode, MIG
instances no kept claim uses are destroyed (they were created by a prepare that never
completed).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from dra.plugin import effects
from dra.plugin.cdi import ANNOTATION_CLAIM, ANNOTATION_DEVICES, CdiWriter
from dra.plugin.checkpoint import (
    PREPARE_COMPLETED,
    CheckpointCorrupt,
    ClaimRecord,
    device_record_problem,
)
from dra.plugin.state import DeviceState

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    checkpoint: str  # missing | ok | rebooted | corrupt
    kept: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)
    removed_cdi_specs: list[str] = field(default_factory=list)
    destroyed_mig: int = 0
    quarantined: str | None = None
    problem: str | None = None
    removed_temp_files: list[str] = field(default_factory=list)
    removed_mps: list[str] = field(default_factory=list)
    rebuilt_from_api: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"checkpoint {self.checkpoint}: kept {len(self.kept)}, rolled back {len(self.rolled_back)}, "
            f"rebuilt {len(self.rebuilt)}, removed {len(self.removed_cdi_specs)} stale CDI specs, "
            f"destroyed {self.destroyed_mig} MIG instances"
        )
        if self.quarantined:
            text += f"; unreadable checkpoint ({self.problem}) moved to {self.quarantined}"
        return text


def remove_stale_temp_files(state: DeviceState) -> list[str]:
    """Temporary files of atomic writes that a killed process left (``files.atomic_write``).

    Only names our writers create are touched: ``.<target>.<random>.tmp`` beside the
    checkpoint, the built-in backend's state and our CDI specs.
    """
    removed = []
    places = [(state.checkpoint.path.parent, "."), (state.cdi.root, f".{state.cdi.vendor}-")]
    for directory, prefix in places:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob(f"{prefix}*.tmp")):
            if path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)
                removed.append(str(path))
    if removed:
        log.info("removed temporary files of interrupted writes", extra={"files": removed})
    return removed


def rebuild_from_cdi(cdi: CdiWriter) -> dict[str, ClaimRecord]:
    claims = {}
    for uid, path in cdi.claim_specs().items():
        try:
            annotations = CdiWriter.read_annotations(path)
            devices = json.loads(annotations[ANNOTATION_DEVICES])
            namespace, _, name = str(annotations.get(ANNOTATION_CLAIM, "/")).partition("/")
            if not isinstance(devices, list):
                raise ValueError("prepared-devices annotation is not a list")
            for device in devices:
                problem = device_record_problem(device)
                if problem:
                    raise ValueError(f"device record {problem}")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            log.error("cannot rebuild claim from CDI spec", extra={"path": str(path), "error": str(err)})
            continue
        claims[uid] = ClaimRecord(uid, namespace, name, PREPARE_COMPLETED, devices)
    return claims


def rebuild_from_api(state: DeviceState, known: dict[str, ClaimRecord]) -> dict[str, ClaimRecord]:
    """Claims the API server says are allocated here and in use, but that have no CDI spec.

    Their records are rebuilt from the allocation (``plan``), with the MIG instances that
    exist now, and their CDI specs written again, so that their devices are neither handed
    to another claim nor destroyed as strays, and a later unprepare undoes them.
    """
    lister = getattr(state.fetcher, "list_in_use", None)
    if lister is None:
        return {}
    try:
        in_use = lister(state.driver, state.pool)
    except Exception as err:  # noqa: BLE001 - the API server may be unreachable at start
        log.error("cannot ask the API server which claims are in use; rebuilt from CDI specs only",
                  extra={"error": str(err)})
        return {}
    from dra.plugin.plan import plan_claim
    from dra.plugin.types import ClaimRef

    existing = {(m.parent_uuid, m.gi_profile_id, m.placement_start): m for m in state.backend.list_mig()}
    out: dict[str, ClaimRecord] = {}
    for claim in in_use:
        uid = claim.metadata.uid
        if uid in known:
            continue
        ref = ClaimRef(claim.metadata.namespace, claim.metadata.name, uid)
        try:
            planned = plan_claim(claim, state.catalog, state.driver, state.pool)
            records = [effects.initial_record(ref, state.pool, p) for p in planned]
            for rec in records:
                mig = rec.get("mig")
                if mig and mig["dynamic"]:
                    inst = existing.get((rec["gpuUUID"], mig["giProfileID"], mig["placementStart"]))
                    if inst is not None:
                        mig.update(giID=inst.gi_id, ciID=inst.ci_id)
                        rec["uuid"] = inst.uuid
            effects.write_cdi(state.cdi, ref, records, state.metadata)
        except Exception as err:  # noqa: BLE001 - one claim must not stop recovery
            log.error("cannot rebuild an in-use claim from the API server", extra={"claim": str(ref), "error": str(err)})
            continue
        out[uid] = ClaimRecord(uid, ref.namespace, ref.name, PREPARE_COMPLETED, records, {"rebuiltFrom": "apiserver"})
    return out


def recover(state: DeviceState, *, dynamic_mig: bool) -> RecoveryReport:
    try:
        loaded = state.checkpoint.load()
        report = RecoveryReport(loaded.status)
        claims = loaded.claims
    except CheckpointCorrupt as err:
        quarantined = state.checkpoint.quarantine()
        claims = rebuild_from_cdi(state.cdi)
        report = RecoveryReport("corrupt", quarantined=str(quarantined), problem=str(err))
        rebuilt_from_api = rebuild_from_api(state, claims)
        claims.update(rebuilt_from_api)
        report.rebuilt = sorted(claims)
        report.rebuilt_from_api = sorted(rebuilt_from_api)
        log.error(
            "checkpoint unreadable; moved aside and rebuilt from CDI specs",
            extra={"problem": str(err), "moved_to": str(quarantined), "rebuilt_claims": len(claims)},
        )

    report.removed_temp_files = remove_stale_temp_files(state)
    state.load(claims)
    for uid, record in sorted(claims.items()):
        if record.state != PREPARE_COMPLETED:  # Started or Unpreparing: undo, drop
            try:
                state.rollback(record)
            except Exception as err:  # noqa: BLE001 - keep the record; unprepare/prepare retry it
                log.error("cannot undo an interrupted claim yet; kept for a retry",
                          extra={"uid": uid, "state": record.state, "error": str(err)})
                report.kept.append(uid)
                continue
            state.load({u: r for u, r in state.records().items() if u != uid})
            report.rolled_back.append(uid)
        else:
            report.kept.append(uid)

    kept = state.records()
    for uid, path in sorted(state.cdi.claim_specs().items()):
        if uid not in kept:
            Path(path).unlink(missing_ok=True)
            report.removed_cdi_specs.append(uid)

    if state.metadata is not None:
        state.metadata.remove_stale({(r.namespace, r.name) for r in kept.values()})

    # MPS: daemons of kept claims are re-adopted (or started again if they died with the
    # plugin); those of no kept claim are stopped and their directories removed.
    daemons = effects.mps_daemons(list(kept.values()))
    for daemon_id, (uuids, settings) in sorted(daemons.items()):
        try:
            state.backend.start_mps(daemon_id, uuids, settings)
        except Exception as err:  # noqa: BLE001 - one daemon must not stop the plugin
            log.error("cannot restart the MPS daemon of a kept claim", extra={"daemon": daemon_id, "error": str(err)})
    report.removed_mps = state.backend.remove_stale_mps(set(daemons))

    if dynamic_mig:
        in_use = {
            (d["gpuUUID"], d["mig"]["giProfileID"], d["mig"]["placementStart"])
            for r in kept.values() for d in r.devices if d.get("mig", {}).get("dynamic")
        }
        for inst in state.backend.list_mig():
            if (inst.parent_uuid, inst.gi_profile_id, inst.placement_start) not in in_use:
                state.backend.destroy_mig(inst.parent_uuid, inst.gi_profile_id, inst.placement_start)
                report.destroyed_mig += 1

    state.persist()
    log.info("recovered prepared-claim state", extra={"summary": report.summary()})
    return report
