"""The plugin as a real process: kill -9 mid-prepare, restart, check rollback.

The process is ``python -m dra.cli plugin run`` against the stand-in API server (through a
kubeconfig, the way a real deployment reaches a server) with a built-in profile in
dynamic-MIG mode, so an interrupted prepare leaves a real side effect (a MIG instance in
the built-in backend's persisted hardware state) that recovery must undo.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import grpc
import pytest
import yaml

from dra.plugin.kubelet_standin import KubeletStandIn, allocated_claim
from dra.testing.apiserver import FakeApiServer

NODE = "node-a"
DRIVER = "gpu.nvidia.com"
ROOT = Path(__file__).resolve().parent.parent


def uid(n) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"crash-{n}"))


@pytest.fixture
def api():
    with FakeApiServer() as server:
        server.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
        yield server


class PluginProcess:
    def __init__(self, tmp: Path, api: FakeApiServer):
        self.tmp = tmp
        self.kubeconfig = tmp / "kubeconfig"
        self.kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": api.url}}],
            "users": [{"name": "u", "user": {}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}],
        }))
        self.proc: subprocess.Popen | None = None
        self.log = tmp / "plugin.log"

    @property
    def state_dir(self) -> Path:
        return self.tmp / "plugins" / DRIVER

    def start(self, **env) -> KubeletStandIn:
        full_env = dict(os.environ, DRA_PLUGIN_BOOT_ID=env.pop("boot_id", "boot-1"), **env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dra.cli", "plugin", "run", "--node-name", NODE, "--driver-name", DRIVER,
             "--profile", "h100-x1", "--mode", "dynamic-mig", "--kubeconfig", str(self.kubeconfig),
             "--registrar-dir", str(self.tmp / "registry"), "--plugins-dir", str(self.tmp / "plugins"),
             "--cdi-root", str(self.tmp / "cdi"), "--http-port", "-1", "--log-format", "json"],
            cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=open(self.log, "ab"),
        )
        kubelet = KubeletStandIn(self.tmp / "registry")
        deadline = time.monotonic() + 30
        while True:  # a stale socket from a killed process may linger until the new one binds
            try:
                kubelet.register(timeout=0.3)
                return kubelet
            except (grpc.RpcError, grpc.FutureTimeoutError, TimeoutError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AssertionError(f"plugin did not come up: {self.log.read_text()[-2000:]}")
                time.sleep(0.1)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(20)
        return self.proc.returncode if self.proc else 0

    def checkpoint(self) -> dict:
        return json.loads((self.state_dir / "checkpoint.json").read_text())["data"]["preparedClaims"]

    def mig_instances(self) -> list[dict]:
        path = self.state_dir / "builtin-hardware.json"
        return json.loads(path.read_text())["migInstances"] if path.exists() else []

    def cdi_files(self) -> list[str]:
        cdi = self.tmp / "cdi"
        return sorted(p.name for p in cdi.glob("*.json")) if cdi.exists() else []


def _mig(api: FakeApiServer, name: str, n, start: int) -> tuple[str, str, str]:
    deadline = time.monotonic() + 20
    while True:  # the plugin serves first and publishes right after
        devices = [d["name"] for s in api.objects("ResourceSlice") for d in s["spec"].get("devices") or ()]
        if devices or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    device = next(d for d in devices if "-mig-1g" in d and d.endswith(f"-{start}"))
    api.put_object(allocated_claim(name, uid(n), [("mig", device)], pool=NODE, device_class="mig.nvidia.com"))
    return ("default", name, uid(n))


def _pause_and_kill(plugin: PluginProcess, kubelet: KubeletStandIn, ref, point: str, pause_dir: Path) -> None:
    """Prepare ``ref`` in the background, wait until the plugin pauses at ``point``, kill -9."""
    answers: dict = {}
    t = threading.Thread(target=lambda: answers.update(_safe_prepare(kubelet, [ref])), daemon=True)
    t.start()
    marker = pause_dir / ref[2]
    deadline = time.monotonic() + 20
    while not marker.exists():
        assert time.monotonic() < deadline, plugin.log.read_text()[-2000:]
        time.sleep(0.02)
    assert plugin.checkpoint()[ref[2]]["state"] == "PrepareStarted"
    placements = sorted(m["placementStart"] for m in plugin.mig_instances())
    if point != "after-started":
        assert len(placements) == 2  # the side effect really happened (beside the kept claim's)
    if point == "after-cdi":
        assert any(ref[2] in name for name in plugin.cdi_files())
    plugin.kill9()
    kubelet.close()
    t.join(10)
    assert "error" in answers  # the kubelet saw the call fail and will retry


def _assert_rolled_back(plugin: PluginProcess, ref) -> None:
    assert ref[2] not in plugin.checkpoint()
    # Only the kept claim's MIG instance (placement 3) may remain; the crashed ones used 0..2.
    assert all(m["placementStart"] == 3 for m in plugin.mig_instances()), plugin.mig_instances()
    assert not any(ref[2] in name for name in plugin.cdi_files())


def test_kill_at_every_point_of_prepare_then_recover(tmp_path, api):
    """kill -9 between PrepareStarted and PrepareCompleted at each of the three points.

    Each restart must roll the interrupted claim back (checkpoint entry, MIG instance, CDI
    spec) and keep a claim that completed before the first crash; the kubelet's retries then
    succeed, and the completed claim gets its recorded answer again.
    """
    plugin = PluginProcess(tmp_path, api)
    pause_dir = tmp_path / "paused"
    pause_dir.mkdir()
    refs = {}
    kept = None
    kubelet = None

    def assert_kept():
        assert plugin.checkpoint()[kept[2]]["state"] == "PrepareCompleted"
        assert any(m["placementStart"] == 3 for m in plugin.mig_instances())
        assert f"k8s.gpu.nvidia.com-claim_{kept[2]}.json" in plugin.cdi_files()

    try:
        previous = None
        for point, start in (("after-started", 0), ("after-apply", 1), ("after-cdi", 2)):
            kubelet = plugin.start(DRA_PLUGIN_TEST_PAUSE_AT=f"{point}:{uid(point)}", DRA_PLUGIN_TEST_PAUSE_DIR=str(pause_dir))
            if kept is None:  # the slices are published now: a claim that completes before any crash
                kept = _mig(api, "kept", "kept", 3)
                first_answer = kubelet.prepare([kept])[kept[2]]
                assert first_answer.error == ""
            else:
                _assert_rolled_back(plugin, previous)
                assert_kept()
            ref = refs[point] = _mig(api, point, point, start)
            _pause_and_kill(plugin, kubelet, ref, point, pause_dir)
            previous = ref
        kubelet = plugin.start()
        _assert_rolled_back(plugin, previous)
        assert_kept()
        # The kubelet retries every claim: all succeed on the restarted plugin.
        answers = kubelet.prepare(list(refs.values()))
        assert {u: r.error for u, r in answers.items()} == {r[2]: "" for r in refs.values()}
        assert len(plugin.mig_instances()) == 4 and len(plugin.cdi_files()) == 4
        again = kubelet.prepare([kept])[kept[2]]
        assert list(again.devices) == list(first_answer.devices)
    finally:
        if kubelet is not None:
            kubelet.close()
        plugin.stop()


def _safe_prepare(kubelet, refs) -> dict:
    try:
        return {"result": kubelet.prepare(refs, timeout=30)}
    except grpc.RpcError as err:
        return {"error": err.code().name}


def _hardware(plugin: PluginProcess) -> dict:
    path = plugin.state_dir / "builtin-hardware.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _kill_during_unprepare(plugin, kubelet, ref, point, pause_dir) -> None:
    answers: dict = {}

    def call():
        try:
            answers["result"] = kubelet.unprepare([ref], timeout=30)
        except grpc.RpcError as err:
            answers["error"] = err.code().name

    t = threading.Thread(target=call, daemon=True)
    t.start()
    marker = pause_dir / ref[2]
    deadline = time.monotonic() + 20
    while not marker.exists():
        assert time.monotonic() < deadline, plugin.log.read_text()[-2000:]
        time.sleep(0.02)
    # Two-phase: the record says Unpreparing before any effect is undone.
    assert plugin.checkpoint()[ref[2]]["state"] == "Unpreparing"
    if point == "unprepare-undone":
        assert not any(ref[2] in name for name in plugin.cdi_files())
    plugin.kill9()
    kubelet.close()
    t.join(10)
    assert "error" in answers


def test_kill_during_unprepare_and_every_effect(tmp_path, api):
    """kill -9 inside unprepare (after the mark, after the undo) and inside prepare, with
    every kind of effect: a MIG instance, an MPS daemon, a time-slice setting and CDI specs.
    Before two-phase unprepare, a kill between undo and drop left a Completed claim whose
    CDI ids no longer resolved (44 of 80 restarts)."""
    from dra.plugin.kubelet_standin import opaque_config

    plugin = PluginProcess(tmp_path, api)
    pause = tmp_path / "paused"
    pause.mkdir()
    mps = opaque_config({"apiVersion": "resource.nvidia.com/v1beta1", "kind": "MigDeviceConfig",
                         "sharing": {"strategy": "MPS", "mpsConfig": {"defaultActiveThreadPercentage": 50}}})
    ts = opaque_config({"apiVersion": "resource.nvidia.com/v1beta1", "kind": "GpuConfig",
                        "sharing": {"strategy": "TimeSlicing", "timeSlicingConfig": {"interval": "Long"}}})
    kubelet = None
    try:
        # 1. MIG + MPS claim, killed after the mark: nothing undone yet; the restart undoes all.
        kubelet = plugin.start(DRA_PLUGIN_TEST_PAUSE_AT=f"unprepare-marked:{uid('m1')}", DRA_PLUGIN_TEST_PAUSE_DIR=str(pause))
        device = next(d for d in _devices(api) if d.endswith("-19-2"))
        api.put_object(allocated_claim("m1", uid("m1"), [("mig", device)], pool=NODE, device_class="mig.nvidia.com",
                                       configs=[mps]))
        m1 = ("default", "m1", uid("m1"))
        assert kubelet.prepare([m1])[m1[2]].error == ""
        hw = _hardware(plugin)
        assert len(hw["migInstances"]) == 1 and list(hw["mpsDaemons"]) == [f"{uid('m1')}-0"]
        assert (plugin.state_dir / "mps" / f"{uid('m1')}-0").is_dir()
        _kill_during_unprepare(plugin, kubelet, m1, "unprepare-marked", pause)
        assert len(_hardware(plugin)["migInstances"]) == 1  # the kill came before any undo

        # 2. time-slice claim, killed after the undo but before the record was dropped.
        kubelet = plugin.start(DRA_PLUGIN_TEST_PAUSE_AT=f"unprepare-undone:{uid('t1')}", DRA_PLUGIN_TEST_PAUSE_DIR=str(pause))
        assert m1[2] not in plugin.checkpoint()
        hw = _hardware(plugin)
        assert hw["migInstances"] == [] and hw["mpsDaemons"] == {}
        assert not (plugin.state_dir / "mps" / f"{uid('m1')}-0").exists()
        assert kubelet.unprepare([m1])[m1[2]] == ""  # the kubelet's retry: nothing left to do
        api.put_object(allocated_claim("t1", uid("t1"), [("gpu", "gpu-0")], pool=NODE, configs=[ts]))
        t1 = ("default", "t1", uid("t1"))
        assert kubelet.prepare([t1])[t1[2]].error == ""
        assert list(_hardware(plugin)["timeSlice"].values()) == ["Long"]
        _kill_during_unprepare(plugin, kubelet, t1, "unprepare-undone", pause)

        # 3. MIG + MPS again, killed mid-prepare after the effects were applied.
        kubelet = plugin.start(DRA_PLUGIN_TEST_PAUSE_AT=f"after-apply:{uid('m2')}", DRA_PLUGIN_TEST_PAUSE_DIR=str(pause))
        assert t1[2] not in plugin.checkpoint() and _hardware(plugin)["timeSlice"] == {}
        assert not plugin.cdi_files()
        api.put_object(allocated_claim("m2", uid("m2"), [("mig", device)], pool=NODE, device_class="mig.nvidia.com",
                                       configs=[mps]))
        m2 = ("default", "m2", uid("m2"))
        _pause_and_kill_any(plugin, kubelet, m2, pause)

        kubelet = plugin.start()
        hw = _hardware(plugin)
        assert plugin.checkpoint() == {} and hw["migInstances"] == [] and hw["mpsDaemons"] == {}
        assert not plugin.cdi_files() and not list((plugin.state_dir / "mps").glob("*"))
        # Everything still works after all that.
        assert kubelet.prepare([m2])[m2[2]].error == "" and kubelet.unprepare([m2])[m2[2]] == ""
    finally:
        if kubelet is not None:
            kubelet.close()
        plugin.stop()


def _devices(api) -> list[str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        names = [d["name"] for s in api.objects("ResourceSlice") for d in s["spec"].get("devices") or ()]
        if names:
            return names
        time.sleep(0.05)
    raise AssertionError("no slices")


def _pause_and_kill_any(plugin, kubelet, ref, pause_dir) -> None:
    answers: dict = {}
    t = threading.Thread(target=lambda: answers.update(_safe_prepare(kubelet, [ref])), daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not (pause_dir / ref[2]).exists():
        assert time.monotonic() < deadline, plugin.log.read_text()[-2000:]
        time.sleep(0.02)
    hw = _hardware(plugin)
    assert len(hw["migInstances"]) == 1 and len(hw["mpsDaemons"]) == 1  # the effects are real
    plugin.kill9()
    kubelet.close()
    t.join(10)
