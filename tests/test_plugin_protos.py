"""The generated protobuf modules are current and match the kubelet's wire format."""

from __future__ import annotations

import pytest

from dra.plugin.protos import (
    dra_health_v1_pb2,
    dra_health_v1alpha1_pb2,
    dra_v1_pb2,
    dra_v1beta1_pb2,
    generate,
    pluginregistration_pb2,
)


def test_generated_files_are_current():
    pytest.importorskip("grpc_tools")
    assert generate.stale_files() == [], "run `make protos` and commit the result"


def test_generation_covers_every_proto():
    names = {p.name for p in generate.PROTO_DIR.iterdir()}
    for expected in generate.expected_outputs():
        assert expected in names


def _fields(message) -> dict[str, tuple[int, str]]:
    return {f.name: (f.number, f.type) for f in message.DESCRIPTOR.fields}


@pytest.mark.parametrize("pb, package", [
    (dra_v1_pb2, "k8s.io.kubelet.pkg.apis.dra.v1"),
    (dra_v1beta1_pb2, "k8s.io.kubelet.pkg.apis.dra.v1beta1"),
])
def test_dra_service_wire_names(pb, package):
    assert pb.DESCRIPTOR.package == package
    service = pb.DESCRIPTOR.services_by_name["DRAPlugin"]
    assert {m.name for m in service.methods} == {"NodePrepareResources", "NodeUnprepareResources"}
    assert service.full_name == f"{package}.DRAPlugin"
    claim = _fields(pb.Claim)
    assert {k: v[0] for k, v in claim.items()} == {"namespace": 1, "uid": 2, "name": 3}
    device = {k: v[0] for k, v in _fields(pb.Device).items()}
    base = {"request_names": 1, "pool_name": 2, "device_name": 3, "cdi_device_ids": 4}
    if pb is dra_v1_pb2:
        assert device == {**base, "share_id": 5}
        assert pb.Device.DESCRIPTOR.fields_by_name["share_id"].has_presence
    else:
        assert device == base
    assert {k: v[0] for k, v in _fields(pb.NodePrepareResourceResponse).items()} == {"devices": 1, "error": 2}
    assert {k: v[0] for k, v in _fields(pb.NodeUnprepareResourceResponse).items()} == {"error": 1}
    prepare_map = pb.NodePrepareResourcesResponse.DESCRIPTOR.fields_by_name["claims"]
    assert prepare_map.number == 1 and prepare_map.message_type.GetOptions().map_entry


def test_registration_wire_names():
    pb = pluginregistration_pb2
    assert pb.DESCRIPTOR.package == "pluginregistration"
    service = pb.DESCRIPTOR.services_by_name["Registration"]
    assert {m.name for m in service.methods} == {"GetInfo", "NotifyRegistrationStatus"}
    assert {k: v[0] for k, v in _fields(pb.PluginInfo).items()} == {
        "type": 1, "name": 2, "endpoint": 3, "supported_versions": 4,
    }
    assert {k: v[0] for k, v in _fields(pb.RegistrationStatus).items()} == {"plugin_registered": 1, "error": 2}


@pytest.mark.parametrize("pb, package", [(dra_health_v1_pb2, "v1"), (dra_health_v1alpha1_pb2, "v1alpha1")])
def test_health_wire_names(pb, package):
    # 1.36 added message = 5 to v1alpha1; 1.37 added package v1 with the same schema.
    assert pb.DESCRIPTOR.package == package
    method = pb.DESCRIPTOR.services_by_name["DRAResourceHealth"].methods_by_name["NodeWatchResources"]
    assert method.server_streaming
    assert {k: v[0] for k, v in _fields(pb.DeviceHealth).items()} == {
        "device": 1, "health": 2, "last_updated_time": 3, "health_check_timeout_seconds": 4, "message": 5,
    }
    assert pb.DESCRIPTOR.services_by_name["DRAResourceHealth"].full_name == f"{package}.DRAResourceHealth"
    assert pb.HealthStatus.Value("UNKNOWN") == 0 and pb.HealthStatus.Value("UNHEALTHY") == 2


def test_unknown_newer_fields_survive_parsing():
    # A v1beta1 plugin answering a v1 kubelet: share_id (5) is simply absent.
    v1 = dra_v1_pb2.Device(device_name="gpu-0", share_id="abc")
    old = dra_v1beta1_pb2.Device.FromString(v1.SerializeToString())
    assert old.device_name == "gpu-0"
