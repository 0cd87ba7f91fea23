"""Checkpoint file: atomic, checksummed, boot-bound, tolerant of newer fields, group-committed."""

from __future__ import annotations

import json
import threading

import pytest

from dra.plugin.checkpoint import (
    PREPARE_COMPLETED,
    PREPARE_STARTED,
    CheckpointCorrupt,
    CheckpointFile,
    ClaimRecord,
    GroupCommitter,
    checksum,
)


def _dev(name: str) -> dict:
    return {"device": name, "type": "gpu", "pool": "node-a", "requests": ["r"], "gpuUUID": "GPU-" + name}


def _claims():
    return {
        "u1": ClaimRecord("u1", "ns", "a", PREPARE_COMPLETED, [_dev("gpu-0")]).to_json(),
        "u2": ClaimRecord("u2", "ns", "b", PREPARE_STARTED, [_dev("gpu-1")]).to_json(),
    }


def test_round_trip(tmp_path):
    ck = CheckpointFile(tmp_path / "checkpoint.json", boot_id="boot-1")
    assert ck.load().status == "missing"
    ck.write(_claims())
    loaded = ck.load()
    assert loaded.status == "ok"
    assert loaded.claims["u1"].state == PREPARE_COMPLETED
    assert loaded.claims["u2"].devices == [_dev("gpu-1")]
    assert oct((tmp_path / "checkpoint.json").stat().st_mode & 0o777) == "0o600"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_other_boot_drops_everything(tmp_path):
    CheckpointFile(tmp_path / "c.json", boot_id="boot-1").write(_claims())
    loaded = CheckpointFile(tmp_path / "c.json", boot_id="boot-2").load()
    assert loaded.status == "rebooted" and loaded.claims == {}


@pytest.mark.parametrize("damage, reason", [
    (lambda raw: raw[: len(raw) // 2], "not valid JSON"),
    (lambda raw: raw.replace(b'"gpu-0"', b'"gpu-9"'), "checksum mismatch"),
    (lambda raw: raw.replace(b'"version": 1', b'"version": 7'), "unsupported checkpoint version"),
    (lambda raw: b"[]", "not a DraGpuCheckpoint"),
    (lambda raw: b"\xff\xfe", "not valid JSON"),
])
def test_corruption_is_detected(tmp_path, damage, reason):
    path = tmp_path / "c.json"
    ck = CheckpointFile(path, boot_id="b")
    ck.write(_claims())
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointCorrupt, match=reason):
        ck.load()
    moved = ck.quarantine()
    assert moved.name.startswith("c.json.corrupt-") and not path.exists()


def test_fields_from_a_newer_version_survive(tmp_path):
    path = tmp_path / "c.json"
    data = {"nodeBootID": "b", "futureTopLevel": 1, "preparedClaims": {
        "u1": {"state": PREPARE_COMPLETED, "namespace": "ns", "name": "a", "devices": [], "futureField": {"x": 1}},
    }}
    path.write_text(json.dumps({"kind": "DraGpuCheckpoint", "version": 1, "checksum": checksum(data), "data": data}))
    ck = CheckpointFile(path, boot_id="b")
    loaded = ck.load()
    record = loaded.claims["u1"]
    assert record.extra == {"futureField": {"x": 1}}
    ck.write({"u1": record.to_json()})
    assert ck.load().claims["u1"].extra == {"futureField": {"x": 1}}


def _valid_checksum_file(path, claims) -> None:
    data = {"nodeBootID": "b", "preparedClaims": claims}
    path.write_text(json.dumps({"kind": "DraGpuCheckpoint", "version": 1, "checksum": checksum(data), "data": data}))


def _record(**changes):
    rec = {"state": PREPARE_COMPLETED, "namespace": "ns", "name": "a", "devices": [_dev("gpu-0")]}
    rec.update(changes)
    return rec


def _without(key):
    d = _dev("gpu-0")
    del d[key]
    return d


# Each of these has a valid checksum but a shape the plugin could not act on; before the
# shape checks they raised TypeError/KeyError/AttributeError deep in recovery: a crash loop.
@pytest.mark.parametrize("claims, reason", [
    ({"u": ["PrepareCompleted"]}, "record is a list"),
    ({"u": _record(devices="gpu-0")}, "devices is a str"),
    ({"u": _record(devices=[_without("type")])}, "missing 'type'"),
    ({"u": _record(devices=[_without("gpuUUID")])}, "missing 'gpuUUID'"),
    ({"u": _record(devices=["gpu-0"])}, "is a str, not an object"),
    ({"u": _record(devices=[dict(_dev("gpu-0"), type="mig")])}, "mig device without a mig object"),
    ({"u": _record(devices=[dict(_dev("gpu-0"), type="mig", mig={"dynamic": True, "giProfileID": "19", "placementStart": 0})])}, "mig.giProfileID"),
    ({"u": _record(devices=[dict(_dev("gpu-0"), requests="r")])}, "requests is a str"),
    ({"u": _record(name=7)}, "name is not a string"),
    ({"../x": _record()}, "invalid claim UID"),
])
def test_misshaped_checkpoint_is_corrupt(tmp_path, claims, reason):
    path = tmp_path / "c.json"
    _valid_checksum_file(path, claims)
    with pytest.raises(CheckpointCorrupt, match=reason):
        CheckpointFile(path, boot_id="b").load()


def test_directory_in_place_of_the_checkpoint_is_corrupt(tmp_path):
    path = tmp_path / "c.json"
    path.mkdir()
    (path / "inside").write_text("x")
    ck = CheckpointFile(path, boot_id="b")
    with pytest.raises(CheckpointCorrupt, match="cannot read it"):
        ck.load()
    moved = ck.quarantine()
    assert moved.is_dir() and not path.exists()
    path.mkdir()  # a second quarantine in the same second gets its own name
    assert ck.quarantine() != moved


def test_unknown_state_is_corrupt(tmp_path):
    path = tmp_path / "c.json"
    data = {"nodeBootID": "b", "preparedClaims": {"u": {"state": "Halfway"}}}
    path.write_text(json.dumps({"kind": "DraGpuCheckpoint", "version": 1, "checksum": checksum(data), "data": data}))
    with pytest.raises(CheckpointCorrupt, match="unknown state"):
        CheckpointFile(path, boot_id="b").load()


def test_group_commit_batches_concurrent_syncs():
    lock = threading.Lock()
    version = [0]
    written: list[int] = []
    gate = threading.Event()

    def snapshot():
        with lock:
            return version[0], {"v": version[0]}

    def writer(data, durable):
        gate.wait(2)  # hold the first write so that the others pile up behind it
        written.append(data["v"])

    committer = GroupCommitter(snapshot, writer)

    def change():
        with lock:
            version[0] += 1
            mine = version[0]
        committer.sync(mine)
        assert max(written) >= mine  # returned only once its change is on disk

    threads = [threading.Thread(target=change) for _ in range(20)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert written[-1] == 20
    assert len(written) < 20  # concurrent changes shared writes


def test_failed_write_is_not_counted_as_done():
    calls = []

    def writer(data, durable):
        calls.append(data)
        if len(calls) == 1:
            raise OSError("disk full")

    committer = GroupCommitter(lambda: (1, {}), writer)
    with pytest.raises(OSError):
        committer.sync(1)
    committer.sync(1)  # retried, not skipped
    assert len(calls) == 2


def test_durable_waiters_are_not_satisfied_by_a_plain_write():
    version = [1]
    log: list[tuple[int, bool]] = []
    in_write = threading.Event()
    release = threading.Event()

    def writer(data, durable):
        log.append((data["v"], durable))
        if len(log) == 1:
            in_write.set()
            release.wait(2)

    committer = GroupCommitter(lambda: (version[0], {"v": version[0]}), writer)
    plain = threading.Thread(target=committer.sync, args=(1, False))
    plain.start()
    assert in_write.wait(2)
    durable = threading.Thread(target=committer.sync, args=(1, True))
    durable.start()
    release.set()
    plain.join()
    durable.join()
    assert log == [(1, False), (1, True)]
    committer.sync(1, True)  # already durable: no write
    committer.sync(1, False)
    assert len(log) == 2 and committer.durable_writes == 1


def test_durable_flag_reaches_the_file(tmp_path, monkeypatch):
    import os

    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    ck = CheckpointFile(tmp_path / "c.json", boot_id="b")
    ck.write({}, durable=False)
    assert synced == []
    ck.write({}, durable=True)
    assert len(synced) == 1
