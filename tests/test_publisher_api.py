"""SlicePublisher against the stand-in API server (real kubernetes client, real HTTP), no faults."""

from __future__ import annotations

import random

import pytest

from dra.slices.publisher import PublishError, SlicePublisher, SliceRejectedError
from dra.slices.publisher_backoff import Backoff
from dra.slices.reconcile import DesiredSliceError
from dra.testing.apiserver import FakeApiServer
from dra.testing.apiserver_pools import devices_of, pool_view

DRIVER = "gpu.nvidia.com"
NODE = "node-a"


def device(name: str, memory: str = "80Gi") -> dict:
    return {"name": name, "attributes": {"type": {"string": "gpu"}, "resource.kubernetes.io/pcieRoot":
                                         {"string": "pci0000:00"}},
            "capacity": {"memory": {"value": memory}}}


def slice_of(*names: str, node: str = NODE, driver: str = DRIVER, memory: str = "80Gi") -> dict:
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
            "spec": {"driver": driver, "nodeName": node, "pool": {"name": node, "generation": 1,
                                                                  "resourceSliceCount": 1},
                     "devices": [device(n, memory) for n in names]}}


@pytest.fixture()
def server():
    with FakeApiServer() as fake:
        fake.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
        yield fake


@pytest.fixture()
def sleeps() -> list[float]:
    return []


@pytest.fixture()
def publisher(server, sleeps) -> SlicePublisher:
    backoff = Backoff(rng=random.Random(7), sleep=sleeps.append, max_attempts=6)
    return SlicePublisher(server.api_client(), DRIVER, NODE, backoff=backoff, request_timeout=2.0)


def my_slices(server: FakeApiServer) -> list[dict]:
    return [s for s in server.objects("ResourceSlice")
            if s["spec"]["driver"] == DRIVER and s["spec"].get("nodeName") == NODE]


def assert_pool_is(server: FakeApiServer, desired: list[dict]) -> None:
    """The server holds exactly ``desired``: one generation, right count, same device split."""
    stored = my_slices(server)
    view = pool_view(stored, DRIVER, NODE)
    assert view.complete
    assert view.devices == devices_of(desired)
    assert len(stored) == len(desired)
    assert {s["spec"]["pool"]["resourceSliceCount"] for s in stored} == {len(desired)}
    assert sorted(sorted(d["name"] for d in s["spec"]["devices"]) for s in stored) == \
        sorted(sorted(d["name"] for d in s["spec"]["devices"]) for s in desired)


def test_first_publish_creates_owned_slices(server, publisher) -> None:
    desired = [slice_of("gpu-0", "gpu-1"), slice_of("gpu-2")]
    result = publisher.publish(desired)
    assert (result.created, result.updated, result.deleted) == (2, 0, 0)
    assert result.generations == {NODE: 1}
    assert_pool_is(server, desired)
    node_uid = server.get_object("Node", NODE)["metadata"]["uid"]
    names = sorted(s["metadata"]["name"] for s in my_slices(server))
    # <index, base 16, 5 digits>-<driver>-<node>-<random>: name order is the driver's slice order.
    assert [n[: -len("abcde")] for n in names] == [f"00000-{DRIVER}-{NODE}-", f"00001-{DRIVER}-{NODE}-"]
    by_name = {s["metadata"]["name"]: s for s in my_slices(server)}
    assert [[d["name"] for d in by_name[n]["spec"]["devices"]] for n in names] == [["gpu-0", "gpu-1"], ["gpu-2"]]
    again = publisher.publish(desired)  # names stay: nothing to write
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
    assert sorted(s["metadata"]["name"] for s in my_slices(server)) == names
    for stored in my_slices(server):
        assert stored["metadata"]["ownerReferences"] == [
            {"apiVersion": "v1", "kind": "Node", "name": NODE, "uid": node_uid, "controller": True}]
        assert stored["spec"]["nodeName"] == NODE
    assert [r.method for r in server.requests(path="/nodes/")] == ["GET"]  # uid looked up once


def test_given_node_uid_is_used_without_a_lookup(server) -> None:
    publisher = SlicePublisher(server.api_client(), DRIVER, NODE, node_uid="1234")
    publisher.publish([slice_of("gpu-0")])
    assert not server.requests(path="/nodes")
    assert my_slices(server)[0]["metadata"]["ownerReferences"][0]["uid"] == "1234"


def test_republishing_the_same_slices_makes_no_writes(server, publisher) -> None:
    desired = [slice_of("gpu-0", "gpu-1"), slice_of("gpu-2")]
    publisher.publish(desired)
    server.log.clear()
    result = publisher.publish([slice_of("gpu-0", "gpu-1"), slice_of("gpu-2")])
    assert result.writes == 0 and result.unchanged == 2
    assert server.writes() == []
    assert [(r.method, r.query.get("fieldSelector")) for r in server.requests()] == [
        ("GET", f"spec.driver={DRIVER},spec.nodeName={NODE}")]


def test_reordered_slices_are_rewritten_in_place(server, publisher) -> None:
    """Slice order is meaningful (1.36+ allocates in slice-name order): a new order is a change,
    made by rewriting the existing slices (names kept) at a new generation."""
    publisher.publish([slice_of("gpu-0", "gpu-1"), slice_of("gpu-2")])
    names = sorted(s["metadata"]["name"] for s in my_slices(server))
    result = publisher.publish([slice_of("gpu-2"), slice_of("gpu-0", "gpu-1")])
    assert (result.created, result.updated, result.deleted) == (0, 2, 0)
    by_name = {s["metadata"]["name"]: s for s in my_slices(server)}
    assert sorted(by_name) == names
    assert [[d["name"] for d in by_name[n]["spec"]["devices"]] for n in names] == [["gpu-2"], ["gpu-0", "gpu-1"]]


def test_device_added_bumps_generation_with_minimal_writes(server, publisher) -> None:
    publisher.publish([slice_of("gpu-0"), slice_of("gpu-1")])
    server.log.clear()
    desired = [slice_of("gpu-0"), slice_of("gpu-1"), slice_of("gpu-2")]
    result = publisher.publish(desired)
    assert result.generations == {NODE: 2}
    assert (result.created, result.updated, result.deleted) == (1, 2, 0)
    assert len(server.writes()) == 3
    assert_pool_is(server, desired)


def test_device_removed_deletes_only_its_slice(server, publisher) -> None:
    publisher.publish([slice_of("gpu-0"), slice_of("gpu-1"), slice_of("gpu-2")])
    gone = next(s for s in my_slices(server) if s["spec"]["devices"][0]["name"] == "gpu-2")
    desired = [slice_of("gpu-0"), slice_of("gpu-1")]
    result = publisher.publish(desired)
    assert (result.created, result.updated, result.deleted) == (0, 2, 1)
    assert server.get_object("ResourceSlice", gone["metadata"]["name"]) is None
    assert_pool_is(server, desired)
    delete = server.requests(method="DELETE")[0]
    assert delete.body["preconditions"] == {"uid": gone["metadata"]["uid"],
                                            "resourceVersion": gone["metadata"]["resourceVersion"]}


def test_single_changed_slice_is_updated_in_place(server, publisher) -> None:
    publisher.publish([slice_of("gpu-0"), slice_of("gpu-1")])
    server.log.clear()
    desired = [slice_of("gpu-0"), slice_of("gpu-1", memory="40Gi")]
    result = publisher.publish(desired)
    assert result.generations == {NODE: 1}
    assert [r.method for r in server.writes()] == ["PUT"]
    assert_pool_is(server, desired)


def test_split_into_more_slices(server, publisher) -> None:
    publisher.publish([slice_of(*[f"gpu-{i}" for i in range(4)])])
    desired = [slice_of("gpu-0", "gpu-1"), slice_of("gpu-2"), slice_of("gpu-3")]
    result = publisher.publish(desired)
    assert result.generations == {NODE: 2}
    assert (result.created, result.updated, result.deleted) == (2, 1, 0)
    assert_pool_is(server, desired)


def test_stale_and_leftover_slices_are_removed_and_others_untouched(server, publisher) -> None:
    def put(name: str, node: str, driver: str, generation: int, count: int, *devices: str) -> None:
        obj = slice_of(*devices, node=node, driver=driver)
        obj["metadata"] = {"name": name}
        obj["spec"]["pool"].update(generation=generation, resourceSliceCount=count)
        server.put_object(obj)

    put("old-gen", NODE, DRIVER, 1, 1, "gpu-0")
    put("leftover", NODE, DRIVER, 3, 2, "gpu-7")
    put("other-node", "node-b", DRIVER, 1, 1, "gpu-0")
    put("other-driver", NODE, "other.example.com", 9, 1, "dev-0")
    before = {n: server.get_object("ResourceSlice", n) for n in ("other-node", "other-driver")}
    desired = [slice_of("gpu-0"), slice_of("gpu-1")]
    result = publisher.publish(desired)
    assert result.generations == {NODE: 4}  # above the leftover's generation 3
    assert server.get_object("ResourceSlice", "old-gen") is None
    assert_pool_is(server, desired)
    for name, obj in before.items():
        assert server.get_object("ResourceSlice", name) == obj


def test_remove_all_deletes_only_this_driver_on_this_node(server, publisher) -> None:
    publisher.publish([slice_of("gpu-0"), slice_of("gpu-1")])
    other = slice_of("gpu-0", node="node-b")
    other["metadata"] = {"name": "keep-me"}
    server.put_object(other)
    result = publisher.remove_all()
    assert result.deleted == 2
    assert my_slices(server) == []
    assert server.get_object("ResourceSlice", "keep-me") is not None


def test_empty_desired_list_removes_everything(server, publisher) -> None:
    publisher.publish([slice_of("gpu-0")])
    assert publisher.publish([]).deleted == 1
    assert my_slices(server) == []


def test_invalid_slice_is_reported_with_its_field_and_not_retried(server, publisher, sleeps) -> None:
    desired = [slice_of("GPU_0")]
    with pytest.raises(SliceRejectedError, match=r"spec\.devices\[0\]\.name: Invalid value: \"GPU_0\""):
        publisher.publish(desired)
    assert sleeps == []
    assert len(server.requests(method="POST")) == 1


def test_too_many_devices_is_rejected_by_the_server(server, publisher) -> None:
    with pytest.raises(SliceRejectedError, match=r"spec\.devices: Too many: 129"):
        publisher.publish([slice_of(*[f"gpu-{i}" for i in range(129)])])


def test_inconsistent_desired_slices_fail_before_any_request(server, publisher) -> None:
    with pytest.raises(DesiredSliceError, match="duplicate device name 'gpu-0'"):
        publisher.publish([slice_of("gpu-0"), slice_of("gpu-0")])
    assert server.requests() == []


def test_missing_node_is_a_clear_error(server) -> None:
    publisher = SlicePublisher(server.api_client(), DRIVER, "no-such-node")
    with pytest.raises(PublishError, match="read node no-such-node: not found"):
        publisher.publish([slice_of("gpu-0", node="no-such-node")])


def test_dropped_fields_are_reported_with_the_feature_gate(server, publisher) -> None:
    server.disabled_features = {"DRADeviceTaints"}
    desired = slice_of("gpu-0")
    desired["spec"]["devices"][0]["taints"] = [{"key": "gpu.nvidia.com/unhealthy", "effect": "NoSchedule"}]
    with pytest.raises(PublishError, match="DRADeviceTaints"):
        publisher.publish([desired])


def test_dra_api_models_are_accepted(server, publisher) -> None:
    api = pytest.importorskip("dra.api")
    model_class = getattr(api, "ResourceSlice", None)
    if model_class is None:
        pytest.skip("dra.api.ResourceSlice not available yet")
    desired = [model_class.from_dict(slice_of("gpu-0", "gpu-1"))]
    publisher.publish(desired)
    assert_pool_is(server, [slice_of("gpu-0", "gpu-1")])
    assert publisher.publish(desired).writes == 0


def test_long_node_names_get_truncated_generated_names(server) -> None:
    node = "n" * 60 + ".example.com"
    server.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
    publisher = SlicePublisher(server.api_client(), DRIVER, node)
    desired = slice_of("gpu-0", node=node)
    publisher.publish([desired])
    stored = [s for s in server.objects("ResourceSlice") if s["spec"]["nodeName"] == node]
    assert len(stored) == 1 and len(stored[0]["metadata"]["name"]) == 63
    assert publisher.publish([desired]).writes == 0


def test_quantities_compare_by_value_not_spelling(server, publisher) -> None:
    publisher.publish([slice_of("gpu-0", memory="81920Mi")])
    assert my_slices(server)[0]["spec"]["devices"][0]["capacity"]["memory"]["value"] == "80Gi"  # canonical
    assert publisher.publish([slice_of("gpu-0", memory="81920Mi")]).writes == 0
    assert publisher.publish([slice_of("gpu-0", memory="80Gi")]).writes == 0
