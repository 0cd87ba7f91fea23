"""The built-in (GPU-less) backend behaves like hardware where the plugin can see it."""

from __future__ import annotations

import json

import pytest

from dra.plugin.backend import BackendError, HealthEvent, MpsSettings
from dra.plugin.builtin_backend import EVENTS_FILE, BuiltinBackend

GPU = "GPU-aaaaaaaa-0000-0000-0000-000000000000"


def test_mig_placements_cannot_overlap(tmp_path):
    hw = BuiltinBackend(tmp_path, [GPU])
    a = hw.create_mig(GPU, "3g.40gb", 9, 0, 4)
    assert a.uuid.startswith("MIG-") and a.gi_id == 1
    assert hw.create_mig(GPU, "3g.40gb", 9, 0, 4) == a  # idempotent
    with pytest.raises(BackendError, match="overlaps"):
        hw.create_mig(GPU, "1g.10gb", 19, 2, 1)
    b = hw.create_mig(GPU, "1g.10gb", 19, 4, 1)
    assert b.gi_id == 2
    with pytest.raises(BackendError, match="no GPU"):
        hw.create_mig("GPU-other", "1g.10gb", 19, 0, 1)


def test_state_survives_a_restart(tmp_path):
    hw = BuiltinBackend(tmp_path, [GPU])
    hw.create_mig(GPU, "1g.10gb", 19, 3, 1)
    hw.set_time_slice(GPU, "Long")
    hw.start_mps("claim-0", [GPU], MpsSettings(50, {GPU: 1 << 30}))
    again = BuiltinBackend(tmp_path, [GPU])
    assert [(m.profile, m.placement_start) for m in again.list_mig()] == [("1g.10gb", 3)]
    assert again.time_slice(GPU) == "Long"
    assert again.mps_daemons()["claim-0"]["activeThreadPercentage"] == 50
    assert again.destroy_mig(GPU, 19, 3) and not again.destroy_mig(GPU, 19, 3)
    again.set_time_slice(GPU, "Default")
    again.stop_mps("claim-0")
    again.stop_mps("claim-0")
    fresh = BuiltinBackend(tmp_path, [GPU])
    assert fresh.list_mig() == [] and fresh.time_slice(GPU) == "Default" and fresh.mps_daemons() == {}


def test_health_events_in_process_and_from_file(tmp_path):
    hw = BuiltinBackend(tmp_path, [GPU])
    hw.inject(HealthEvent(GPU, "xid", 79))
    assert hw.wait_health_events(0.1) == [HealthEvent(GPU, "xid", 79)]
    with open(tmp_path / EVENTS_FILE, "a") as f:
        f.write(json.dumps({"uuid": GPU, "kind": "ecc-dbe"}) + "\n")
        f.write('{"uuid": "' + GPU[:10])  # an unfinished line is left for the next read
    assert hw.wait_health_events(0.1) == [HealthEvent(GPU, "ecc-dbe", 0)]
    with open(tmp_path / EVENTS_FILE, "a") as f:
        f.write(GPU[10:] + '", "kind": "recovered"}\n')
    assert hw.wait_health_events(0.1) == [HealthEvent(GPU, "recovered", 0)]
    assert hw.wait_health_events(0.01) == []
