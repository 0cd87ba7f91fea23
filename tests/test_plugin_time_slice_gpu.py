"""Time-slicing is checked against the GPU itself, not only against our own claims.

The GPU's compute mode (``nvmlDeviceGetComputeMode``) can forbid time-slicing processes
(EXCLUSIVE_PROCESS under an MPS daemon or ``nvidia-smi -c 3``; PROHIBITED), and the GPU may
run an interval no prepared claim holds (set by hand, or left by a claim a lost checkpoint
forgot). Both refuse the prepare with a reason and leave nothing behind.
"""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from dra.plugin.kubelet_standin import opaque_config

from tests.test_plugin_state import GPUS, make_state


def ts(interval):
    cfg = opaque_config({"apiVersion": "resource.nvidia.com/v1beta1", "kind": "GpuConfig",
                         "sharing": {"strategy": "TimeSlicing", "timeSlicingConfig": {"interval": interval}}})
    return [NS(source=cfg["source"], requests=None, opaque=NS(**cfg["opaque"]))]


@pytest.mark.parametrize("mode", ["ExclusiveProcess", "Prohibited"])
def test_compute_mode_that_cannot_time_slice_is_refused(tmp_path, mode):
    state, fetcher = make_state(tmp_path)
    state.backend.set_compute_mode(GPUS[0], mode)
    a = fetcher.add("a", "uid-a", ["gpu-0"], ts("Short"))
    err = state.prepare([a])["uid-a"].error
    assert f"GPU {GPUS[0]} is in compute mode {mode}" in err and "nvidia-smi -i" in err
    assert state.records() == {} and state.backend.time_slice(GPUS[0]) == "Default"
    # a claim that asks for no time slice is not affected; another GPU is not affected
    assert state.prepare([fetcher.add("b", "uid-b", ["gpu-0"])])["uid-b"].error == ""
    assert state.prepare([fetcher.add("c", "uid-c", ["gpu-1"], ts("Short"))])["uid-c"].error == ""


def test_interval_no_claim_holds_is_refused_until_reset(tmp_path):
    state, fetcher = make_state(tmp_path)
    state.backend.set_time_slice(GPUS[0], "Long")  # set outside any claim
    for interval in ("Short", "Default"):
        ref = fetcher.add(f"a-{interval}", f"uid-{interval}", ["gpu-0"], ts(interval))
        err = state.prepare([ref])[ref.uid].error
        assert f"runs time-slice interval Long, which no prepared claim holds" in err, err
        assert "--set-timeslice=0" in err
    same = fetcher.add("same", "uid-same", ["gpu-0"], ts("Long"))
    assert state.prepare([same])["uid-same"].error == ""  # asking for what the GPU runs is fine
    state.unprepare([same])
    assert state.backend.time_slice(GPUS[0]) == "Default"
    ok = fetcher.add("ok", "uid-ok", ["gpu-0"], ts("Short"))
    assert state.prepare([ok])["uid-ok"].error == ""
