"""Device state and startup recovery, driven directly (no sockets, no API server).

Claims are plain attribute objects shaped like ``dra.api.ResourceClaim`` and the fetcher
is a dictionary, so these tests pin the prepare/unprepare/rollback/recovery logic alone;
``test_plugin_kubelet`` runs the same code behind the real sockets and client.
"""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace as NS

import pytest

from dra.plugin.builtin_backend import BuiltinBackend
from dra.plugin.cdi import CdiWriter
from dra.plugin.checkpoint import CheckpointFile
from dra.plugin.claims import ClaimError, check_claim
from dra.plugin.devices import DeviceCatalog, DeviceSpec
from dra.plugin import effects
from dra.plugin.recovery import recover
from dra.plugin.state import DeviceState
from dra.plugin.types import ClaimRef

DRIVER = "gpu.nvidia.com"
POOL = "node-a"
GPUS = [f"GPU-{i:08d}-0000-0000-0000-000000000000" for i in range(2)]


def catalog() -> DeviceCatalog:
    specs = [DeviceSpec(f"gpu-{i}", "gpu", u, i, i, u) for i, u in enumerate(GPUS)]
    specs += [
        DeviceSpec("gpu-1-mig-1g10gb-19-0", "mig", GPUS[1], 1, 1, None, False, "1g.10gb", 19, 0, 1),
        DeviceSpec("gpu-1-mig-3g40gb-9-0", "mig", GPUS[1], 1, 1, None, False, "3g.40gb", 9, 0, 4),
        DeviceSpec("gpu-1-mig-1g10gb-19-6", "mig", GPUS[1], 1, 1, None, False, "1g.10gb", 19, 6, 1),
    ]
    return DeviceCatalog(specs)


class Fetcher:
    def __init__(self):
        self.claims: dict[str, NS] = {}
        self.calls = 0

    def add(self, name: str, uid: str, devices: list[str], configs=None) -> ClaimRef:
        results = [NS(request="r", driver=DRIVER, pool=POOL, device=d, share_id=None, admin_access=None) for d in devices]
        self.claims[uid] = NS(
            metadata=NS(namespace="ns", name=name, uid=uid),
            status=NS(allocation=NS(devices=NS(results=results, config=configs))),
        )
        return ClaimRef("ns", name, uid)

    def get(self, ref: ClaimRef):
        self.calls += 1
        claim = self.claims.get(ref.uid)
        if claim is None:
            raise ClaimError(f"claim {ref}: not found", "not_found")
        check_claim(claim, ref)
        return claim


def make_state(tmp_path, boot="boot-1") -> tuple[DeviceState, Fetcher]:
    fetcher = Fetcher()
    state = DeviceState(
        driver=DRIVER, pool=POOL, catalog=catalog(), fetcher=fetcher,
        backend=BuiltinBackend(tmp_path / "state", GPUS),
        cdi=CdiWriter(tmp_path / "cdi", DRIVER),
        checkpoint=CheckpointFile(tmp_path / "state" / "checkpoint.json", boot_id=boot),
    )
    return state, fetcher


def restart(tmp_path, fetcher=None, boot="boot-1"):
    state, new_fetcher = make_state(tmp_path, boot)
    if fetcher is not None:
        state.fetcher = fetcher
    report = recover(state, dynamic_mig=True)
    return state, report


def test_prepare_is_idempotent_and_unprepare_undoes(tmp_path):
    state, fetcher = make_state(tmp_path)
    ref = fetcher.add("a", "uid-a", ["gpu-1-mig-1g10gb-19-0"])
    first = state.prepare([ref])["uid-a"]
    assert first.error == "" and first.devices[0].device_name == "gpu-1-mig-1g10gb-19-0"
    assert len(state.backend.list_mig()) == 1
    writes = state.checkpoint_writes
    assert state.prepare([ref])["uid-a"].devices == first.devices
    assert fetcher.calls == 1 and state.checkpoint_writes == writes and len(state.backend.list_mig()) == 1
    assert state.unprepare([ref])["uid-a"].error == ""
    assert state.backend.list_mig() == [] and state.cdi.claim_specs() == {} and state.records() == {}


def test_concurrent_duplicate_prepares_do_the_work_once(tmp_path):
    state, fetcher = make_state(tmp_path)
    ref = fetcher.add("a", "uid-a", ["gpu-1-mig-1g10gb-19-0"])
    results = []
    threads = [threading.Thread(target=lambda: results.append(state.prepare([ref])["uid-a"])) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({tuple(r.devices) for r in results}) == 1 and all(r.error == "" for r in results)
    assert state.backend.operations.count("create-mig " + GPUS[1] + " 1g.10gb@0") == 1
    assert fetcher.calls == 1


def test_failed_apply_rolls_back_everything(tmp_path):
    state, fetcher = make_state(tmp_path)
    # The second device overlaps the first: the hardware refuses it after the first was created.
    ref = fetcher.add("a", "uid-a", ["gpu-1-mig-1g10gb-19-0", "gpu-1-mig-3g40gb-9-0"])
    out = state.prepare([ref])["uid-a"]
    assert "overlaps" in out.error and out.error_type == "device"
    assert state.backend.list_mig() == [] and state.records() == {} and state.cdi.claim_specs() == {}
    on_disk = json.loads((tmp_path / "state" / "checkpoint.json").read_text())
    assert on_disk["data"]["preparedClaims"] == {}


def test_recovery_rolls_back_started_and_keeps_completed(tmp_path):
    state, fetcher = make_state(tmp_path)
    kept = fetcher.add("kept", "uid-k", ["gpu-1-mig-1g10gb-19-6"])
    assert state.prepare([kept])["uid-k"].error == ""
    # Simulate a crash after the MIG instance of a second claim was created.
    doomed = fetcher.add("doomed", "uid-d", ["gpu-1-mig-1g10gb-19-0"])
    claim = fetcher.get(doomed)
    from dra.plugin.plan import plan_claim
    from dra.plugin.checkpoint import ClaimRecord, PREPARE_STARTED

    planned = plan_claim(claim, state.catalog, DRIVER, POOL)
    records = [effects.initial_record(doomed, POOL, p) for p in planned]
    state.persist(state._put(ClaimRecord("uid-d", "ns", "doomed", PREPARE_STARTED, records)))
    state.backend.create_mig(GPUS[1], "1g.10gb", 19, 0, 1)
    # Plus a stray CDI spec and a MIG instance nobody owns.
    (tmp_path / "cdi" / "k8s.gpu.nvidia.com-claim_uid-stray.json").write_text("{}")
    state.backend.create_mig(GPUS[1], "1g.10gb", 19, 3, 1)

    state2, report = restart(tmp_path, fetcher)
    assert report.checkpoint == "ok"
    assert report.kept == ["uid-k"] and report.rolled_back == ["uid-d"]
    assert report.removed_cdi_specs == ["uid-stray"] and report.destroyed_mig == 1  # the doomed one went in its rollback
    assert [(m.placement_start) for m in state2.backend.list_mig()] == [6]
    assert state2.prepare([kept])["uid-k"].error == ""  # answered from the checkpoint
    assert fetcher.calls == 2  # one fetch before, one for the doomed claim; none after restart


def test_corrupt_checkpoint_is_rebuilt_from_cdi_specs(tmp_path):
    state, fetcher = make_state(tmp_path)
    ref = fetcher.add("a", "uid-a", ["gpu-0", "gpu-1-mig-1g10gb-19-6"])
    answer = state.prepare([ref])["uid-a"]
    path = tmp_path / "state" / "checkpoint.json"
    path.write_text(path.read_text().replace("PrepareCompleted", "PrepareComplete"))
    state2, report = restart(tmp_path)
    assert report.checkpoint == "corrupt" and "checksum mismatch" in report.problem
    assert report.rebuilt == ["uid-a"] and report.quarantined
    assert state2.prepare([ref])["uid-a"].devices == answer.devices
    assert len(state2.backend.list_mig()) == 1  # still in use: not destroyed
    assert state2.unprepare([ref])["uid-a"].error == ""
    assert state2.backend.list_mig() == []


def test_reboot_drops_state(tmp_path):
    state, fetcher = make_state(tmp_path)
    ref = fetcher.add("a", "uid-a", ["gpu-0"])
    state.prepare([ref])
    state2, report = restart(tmp_path, boot="boot-2")
    assert report.checkpoint == "rebooted" and state2.records() == {}
    assert report.removed_cdi_specs == ["uid-a"]


def test_time_slice_conflict_and_shared_reset(tmp_path):
    state, fetcher = make_state(tmp_path)
    from dra.plugin.kubelet_standin import opaque_config

    def ts(interval):
        cfg = opaque_config({"apiVersion": "resource.nvidia.com/v1beta1", "kind": "GpuConfig",
                             "sharing": {"strategy": "TimeSlicing", "timeSlicingConfig": {"interval": interval}}})
        return [NS(source=cfg["source"], requests=None, opaque=NS(**cfg["opaque"]))]

    a = fetcher.add("a", "uid-a", ["gpu-0"], ts("Short"))
    assert state.prepare([a])["uid-a"].error == ""
    assert state.backend.time_slice(GPUS[0]) == "Short"
    state.unprepare([a])
    assert state.backend.time_slice(GPUS[0]) == "Default"
    # A MIG config type on a full GPU's config entry is refused before anything happens.
    d = fetcher.add("d", "uid-d", ["gpu-1-mig-1g10gb-19-6"], ts("Short"))
    out = state.prepare([d])["uid-d"]
    assert "cannot apply GpuConfig" in out.error and state.records() == {}


def test_shared_gpu_time_slice_conflict(tmp_path):
    state, fetcher = make_state(tmp_path)
    state.catalog = DeviceCatalog([DeviceSpec("gpu-0", "gpu", GPUS[0], 0, 0, GPUS[0], multi_allocatable=True)])
    from dra.plugin.kubelet_standin import opaque_config

    def ts(interval):
        cfg = opaque_config({"apiVersion": "resource.nvidia.com/v1beta1", "kind": "GpuConfig",
                             "sharing": {"strategy": "TimeSlicing", "timeSlicingConfig": {"interval": interval}}})
        return [NS(source=cfg["source"], requests=None, opaque=NS(**cfg["opaque"]))]

    a = fetcher.add("a", "uid-a", ["gpu-0"], ts("Short"))
    b = fetcher.add("b", "uid-b", ["gpu-0"], ts("Short"))
    c = fetcher.add("c", "uid-c", ["gpu-0"], ts("Long"))
    assert state.prepare([a, b])["uid-b"].error == ""  # a shared device, same setting: fine
    assert "already runs time-slice interval Short for claim ns/a" in state.prepare([c])["uid-c"].error
    dflt = fetcher.add("dflt", "uid-dflt", ["gpu-0"], ts("Default"))
    # Asking for the default interval while another claim set Short would silently get Short.
    assert "already runs time-slice interval Short" in state.prepare([dflt])["uid-dflt"].error
    state.unprepare([a])
    assert state.backend.time_slice(GPUS[0]) == "Short"  # b still needs it
    state.unprepare([b])
    assert state.backend.time_slice(GPUS[0]) == "Default"
    assert state.prepare([c])["uid-c"].error == ""


def test_unknown_claim_unprepare_is_ok(tmp_path):
    state, _ = make_state(tmp_path)
    assert state.unprepare([ClaimRef("ns", "x", "uid-x")])["uid-x"].error == ""


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "a..b", "x" * 200, "uid\n"])
def test_bad_uids(tmp_path, bad):
    state, _ = make_state(tmp_path)
    out = state.prepare([ClaimRef("ns", "x", bad)])[bad]
    assert "invalid claim UID" in out.error and out.error_type == "invalid"
    assert not (tmp_path / "cdi").exists() or not list((tmp_path / "cdi").iterdir())


def test_other_drivers_devices_are_left_alone_and_admin_access_shares(tmp_path):
    state, fetcher = make_state(tmp_path)
    ref = fetcher.add("a", "uid-a", ["gpu-0"])
    claim = fetcher.claims["uid-a"]
    claim.status.allocation.devices.results.append(
        NS(request="nic", driver="net.example.com", pool="node-a", device="nic-0", share_id=None, admin_access=None))
    out = state.prepare([ref])["uid-a"]
    assert [d.device_name for d in out.devices] == ["gpu-0"]
    # An admin-access claim may use a device another claim holds (monitoring tools).
    admin = fetcher.add("admin", "uid-admin", ["gpu-0"])
    fetcher.claims["uid-admin"].status.allocation.devices.results[0].admin_access = True
    assert state.prepare([admin])["uid-admin"].error == ""
    plain = fetcher.add("plain", "uid-plain", ["gpu-0"])
    assert "already prepared for claim ns/a" in state.prepare([plain])["uid-plain"].error


def test_checkpoint_write_failure_leaves_no_phantom_claim(tmp_path, monkeypatch):
    state, fetcher = make_state(tmp_path)
    ref = fetcher.add("a", "uid-a", ["gpu-0"])
    real_write = state.checkpoint.write
    calls = []

    def failing(data, durable=True):
        calls.append(durable)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        real_write(data, durable)

    monkeypatch.setattr(state.checkpoint, "write", failing)
    out = state.prepare([ref])["uid-a"]
    assert out.error_type == "internal" and "No space left on device" in out.error
    assert state.records() == {} and state.cdi.claim_specs() == {}
    other = fetcher.add("b", "uid-b", ["gpu-0"])  # the device is free again
    assert state.prepare([other])["uid-b"].error == ""


def _valid_checkpoint(tmp_path, claims) -> None:
    from dra.plugin.checkpoint import checksum

    data = {"nodeBootID": "boot-1", "preparedClaims": claims}
    path = tmp_path / "state" / "checkpoint.json"
    path.write_text(json.dumps({"kind": "DraGpuCheckpoint", "version": 1, "checksum": checksum(data), "data": data}))


@pytest.mark.parametrize("shape", ["directory", "record-list", "devices-string", "device-without-type"])
def test_misshaped_checkpoint_is_quarantined_and_rebuilt(tmp_path, shape):
    """Five of thirteen corruptions used to crash-loop the plugin; each is now recovered."""
    state, fetcher = make_state(tmp_path)
    ref = fetcher.add("a", "uid-a", ["gpu-0", "gpu-1-mig-1g10gb-19-6"])
    answer = state.prepare([ref])["uid-a"]
    path = tmp_path / "state" / "checkpoint.json"
    record = json.loads(path.read_text())["data"]["preparedClaims"]["uid-a"]
    if shape == "directory":
        path.unlink()
        path.mkdir()
    elif shape == "record-list":
        _valid_checkpoint(tmp_path, {"uid-a": [record]})
    elif shape == "devices-string":
        _valid_checkpoint(tmp_path, {"uid-a": dict(record, devices="gpu-0")})
    else:
        record["devices"][0].pop("type")
        _valid_checkpoint(tmp_path, {"uid-a": record})
    state2, report = restart(tmp_path)
    assert report.checkpoint == "corrupt" and report.quarantined and report.rebuilt == ["uid-a"]
    assert path.is_file()  # a fresh, valid checkpoint took its place
    assert state2.prepare([ref])["uid-a"].devices == answer.devices
    assert state2.unprepare([ref])["uid-a"].error == "" and state2.backend.list_mig() == []


def test_kill_between_unprepare_effects_is_finished_at_restart(tmp_path, monkeypatch):
    """Unprepare is two-phase: a kill after the CDI spec went but before the MIG instance did
    must not leave a PrepareCompleted claim whose CDI ids no longer resolve."""
    state, fetcher = make_state(tmp_path)
    ref = fetcher.add("a", "uid-a", ["gpu-1-mig-1g10gb-19-0"])
    assert state.prepare([ref])["uid-a"].error == ""

    class Killed(BaseException):
        pass

    def die_halfway(backend, cdi, record, others, metadata=None):
        cdi.remove(record.uid)
        raise Killed()

    monkeypatch.setattr(effects, "undo", die_halfway)
    with pytest.raises(Killed):
        state._unprepare_one(ref)
    monkeypatch.undo()
    on_disk = json.loads((tmp_path / "state" / "checkpoint.json").read_text())
    assert on_disk["data"]["preparedClaims"]["uid-a"]["state"] == "Unpreparing"
    state2, report = restart(tmp_path, fetcher)
    assert report.rolled_back == ["uid-a"] and report.kept == []
    assert state2.records() == {} and state2.backend.list_mig() == []
    assert state2.unprepare([ref])["uid-a"].error == ""  # the kubelet's retry finds nothing to do


def test_stale_temp_files_are_removed_at_start(tmp_path):
    state, fetcher = make_state(tmp_path)
    ref = fetcher.add("a", "uid-a", ["gpu-0"])
    assert state.prepare([ref])["uid-a"].error == ""
    leftovers = [tmp_path / "state" / ".checkpoint.json.abc123.tmp",
                 tmp_path / "cdi" / ".k8s.gpu.nvidia.com-claim_uid-a.json.xyz.tmp"]
    for p in leftovers:
        p.write_text("half")
    foreign = tmp_path / "cdi" / ".other-vendor.json.x.tmp"
    foreign.write_text("not ours")
    _, report = restart(tmp_path, fetcher)
    assert sorted(report.removed_temp_files) == sorted(map(str, leftovers))
    assert not any(p.exists() for p in leftovers) and foreign.exists()


def _claim_with(fetcher, uid, results, configs=None):
    fetcher.claims[uid] = NS(
        metadata=NS(namespace="ns", name=uid, uid=uid),
        status=NS(allocation=NS(devices=NS(results=results, config=configs))),
    )
    return ClaimRef("ns", uid, uid)


def _result(device, request="r", share_id=None):
    return NS(request=request, driver=DRIVER, pool=POOL, device=device, share_id=share_id, admin_access=None)


@pytest.mark.parametrize("results, message", [
    ([_result("gpu-0"), _result("gpu-0", request="s")], "device gpu-0 is allocated twice in this claim"),
    ([_result("gpu-0", share_id="0b7e8d3c-1111-2222-3333-444455556666")], "not shareable"),
    ([_result("gpu-0", request="Bad_Name")], "invalid request name 'Bad_Name'"),
    ([_result("gpu-0", request="r/" + "x" * 64)], "invalid request name"),
])
def test_every_claim_input_is_checked(tmp_path, results, message):
    """Each was accepted before: two containers would get one exclusive GPU twice, or a
    shareID would be written into CDI names for a device nobody may share."""
    state, fetcher = make_state(tmp_path)
    ref = _claim_with(fetcher, "uid-bad", results)
    out = state.prepare([ref])["uid-bad"]
    assert message in out.error and out.error.startswith("claim ns/uid-bad, request ")
    assert state.records() == {} and state.cdi.claim_specs() == {}


def test_shared_device_inputs(tmp_path):
    state, fetcher = make_state(tmp_path)
    state.catalog = DeviceCatalog([DeviceSpec("gpu-0", "gpu", GPUS[0], 0, 0, GPUS[0], multi_allocatable=True,
                                              memory_bytes=80 << 30)])
    ok = _claim_with(fetcher, "uid-ok", [_result("gpu-0", share_id="a1"), _result("gpu-0", share_id="a2")])
    assert state.prepare([ok])["uid-ok"].error == ""
    dup = _claim_with(fetcher, "uid-dup", [_result("gpu-0", share_id="b1"), _result("gpu-0", share_id="b1")])
    assert "with shareID b1 is allocated twice" in state.prepare([dup])["uid-dup"].error
    bad = _claim_with(fetcher, "uid-sid", [_result("gpu-0", share_id="../../x")])
    assert "invalid shareID" in state.prepare([bad])["uid-sid"].error
    from dra.plugin.kubelet_standin import opaque_config

    cfg = opaque_config({"apiVersion": "resource.nvidia.com/v1beta1", "kind": "GpuConfig", "sharing": {
        "strategy": "MPS", "mpsConfig": {"defaultPinnedDeviceMemoryLimit": "1Ti"}}})
    huge = _claim_with(fetcher, "uid-huge", [_result("gpu-0", share_id="c1")],
                       [NS(source=cfg["source"], requests=None, opaque=NS(**cfg["opaque"]))])
    assert "pinned memory limit 1Ti is larger than device gpu-0's memory" in state.prepare([huge])["uid-huge"].error


def test_lost_checkpoint_and_cdi_spec_rebuilt_from_the_api_server(tmp_path):
    """A corrupt checkpoint *and* a lost CDI spec: the API server says the claim is in use,
    so its MIG instance must not be destroyed as a stray, and its devices stay taken."""
    state, fetcher = make_state(tmp_path)
    a = fetcher.add("a", "uid-a", ["gpu-0"])
    b = fetcher.add("b", "uid-b", ["gpu-1-mig-1g10gb-19-6"])
    answers = state.prepare([a, b])
    assert all(o.error == "" for o in answers.values())
    for claim in fetcher.claims.values():
        claim.status.reserved_for = [NS(resource="pods", name="p", uid="pod-uid")]
    fetcher.list_in_use = lambda driver, pool: list(fetcher.claims.values())
    path = tmp_path / "state" / "checkpoint.json"
    path.write_text("{ torn")
    state.cdi.remove("uid-b")
    state2, report = restart(tmp_path, fetcher)
    assert report.checkpoint == "corrupt" and report.rebuilt == ["uid-a", "uid-b"]
    assert report.rebuilt_from_api == ["uid-b"] and report.destroyed_mig == 0
    assert len(state2.backend.list_mig()) == 1 and "uid-b" in state2.cdi.claim_specs()
    assert state2.prepare([b])["uid-b"].devices == answers["uid-b"].devices
    c = fetcher.add("c", "uid-c", ["gpu-1-mig-1g10gb-19-6"])
    assert "already prepared for claim ns/b" in state2.prepare([c])["uid-c"].error
    assert state2.unprepare([b])["uid-b"].error == "" and state2.backend.list_mig() == []
