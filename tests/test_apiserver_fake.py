"""The stand-in API server, driven by the official kubernetes client (and raw HTTP where the
client's own model validation would stop a malformed body before it is sent)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import kubernetes.client as k8s
import pytest
import urllib3

from dra.testing.apiserver import FakeApiServer

DRIVER = "gpu.nvidia.com"


@pytest.fixture()
def server():
    with FakeApiServer() as fake:
        yield fake


@pytest.fixture()
def resource(server) -> k8s.ResourceV1Api:
    return k8s.ResourceV1Api(server.api_client())


def slice_body(name: str | None = None, node: str = "node-a", driver: str = DRIVER, devices=("gpu-0",)) -> dict:
    meta = {"name": name} if name else {"generateName": f"{node}-{driver}-"}
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": meta,
            "spec": {"driver": driver, "nodeName": node, "pool": {"name": node, "generation": 1,
                                                                  "resourceSliceCount": 1},
                     "devices": [{"name": d} for d in devices]}}


def create_slice(api: k8s.ResourceV1Api, **kwargs) -> k8s.V1ResourceSlice:
    return api.create_resource_slice(k8s.V1ResourceSlice.from_dict(slice_body(**kwargs)))


def raw(server: FakeApiServer, method: str, path: str, body: dict | None = None) -> tuple[int, dict, dict]:
    request = urllib.request.Request(server.url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def status_of(error: k8s.ApiException) -> dict:
    return json.loads(error.body)


def test_create_with_generate_name_sets_server_metadata(resource) -> None:
    first = create_slice(resource)
    second = create_slice(resource)
    assert first.metadata.name.startswith("node-a-gpu.nvidia.com-") and len(first.metadata.name) == 27
    assert first.metadata.name != second.metadata.name
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    assert first.metadata.uid != second.metadata.uid and first.metadata.generation == 1
    assert first.metadata.creation_timestamp is not None


def test_update_bumps_generation_only_for_spec_changes(resource) -> None:
    created = create_slice(resource, name="s1")
    created.metadata.labels = {"a": "b"}
    relabelled = resource.replace_resource_slice("s1", created)
    assert relabelled.metadata.generation == 1
    relabelled.spec.pool.generation = 2
    updated = resource.replace_resource_slice("s1", relabelled)
    assert updated.metadata.generation == 2
    assert updated.metadata.uid == created.metadata.uid
    assert int(updated.metadata.resource_version) > int(relabelled.metadata.resource_version)


def test_stale_resource_version_conflicts(resource) -> None:
    created = create_slice(resource, name="s1")
    resource.replace_resource_slice("s1", created)
    with pytest.raises(k8s.ApiException) as caught:
        resource.replace_resource_slice("s1", created)
    body = status_of(caught.value)
    assert caught.value.status == 409 and body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]
    assert body["details"] == {"name": "s1", "group": "resource.k8s.io", "kind": "resourceslices"}


def test_update_without_resource_version_is_invalid(server) -> None:
    raw(server, "POST", "/apis/resource.k8s.io/v1/resourceslices", slice_body("s1"))
    code, _, body = raw(server, "PUT", "/apis/resource.k8s.io/v1/resourceslices/s1", slice_body("s1"))
    assert code == 422 and body["details"]["causes"][0]["field"] == "metadata.resourceVersion"


def test_not_found_and_already_exists_are_status_objects(resource) -> None:
    with pytest.raises(k8s.ApiException) as caught:
        resource.read_resource_slice("missing")
    assert caught.value.status == 404
    assert status_of(caught.value)["message"] == 'resourceslices.resource.k8s.io "missing" not found'
    create_slice(resource, name="s1")
    with pytest.raises(k8s.ApiException) as caught:
        create_slice(resource, name="s1")
    assert caught.value.status == 409 and status_of(caught.value)["reason"] == "AlreadyExists"


def test_delete_preconditions(resource) -> None:
    created = create_slice(resource, name="s1")
    wrong = k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(uid="other"))
    with pytest.raises(k8s.ApiException) as caught:
        resource.delete_resource_slice("s1", body=wrong)
    assert caught.value.status == 409 and "Precondition failed: UID" in status_of(caught.value)["message"]
    right = k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(
        uid=created.metadata.uid, resource_version=created.metadata.resource_version))
    resource.delete_resource_slice("s1", body=right)
    assert resource.list_resource_slice().items == []


def test_field_and_label_selectors(server, resource) -> None:
    create_slice(resource, name="a1", node="node-a")
    create_slice(resource, name="b1", node="node-b")
    create_slice(resource, name="a2", node="node-a", driver="other.example.com")
    server.put_object({**server.get_object("ResourceSlice", "b1"),
                       "metadata": {"name": "b1", "labels": {"tier": "gold"}}})
    names = lambda result: sorted(i.metadata.name for i in result.items)  # noqa: E731
    assert names(resource.list_resource_slice(field_selector=f"spec.driver={DRIVER},spec.nodeName=node-a")) == ["a1"]
    assert names(resource.list_resource_slice(field_selector="spec.nodeName!=node-a")) == ["b1"]
    assert names(resource.list_resource_slice(label_selector="tier in (gold,silver)")) == ["b1"]
    assert names(resource.list_resource_slice(label_selector="!tier")) == ["a1", "a2"]
    with pytest.raises(k8s.ApiException) as caught:
        resource.list_resource_slice(field_selector="spec.pool.name=node-a")
    assert caught.value.status == 400


def test_schema_violations_are_422_with_field_causes(server) -> None:
    body = slice_body("s1")
    body["spec"]["pool"]["generation"] = "one"
    del body["spec"]["pool"]["resourceSliceCount"]
    code, _, status = raw(server, "POST", "/apis/resource.k8s.io/v1/resourceslices", body)
    assert code == 422 and status["reason"] == "Invalid"
    fields = {c["field"]: c["reason"] for c in status["details"]["causes"]}
    assert fields == {"spec.pool.generation": "FieldValueInvalid",
                      "spec.pool.resourceSliceCount": "FieldValueRequired"}
    assert status["message"].startswith('ResourceSlice "s1" is invalid: [')


def test_semantic_rules_of_resource_slices(server) -> None:
    body = slice_body("s1", devices=("gpu-0", "gpu-0"))
    body["spec"]["allNodes"] = True
    code, _, status = raw(server, "POST", "/apis/resource.k8s.io/v1/resourceslices", body)
    assert code == 422
    messages = [f"{c['field']}: {c['message']}" for c in status["details"]["causes"]]
    assert any(m.startswith("spec: Invalid value") and "exactly one of" in m for m in messages)
    assert 'spec.devices[1].name: Duplicate value: "gpu-0"' in messages


def test_immutable_fields_on_update(server, resource) -> None:
    created = create_slice(resource, name="s1")
    created.spec.node_name = "node-z"
    created.spec.pool.name = "node-z"
    with pytest.raises(k8s.ApiException) as caught:
        resource.replace_resource_slice("s1", created)
    fields = {c["field"] for c in status_of(caught.value)["details"]["causes"]}
    assert fields == {"spec.nodeName", "spec.pool.name"}


def test_unknown_fields_are_dropped_with_a_warning_or_rejected_when_strict(server) -> None:
    body = slice_body("s1")
    body["spec"]["devices"][0]["colour"] = "green"
    code, headers, stored = raw(server, "POST", "/apis/resource.k8s.io/v1/resourceslices", body)
    assert code == 201 and "colour" not in stored["spec"]["devices"][0]
    assert 'unknown field \\"spec.devices[0].colour\\"' in headers["Warning"]
    body["metadata"]["name"] = "s2"
    code, _, status = raw(server, "POST", "/apis/resource.k8s.io/v1/resourceslices?fieldValidation=Strict", body)
    assert code == 400 and 'unknown field "spec.devices[0].colour"' in status["message"]


def test_fields_of_newer_minors_are_kept_there_and_dropped_before() -> None:
    # Device.nodeAllocatableResources is 1.37's (the real 1.37 server accepts it: tests/real);
    # a 1.35 server drops it as an unknown field, as the real one would
    body = slice_body("s1")
    body["spec"]["devices"][0]["nodeAllocatableResources"] = {"memory": {"overhead": {"perPod": "1Gi"}}}
    for version, kept in (("1.35", False), ("1.36", False), ("1.37", True)):
        with FakeApiServer(k8s_version=version) as fake:
            code, headers, stored = raw(fake, "POST", "/apis/resource.k8s.io/v1/resourceslices", body)
            assert code == 201, (version, stored)
            assert ("nodeAllocatableResources" in stored["spec"]["devices"][0]) is kept, version
            assert ("Warning" in headers) is not kept, version


def test_the_default_minor_is_the_projects_default() -> None:
    from dra.versions import DEFAULT_VERSION as PROJECT_DEFAULT

    with FakeApiServer() as fake:
        _, _, body = raw(fake, "GET", "/version")
        assert f"1.{body['minor']}" == PROJECT_DEFAULT


def test_schema_versions() -> None:
    with FakeApiServer(k8s_version="1.34") as old:
        code, _, body = raw(old, "GET", "/version")
        assert body["minor"] == "34"
    with pytest.raises(ValueError, match="k8s_version"):
        FakeApiServer(k8s_version="1.33")


def test_claims_nodes_and_device_classes(server) -> None:
    client = server.api_client()
    resource, core = k8s.ResourceV1Api(client), k8s.CoreV1Api(client)
    core.create_node(k8s.V1Node(metadata=k8s.V1ObjectMeta(name="node-a", labels={"zone": "z1"})))
    assert core.read_node("node-a").metadata.labels == {"zone": "z1"}
    assert [n.metadata.name for n in core.list_node(label_selector="zone=z1").items] == ["node-a"]
    resource.create_device_class(k8s.V1DeviceClass.from_dict({
        "metadata": {"name": "gpu.nvidia.com"},
        "spec": {"selectors": [{"cel": {"expression": "device.driver == 'gpu.nvidia.com'"}}]}}))
    assert [c.metadata.name for c in resource.list_device_class().items] == ["gpu.nvidia.com"]
    claim = {"metadata": {"name": "c1", "finalizers": ["resource.kubernetes.io/delete-protection"]},
             "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu.nvidia.com"}}]}},
             "status": {"reservedFor": [{"resource": "pods", "name": "p", "uid": "1"}]}}
    created = resource.create_namespaced_resource_claim("ns1", k8s.ResourceV1ResourceClaim.from_dict(claim))
    assert created.status is None  # status is only written through /status
    created.status = k8s.V1ResourceClaimStatus(allocation=k8s.V1AllocationResult(devices=k8s.V1DeviceAllocationResult(
        results=[k8s.V1DeviceRequestAllocationResult(request="gpu", driver=DRIVER, pool="node-a", device="gpu-0")])))
    with_status = resource.replace_namespaced_resource_claim_status("c1", "ns1", created)
    assert with_status.status.allocation.devices.results[0].device == "gpu-0"
    assert with_status.metadata.generation == 1
    # Finalizers: delete only marks; removing the finalizer completes the delete.
    marked = resource.delete_namespaced_resource_claim("c1", "ns1")
    assert marked.metadata.deletion_timestamp is not None
    marked.metadata.finalizers = []
    resource.replace_namespaced_resource_claim("c1", "ns1", marked)
    assert server.get_object("ResourceClaim", "c1", "ns1") is None


def test_patch_and_delete_collection(resource) -> None:
    create_slice(resource, name="s1")
    create_slice(resource, name="s2", node="node-b")
    patched = resource.patch_resource_slice("s1", {"metadata": {"labels": {"x": "y"}}})
    assert patched.metadata.labels == {"x": "y"}
    patched = resource.patch_resource_slice("s1", [{"op": "replace", "path": "/spec/pool/generation", "value": 5}])
    assert patched.spec.pool.generation == 5 and patched.metadata.generation == 2
    resource.delete_collection_resource_slice(field_selector="spec.nodeName=node-a")
    assert [s.metadata.name for s in resource.list_resource_slice().items] == ["s2"]


def test_watch_is_refused_plainly(server) -> None:
    code, _, body = raw(server, "GET", "/apis/resource.k8s.io/v1/resourceslices?watch=true")
    assert code == 400 and "watch is not supported" in body["message"]


# --- faults ---------------------------------------------------------------------------------------

def test_injected_statuses_skip_and_times(server, resource) -> None:
    server.inject(method="GET", path="resourceslices", status=500, skip=1, times=2)
    resource.list_resource_slice()
    for _ in range(2):
        with pytest.raises(k8s.ApiException) as caught:
            resource.list_resource_slice()
        assert caught.value.status == 500 and status_of(caught.value)["reason"] == "InternalError"
    resource.list_resource_slice()
    assert [r.status for r in server.requests()] == [200, 500, 500, 200]
    assert [r.fault for r in server.requests()] == [None, "status 500", "status 500", None]


def test_throttling_carries_retry_after(server, resource) -> None:
    server.inject(status=429, retry_after=3)
    with pytest.raises(k8s.ApiException) as caught:
        resource.list_resource_slice()
    assert caught.value.status == 429 and caught.value.headers["Retry-After"] == "3"
    assert status_of(caught.value)["details"]["retryAfterSeconds"] == 3


def test_reset_timeout_and_lost_response(server, resource) -> None:
    server.inject(method="GET", reset=True)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        resource.list_resource_slice()
    server.inject(method="GET", delay=1.0, drop=True)
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        resource.list_resource_slice(_request_timeout=0.1)
    assert time.monotonic() - started < 0.9
    server.inject(method="POST", reset=True, apply=True)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        create_slice(resource, name="s1")
    assert server.get_object("ResourceSlice", "s1") is not None  # performed, answer lost


def test_hooks_see_the_request_before_it_is_handled(server, resource) -> None:
    seen = []
    server.inject(method="GET", hook=lambda fake, info: seen.append((info.method, info.path, info.query)))
    resource.list_resource_slice(field_selector="spec.nodeName=n")
    assert seen == [("GET", "/apis/resource.k8s.io/v1/resourceslices", {"fieldSelector": "spec.nodeName=n"})]


def test_one_hundred_concurrent_claim_reads(server) -> None:
    server.put_object({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
                       "metadata": {"name": "c1", "namespace": "ns1"},
                       "spec": {"devices": {"requests": []}}})
    client = server.api_client()
    api = k8s.ResourceV1Api(client)
    with ThreadPoolExecutor(max_workers=100) as pool:
        names = list(pool.map(lambda _: api.read_namespaced_resource_claim("c1", "ns1").metadata.name,
                              range(100)))
    assert names == ["c1"] * 100
    assert len(server.requests(method="GET")) == 100


def test_put_get_objects_helpers(server) -> None:
    stored = server.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    assert stored["metadata"]["uid"] and stored["metadata"]["resourceVersion"]
    again = server.put_object({**stored, "metadata": {**stored["metadata"], "labels": {"a": "b"}}})
    assert again["metadata"]["uid"] == stored["metadata"]["uid"]
    assert int(again["metadata"]["resourceVersion"]) > int(stored["metadata"]["resourceVersion"])
    assert [n["metadata"]["name"] for n in server.objects("Node")] == ["n1"]
    assert server.get_object("Node", "absent") is None
    with pytest.raises(ValueError, match="does not serve kind"):
        server.objects("Secret")


def test_a_slow_request_is_still_performed_after_the_client_gave_up(server, resource) -> None:
    server.inject(method="POST", delay=1.0)  # no drop: the handler performs it late
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        resource.create_resource_slice(k8s.V1ResourceSlice.from_dict(slice_body("late")), _request_timeout=0.1)
    assert server.get_object("ResourceSlice", "late") is None
    assert server.wait_idle(5)
    assert server.get_object("ResourceSlice", "late") is not None


def test_server_side_apply_is_refused(server, resource) -> None:
    create_slice(resource, name="s1")
    request = urllib.request.Request(server.url + "/apis/resource.k8s.io/v1/resourceslices/s1", method="PATCH",
                                     data=b"{}", headers={"Content-Type": "application/apply-patch+yaml"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 415


def test_quantities_are_stored_canonical_and_malformed_ones_refused(server) -> None:
    body = slice_body("s1")
    body["spec"]["devices"][0]["capacity"] = {"memory": {"value": "1024Mi"}}
    code, _, stored = raw(server, "POST", "/apis/resource.k8s.io/v1/resourceslices", body)
    assert code == 201 and stored["spec"]["devices"][0]["capacity"]["memory"]["value"] == "1Gi"
    body["metadata"]["name"] = "s2"
    body["spec"]["devices"][0]["capacity"] = {"memory": {"value": "lots"}}
    code, _, status = raw(server, "POST", "/apis/resource.k8s.io/v1/resourceslices", body)
    assert code == 400 and "quantities must match the regular expression" in status["message"]
