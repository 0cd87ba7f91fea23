"""Health events -> device taints (and back), and the DRAResourceHealth stream."""

from __future__ import annotations

import threading

import grpc

from dra.plugin.backend import HealthEvent
from dra.plugin.builtin_backend import BuiltinBackend
from dra.plugin.devices import DeviceCatalog, DeviceSpec
from dra.plugin.health import HealthMonitor, HealthServicer
from dra.plugin.metrics import PluginMetrics
from dra.plugin.protos import dra_health_v1alpha1_pb2 as hpb
from dra.plugin.protos import dra_health_v1alpha1_pb2_grpc as hpb_grpc
from dra.plugin.server import PluginServer
from dra.plugin.sockets import SocketLayout

G0, G1 = "GPU-0000", "GPU-1111"


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
        ("gpu.nvidia.com/xid", "13", "None"),  # an application XID: informational only
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
        assert "v1alpha1.DRAResourceHealth" in server.registration._info.supported_versions
        with grpc.insecure_channel(f"unix://{layout.dra_socket}") as channel:
            stream = hpb_grpc.DRAResourceHealthStub(channel).NodeWatchResources(hpb.NodeWatchResourcesRequest(), timeout=10)
            first = next(stream)
            assert {d.device.device_name: d.health for d in first.devices} == {
                "gpu-0": hpb.HEALTHY, "gpu-1": hpb.HEALTHY, "gpu-1-mig-1g10gb-19-0": hpb.HEALTHY,
            }
            backend.inject(HealthEvent(G0, "xid", 79))
            second = next(stream)
            assert {d.device.device_name: d.health for d in second.devices}["gpu-0"] == hpb.UNHEALTHY
            assert all(d.device.pool_name == "node-a" for d in second.devices)
            assert changed.wait(5)
            stream.cancel()
    finally:
        monitor.stop()
        server.stop(1)
