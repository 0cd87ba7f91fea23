"""The real node's sharing tools, run from a fake driver root: MPS daemons and time slices.

MIG and health through NVML are in ``test_gpu_nvml_fake`` (real pynvml over the fake C
library). Here the driver's tools are the fake root's scripts (``tests/fakenvml/fakeroot``):
the MPS control daemon is a real process started in its own session, with its pipe, log
and shm directories under ``--mps-root``; the plugin's restart is a new ``MpsControl``.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from dra.plugin.backend import BackendError, MpsSettings
from dra.plugin.drivertools import DriverTools
from dra.plugin.mps import MpsControl
from fakenvml.fakeroot import GPU0, build_nvml, make_driver_root


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("drvroot")
    made = make_driver_root(base / "root", build_nvml(base / "lib"))
    yield base / "root"
    made["socket"].close()


@pytest.fixture
def mps(root, tmp_path):
    control = MpsControl(tmp_path / "mps", root)
    yield control
    for daemon_id in control.daemons():
        control.stop(daemon_id)


def _log(mps: MpsControl, daemon_id: str) -> str:
    return (Path(mps.daemon(daemon_id).log_dir) / "control.log").read_text()


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except (ProcessLookupError, FileNotFoundError):
            return True
        time.sleep(0.05)
    return False


def test_daemon_on_host_dirs_in_its_own_session(mps, tmp_path):
    d = mps.start("claim-1-0", [GPU0], MpsSettings(30, {GPU0: 2 << 30}))
    assert (d.pipe_dir, d.log_dir, d.shm_dir) == tuple(str(tmp_path / "mps" / "claim-1-0" / s) for s in ("pipe", "log", "shm"))
    pid = mps.pid("claim-1-0")
    assert pid and mps.alive("claim-1-0")
    assert os.getsid(pid) != os.getsid(0)  # a signal to the plugin's session does not reach it
    text = _log(mps, "claim-1-0")
    assert f"started gpus={GPU0}" in text
    assert "set_default_active_thread_percentage 30" in text
    assert f"set_default_device_pinned_mem_limit {GPU0} 2048M" in text


def test_restarted_plugin_readopts_a_live_daemon_and_restarts_a_dead_one(mps, root, tmp_path):
    mps.start("c-0", [GPU0], MpsSettings(None, {}))
    pid = mps.pid("c-0")
    again = MpsControl(tmp_path / "mps", root)  # the plugin after a restart
    again.start("c-0", [GPU0], MpsSettings(None, {}))
    assert again.pid("c-0") == pid and _log(mps, "c-0").count("started") == 1
    os.kill(pid, signal.SIGKILL)
    assert _gone(pid) and not again.alive("c-0")
    again.start("c-0", [GPU0], MpsSettings(None, {}))
    assert again.alive("c-0") and again.pid("c-0") != pid and _log(mps, "c-0").count("started") == 2


def test_stop_quits_removes_and_repeats(mps, tmp_path):
    mps.start("c-1", [GPU0], MpsSettings(None, {}))
    pid = mps.pid("c-1")
    mps.stop("c-1")
    assert _gone(pid) and not (tmp_path / "mps" / "c-1").exists()
    mps.stop("c-1")  # idempotent: rollback after a crash does not know how far it got


def test_stale_daemons_and_dirs_are_removed(mps, tmp_path):
    mps.start("keep-0", [GPU0], MpsSettings(None, {}))
    mps.start("stale-0", [GPU0], MpsSettings(None, {}))
    stale_pid = mps.pid("stale-0")
    (tmp_path / "mps" / "leftover-0" / "pipe").mkdir(parents=True)  # a dead daemon's dirs
    assert mps.remove_stale({"keep-0"}) == ["leftover-0", "stale-0"]
    assert _gone(stale_pid) and mps.alive("keep-0") and mps.daemons() == ["keep-0"]


def test_time_slice_runs_the_driver_roots_nvidia_smi(root, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_NVML_DIR", str(tmp_path))
    tools = DriverTools(root)
    assert tools.tool("nvidia-smi") == str(root / "usr/bin/nvidia-smi")
    tools.run(["nvidia-smi", "compute-policy", "-i", GPU0, "--set-timeslice=2"])
    assert (tmp_path / "nvidia-smi.log").read_text() == f"compute-policy -i {GPU0} --set-timeslice=2\n"


def test_missing_tool_is_a_backend_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(BackendError, match="nvidia-smi"):
        DriverTools(tmp_path / "no-root").run(["nvidia-smi", "-L"])
