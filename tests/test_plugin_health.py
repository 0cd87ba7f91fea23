"""Health events -> device taints (and back), and the DRAResourceHealth stream."""

from __future__ import annotations

import threading

import grpc
from hypothesis import given, settings
from hypothesis import strategies as st

from dra.plugin.backend import HealthEvent
from dra.plugin.builtin_backend import BuiltinBackend
from dra.plugin.devices import DeviceCatalog, DeviceSpec
from dra.plugin.health import HealthMonitor, HealthServicer, health_list, truncate_message
from dra.plugin.metrics import PluginMetrics
from dra.plugin.protos import dra_health_v1_pb2 as hpb_v1
from dra.plugin.protos import dra_health_v1_pb2_grpc as hpb_v1_grpc
from dra.plugin.protos import dra_health_v1alpha1_pb2 as hpb
from dra.plugin.protos import dra_health_v1alpha1_pb2_grpc as hpb_grpc
from dra.plugin.server import PluginServer
from dra.plugin.sockets import SocketLayout

G0, G1 = "GPU-00000000", "GPU-11111111"


def catalog():
    return DeviceCatalog([
        DeviceSpec("gpu-0", "gpu", G0, 0, 0, G0),
        DeviceSpec("gpu-1", "gpu", G1, 1, 1, G1),
        DeviceSpec("gpu-1-mig-1g10gb-19-0", "mig", G1, 1, 1, "MIG-aaaa", False, "1g.10gb", 19, 0, 1, 1, 0),
    ])


def keys(taints):
    return {name: [(t.key, t.value, t.effect) for t in ts] for name, ts in taints.items()}


def test_events_become_taints_and_recovery_clears_them(tmp_path):
    seen = []
    monitor = HealthMonitor(BuiltinBackend(tmp_path, [G0, G1]), catalog(), seen.append)
    assert monitor.handle([HealthEvent("MIG-aaaa", "xid", 48)])  # a MIG uuid taints its GPU
    assert keys(seen[-1]) == {
        "gpu-1": [("gpu.nvidia.com/xid", "48", "NoSchedule")],
        "gpu-1-mig-1g10gb-19-0": [("gpu.nvidia.com/xid", "48", "NoSchedule")],
    }
    assert not monitor.handle([HealthEvent(G1, "xid", 48)])  # same taint again: no republish
    assert monitor.handle([HealthEvent(G0, "ecc-dbe"), HealthEvent(G0, "xid", 13), HealthEvent(G0, "ecc-sbe")])
    assert keys(seen[-1])["gpu-0"] == [
        ("gpu.nvidia.com/ecc-dbe", None, "NoSchedule"),
        ("gpu.nvidia.com/xid-application", "13", "None"),  # an application XID: informational only
    ]
    assert monitor.handle([HealthEvent(G1, "recovered")])
    assert set(seen[-1]) == {"gpu-0"}
    assert not monitor.handle([HealthEvent("GPU-unknown", "xid", 79)])
    assert monitor.handle([HealthEvent(G0, "recovered")]) and seen[-1] == {}
    assert not monitor.handle([HealthEvent(G0, "recovered")])


def test_kubernetes_134_gets_no_none_effect(tmp_path):
    seen = []
    monitor = HealthMonitor(BuiltinBackend(tmp_path, [G0]), catalog(), seen.append, allow_none_effect=False)
    assert not monitor.handle([HealthEvent(G0, "xid", 31)])
    assert monitor.handle([HealthEvent(G0, "gpu-lost")])
    assert keys(seen[-1]) == {"gpu-0": [("gpu.nvidia.com/gpu-lost", None, "NoSchedule")]}


def test_monitor_thread_and_health_stream(tmp_path):
    backend = BuiltinBackend(tmp_path / "hw", [G0, G1])
    changed = threading.Event()
    monitor = HealthMonitor(backend, catalog(), lambda taints: changed.set())
    layout = SocketLayout("gpu.nvidia.com", tmp_path / "reg", tmp_path / "plugins")

    class NoPrepare:
        def prepare(self, refs):
            return {}

        def unprepare(self, refs):
            return {}

    server = PluginServer(layout, NoPrepare(), PluginMetrics("d", "n"), HealthServicer(monitor, catalog(), "node-a"))
    server.start()
    monitor.start()
    try:
        versions = list(server.registration._info.supported_versions)
        # 1.37 kubelets open the stream only when advertised, and prefer v1.
        assert versions.index("v1.DRAResourceHealth") < versions.index("v1alpha1.DRAResourceHealth")
        with grpc.insecure_channel(f"unix://{layout.dra_socket}") as channel:
            v1 = hpb_v1_grpc.DRAResourceHealthStub(channel).NodeWatchResources(hpb_v1.NodeWatchResourcesRequest(), timeout=10)
            first_v1 = next(v1)
            assert {d.device.device_name: d.health for d in first_v1.devices}["gpu-0"] == hpb_v1.HEALTHY
            assert all(d.health_check_timeout_seconds > 0 for d in first_v1.devices)
            stream = hpb_grpc.DRAResourceHealthStub(channel).NodeWatchResources(hpb.NodeWatchResourcesRequest(), timeout=10)
            first = next(stream)
            assert {d.device.device_name: d.health for d in first.devices} == {
                "gpu-0": hpb.HEALTHY, "gpu-1": hpb.HEALTHY, "gpu-1-mig-1g10gb-19-0": hpb.HEALTHY,
            }
            backend.inject(HealthEvent(G0, "xid", 79))
            second = next(stream)
            assert {d.device.device_name: d.health for d in second.devices}["gpu-0"] == hpb.UNHEALTHY
            assert {d.device.device_name: d.message for d in second.devices}["gpu-0"] == "critical XID 79 reported by NVML"
            second_v1 = next(v1)
            assert {d.device.device_name: (d.health, d.message) for d in second_v1.devices}["gpu-0"] == (
                hpb_v1.UNHEALTHY, "critical XID 79 reported by NVML")
            v1.cancel()
            assert all(d.device.pool_name == "node-a" for d in second.devices)
            assert changed.wait(5)
            stream.cancel()
    finally:
        monitor.stop()
        server.stop(1)


def test_a_benign_xid_never_downgrades_a_fatal_one(tmp_path):
    """XID 79 then XID 13 on the same GPU: the fatal taint stays and the stream says so."""
    seen = []
    monitor = HealthMonitor(BuiltinBackend(tmp_path, [G0, G1]), catalog(), seen.append)
    monitor.handle([HealthEvent(G0, "xid", 79)])
    monitor.handle([HealthEvent(G0, "xid", 13)])
    monitor.handle([HealthEvent(G0, "xid", 48)])  # another fatal one: no churn, 79 stays
    assert keys(monitor.snapshot())["gpu-0"] == [
        ("gpu.nvidia.com/xid", "79", "NoSchedule"),
        ("gpu.nvidia.com/xid-application", "13", "None"),
    ]
    health = {d.device.device_name: d for d in health_list(hpb, monitor.snapshot(), catalog(), "p").devices}
    assert health["gpu-0"].health == hpb.UNHEALTHY and "critical XID 79" in health["gpu-0"].message
    assert health["gpu-1"].health == hpb.HEALTHY and health["gpu-1"].message == ""
    assert monitor.clear(G0) and monitor.snapshot() == {}  # the operator's word clears it


def test_message_is_truncated_like_the_kubelet():
    assert truncate_message("x" * 1024) == "x" * 1024
    cut = truncate_message("y" * 5000)
    assert len(cut) == 1024 and cut.endswith("...") and cut[:1021] == "y" * 1021


EVENT = st.one_of(
    st.builds(HealthEvent, st.sampled_from([G0, G1, "MIG-aaaa"]), st.just("xid"),
              st.sampled_from([13, 31, 43, 48, 63, 74, 79, 94, 95, 109, 119])),
    st.builds(HealthEvent, st.sampled_from([G0, G1, "MIG-aaaa"]),
              st.sampled_from(["ecc-dbe", "ecc-sbe", "gpu-lost", "recovered"])),
)


@settings(max_examples=150, deadline=None)
@given(batches=st.lists(st.lists(EVENT, min_size=1, max_size=4), max_size=12),
       allow_none=st.booleans())
def test_stream_and_taints_always_agree(tmp_path_factory, batches, allow_none):
    """Property: after any event sequence, (a) a GPU is unhealthy on the stream exactly when
    it has a blocking taint, (b) it has one exactly when a fatal event came after its last
    recovery (a model of the rules written independently of the monitor), for every device
    of the GPU, MIG devices included, and (c) the taints handed to on_change are the snapshot."""
    published = []
    tmp = tmp_path_factory.mktemp("h")
    monitor = HealthMonitor(BuiltinBackend(tmp, [G0, G1]), catalog(), published.append, allow_none_effect=allow_none)
    gpu_of = {G0: G0, G1: G1, "MIG-aaaa": G1}
    fatal_since_recovery = {G0: False, G1: False}
    for batch in batches:
        monitor.handle(batch)
        for e in batch:
            g = gpu_of[e.uuid]
            if e.kind == "recovered":
                fatal_since_recovery[g] = False
            elif e.kind in ("ecc-dbe", "gpu-lost") or (e.kind == "xid" and e.code not in (13, 31, 43, 45, 68, 109)):
                fatal_since_recovery[g] = True
        snap = monitor.snapshot()
        if published:
            assert published[-1] == snap
        for d in health_list(hpb_v1, snap, catalog(), "p").devices:
            spec = catalog().get(d.device.device_name)
            blocking = any(t.effect == "NoSchedule" for t in snap.get(d.device.device_name, ()))
            assert (d.health == hpb_v1.UNHEALTHY) == blocking == fatal_since_recovery[spec.gpu_uuid]
            assert (d.message == "") == (d.device.device_name not in snap)


def test_operator_clears_taints_through_the_cli(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    plugins = tmp_path / "plugins"
    (plugins / "gpu.nvidia.com").mkdir(parents=True)
    seen = []
    monitor = HealthMonitor(BuiltinBackend(tmp_path, [G0, G1]), catalog(), seen.append,
                            clear_dir=plugins / "gpu.nvidia.com" / "health-clear")
    monitor.handle([HealthEvent(G0, "xid", 79), HealthEvent(G1, "gpu-lost")])
    root = Path(__file__).resolve().parent.parent
    cli = [sys.executable, "-m", "dra.cli", "plugin", "clear-health", "--plugins-dir", str(plugins)]
    bad = subprocess.run(cli + ["nonsense"], cwd=root, capture_output=True, text=True)
    assert bad.returncode == 2 and "is not a GPU UUID" in bad.stderr
    assert subprocess.run(cli + [G0], cwd=root, capture_output=True, text=True).returncode == 0
    assert monitor.check_clear_requests() == [G0]
    assert set(monitor.snapshot()) == {"gpu-1", "gpu-1-mig-1g10gb-19-0"}  # only G0 was cleared
    subprocess.run(cli + ["all"], cwd=root, check=True, capture_output=True)
    assert monitor.check_clear_requests() == ["all"] and monitor.snapshot() == {}
