"""Registration handshake and socket handling over real unix sockets."""

from __future__ import annotations

import os
import socket
import stat

import grpc
import pytest

from dra.plugin.metrics import PluginMetrics
from dra.plugin.protos import dra_v1_pb2, dra_v1_pb2_grpc, dra_v1beta1_pb2, dra_v1beta1_pb2_grpc
from dra.plugin.protos import pluginregistration_pb2 as reg_pb
from dra.plugin.protos import pluginregistration_pb2_grpc as reg_grpc
from dra.plugin.server import PluginServer
from dra.plugin.sockets import SocketLayout, SocketPathError, clear_stale_socket
from dra.plugin.types import PreparedDevice, PrepareOutcome


class EchoPreparer:
    """Prepares every claim with one device, fails claims whose name starts with 'bad'."""

    def prepare(self, refs):
        out = {}
        for ref in refs:
            if ref.name.startswith("bad"):
                out[ref.uid] = PrepareOutcome(error=f"claim {ref}: bad", error_type="invalid")
            else:
                out[ref.uid] = PrepareOutcome([PreparedDevice(("r",), "node-a", "gpu-0", ("k8s.x/claim=a",), "s")])
        return out

    def unprepare(self, refs):
        return {ref.uid: PrepareOutcome() for ref in refs}


@pytest.fixture
def layout(tmp_path):
    return SocketLayout("gpu.nvidia.com", tmp_path / "registry", tmp_path / "plugins")


@pytest.fixture
def server(layout):
    srv = PluginServer(layout, EchoPreparer(), PluginMetrics("gpu.nvidia.com", "node-a"))
    srv.start()
    yield srv
    srv.stop(0)


def test_layout_paths(tmp_path):
    lay = SocketLayout("gpu.nvidia.com", tmp_path / "r", tmp_path / "p")
    assert lay.registration_socket == tmp_path / "r" / "gpu.nvidia.com-reg.sock"
    assert lay.dra_socket == tmp_path / "p" / "gpu.nvidia.com" / "dra.sock"
    rolling = SocketLayout("gpu.nvidia.com", tmp_path / "r", tmp_path / "p", pod_uid="1234")
    assert rolling.registration_socket.name == "gpu.nvidia.com-1234-reg.sock"
    assert rolling.dra_socket.name == "dra-1234.sock"


def test_modes_of_dirs_and_sockets(server, layout):
    assert stat.S_IMODE(os.stat(layout.driver_dir).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(layout.registrar_dir).st_mode) == 0o750
    for path in (layout.dra_socket, layout.registration_socket):
        st = os.stat(path)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660


def test_registration_handshake(server, layout):
    with grpc.insecure_channel(f"unix://{layout.registration_socket}") as channel:
        stub = reg_grpc.RegistrationStub(channel)
        info = stub.GetInfo(reg_pb.InfoRequest(), timeout=1)
        assert info.type == "DRAPlugin"
        assert info.name == "gpu.nvidia.com"
        assert info.endpoint == str(layout.dra_socket)
        assert list(info.supported_versions) == ["v1.DRAPlugin", "v1beta1.DRAPlugin"]
        assert server.registration.state.registered is None
        stub.NotifyRegistrationStatus(reg_pb.RegistrationStatus(plugin_registered=False, error="nope"), timeout=5)
        assert server.registration.state.registered is False and server.registration.state.error == "nope"
        stub.NotifyRegistrationStatus(reg_pb.RegistrationStatus(plugin_registered=True), timeout=5)
    assert server.registration.wait_registered(1)


def test_both_api_versions_answer_per_claim(server, layout):
    with grpc.insecure_channel(f"unix://{layout.dra_socket}") as channel:
        for pb, stub_cls in ((dra_v1_pb2, dra_v1_pb2_grpc.DRAPluginStub), (dra_v1beta1_pb2, dra_v1beta1_pb2_grpc.DRAPluginStub)):
            claims = [pb.Claim(namespace="ns", name="good", uid="u1"), pb.Claim(namespace="ns", name="bad", uid="u2")]
            resp = stub_cls(channel).NodePrepareResources(pb.NodePrepareResourcesRequest(claims=claims), timeout=5)
            assert set(resp.claims) == {"u1", "u2"}
            assert resp.claims["u2"].error == "claim ns/bad: bad"
            dev = resp.claims["u1"].devices[0]
            assert (dev.pool_name, dev.device_name, list(dev.cdi_device_ids)) == ("node-a", "gpu-0", ["k8s.x/claim=a"])
            if pb is dra_v1_pb2:
                assert dev.share_id == "s"
            un = stub_cls(channel).NodeUnprepareResources(pb.NodeUnprepareResourcesRequest(claims=claims), timeout=5)
            assert set(un.claims) == {"u1", "u2"} and all(not v.error for v in un.claims.values())


def test_stale_socket_is_replaced(layout):
    layout.make_dirs()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(layout.dra_socket))
    stale.close()  # the file stays behind, like after kill -9
    assert layout.dra_socket.exists()
    srv = PluginServer(layout, EchoPreparer(), PluginMetrics("d", "n"))
    srv.start()
    try:
        with grpc.insecure_channel(f"unix://{layout.dra_socket}") as channel:
            resp = dra_v1_pb2_grpc.DRAPluginStub(channel).NodePrepareResources(
                dra_v1_pb2.NodePrepareResourcesRequest(), timeout=5
            )
            assert len(resp.claims) == 0
    finally:
        srv.stop(0)
    assert not layout.dra_socket.exists() and not layout.registration_socket.exists()


def test_non_socket_is_not_replaced(tmp_path):
    path = tmp_path / "dra.sock"
    path.write_text("precious")
    with pytest.raises(SocketPathError, match="not a socket"):
        clear_stale_socket(path)
    assert path.read_text() == "precious"


def test_too_long_socket_path(tmp_path):
    with pytest.raises(SocketPathError, match="longer than"):
        clear_stale_socket(tmp_path / ("x" * 120))


def test_dead_sockets_of_other_instances_are_removed(tmp_path):
    layout = SocketLayout("gpu.nvidia.com", tmp_path / "registry", tmp_path / "plugins", pod_uid="new")
    layout.make_dirs()
    dead = [layout.registrar_dir / "gpu.nvidia.com-old-reg.sock", layout.driver_dir / "dra-old.sock"]
    for path in dead:
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()  # bound, never listening: what a killed process leaves
    live = socket.socket(socket.AF_UNIX)
    live_path = layout.registrar_dir / "gpu.nvidia.com-other-reg.sock"
    live.bind(str(live_path))
    live.listen(1)
    foreign = layout.registrar_dir / "other.example.com-reg.sock"
    f = socket.socket(socket.AF_UNIX)
    f.bind(str(foreign))
    f.close()
    try:
        srv = PluginServer(layout, EchoPreparer(), PluginMetrics("d", "n"))
        srv.start()
        srv.stop(0)
        assert not any(p.exists() for p in dead)
        assert live_path.exists()  # a live instance's socket stays
        assert foreign.exists()  # another driver's socket is not ours to judge
    finally:
        live.close()


def test_the_kubelets_directories_keep_their_modes(tmp_path):
    """plugins_registry belongs to the kubelet: the plugin used to chmod it to 0750."""
    registry, plugins = tmp_path / "plugins_registry", tmp_path / "plugins"
    registry.mkdir(mode=0o755)
    plugins.mkdir(mode=0o755)
    os.chmod(registry, 0o755)
    os.chmod(plugins, 0o711)
    layout = SocketLayout("gpu.nvidia.com", registry, plugins)
    srv = PluginServer(layout, EchoPreparer(), PluginMetrics("d", "n"))
    srv.start()
    srv.stop(0)
    assert oct(registry.stat().st_mode & 0o777) == "0o755"
    assert oct(plugins.stat().st_mode & 0o777) == "0o711"
    assert oct(layout.driver_dir.stat().st_mode & 0o777) == "0o750"  # ours
