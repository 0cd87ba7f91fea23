"""SlicePublisher under injected faults: retries, backoff, and never a complete-but-wrong pool.

An observer on the stand-in server looks at the stored slices before every request, i.e. at
every state a consumer could have seen between two of the publisher's writes, and records a
violation whenever the pool reads as complete but is neither the old nor the new pool.
"""

from __future__ import annotations

import random
import re
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dra.slices.publisher import PublishError, SlicePublisher
from dra.slices.publisher_backoff import Backoff
from dra.testing.apiserver import FakeApiServer
from dra.testing.apiserver_faults import Fault
from dra.testing.apiserver_pools import devices_of, pool_view

DRIVER = "gpu.nvidia.com"
NODE = "node-a"
SLICES = "/apis/resource.k8s.io/v1/resourceslices"


def device(name: str, memory: str = "80Gi") -> dict:
    return {"name": name, "attributes": {"type": {"string": "gpu"}}, "capacity": {"memory": {"value": memory}}}


def slice_of(*names: str, memory: str = "80Gi") -> dict:
    return {"spec": {"driver": DRIVER, "nodeName": NODE, "pool": {"name": NODE, "generation": 1,
                                                                  "resourceSliceCount": 1},
                     "devices": [device(n, memory) for n in names]}}


class PoolWatcher:
    """Checks every observable state against the pools a consumer may legitimately see."""

    def __init__(self, server: FakeApiServer) -> None:
        self.allowed: list[dict] = []
        self.violations: list[str] = []
        self.states_seen = 0
        self._lock = threading.Lock()
        server.on_request(self._observe)
        self._server = server

    def _observe(self, server: FakeApiServer, info) -> None:
        if info.method != "GET":  # state only changes through writes; callers check the end state
            self.check()

    def check(self) -> None:
        with self._lock:
            self.states_seen += 1
            view = pool_view(self._server.objects("ResourceSlice"), DRIVER, NODE)
            if view.complete and view.devices not in self.allowed:
                self.violations.append(f"complete but wrong pool at generation {view.generation}: "
                                       f"{sorted(view.devices)}")


@pytest.fixture()
def server():
    with FakeApiServer() as fake:
        fake.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
        yield fake


def make_publisher(server: FakeApiServer, sleeps: list[float] | None = None, *, attempts: int = 8,
                   timeout: float = 2.0, seed: int = 3) -> SlicePublisher:
    backoff = Backoff(base=0.1, cap=2.0, max_attempts=attempts, rng=random.Random(seed),
                      sleep=(sleeps.append if sleeps is not None else (lambda s: None)))
    return SlicePublisher(server.api_client(), DRIVER, NODE, backoff=backoff, request_timeout=timeout)


def stored_pool(server: FakeApiServer) -> list[dict]:
    return [s for s in server.objects("ResourceSlice") if s["spec"]["nodeName"] == NODE]


def assert_exactly(server: FakeApiServer, desired: list[dict]) -> None:
    stored = stored_pool(server)
    view = pool_view(stored, DRIVER, NODE)
    assert view.complete and view.devices == devices_of(desired)
    assert len(stored) == len(desired)
    assert len({s["spec"]["pool"]["generation"] for s in stored}) == 1


def test_conflict_from_another_writer_is_retried_after_a_fresh_list(server) -> None:
    publisher = make_publisher(server)
    publisher.publish([slice_of("gpu-0"), slice_of("gpu-1")])

    def other_writer(fake: FakeApiServer, info) -> None:
        # Another client rewrites the slice just before our PUT lands: a real 409.
        name = info.path.rsplit("/", 1)[-1]
        obj = fake.get_object("ResourceSlice", name)
        obj["metadata"].setdefault("labels", {})["touched"] = "yes"
        fake.put_object(obj)

    server.inject(method="PUT", hook=other_writer, times=1)
    desired = [slice_of("gpu-0"), slice_of("gpu-1", memory="40Gi")]
    result = publisher.publish(desired)
    assert result.attempts == 2
    assert result.retries[0].startswith("409 Conflict")
    assert [r.status for r in server.requests(method="PUT")] == [409, 200]
    assert_exactly(server, desired)
    # The other writer's label is not ours to keep: the slice is exactly what we publish.
    assert all("labels" not in s["metadata"] for s in stored_pool(server))


@pytest.mark.parametrize("status", [500, 503, 429, 409, 504])
def test_error_statuses_are_retried_with_backoff(server, status) -> None:
    sleeps: list[float] = []
    publisher = make_publisher(server, sleeps)
    server.inject(method="POST", status=status, times=2)
    desired = [slice_of("gpu-0"), slice_of("gpu-1")]
    result = publisher.publish(desired)
    assert result.attempts == 3 and len(sleeps) == 2
    assert all(str(status) in reason for reason in result.retries)
    assert_exactly(server, desired)


def test_retry_after_is_honoured(server) -> None:
    sleeps: list[float] = []
    publisher = make_publisher(server, sleeps)
    server.inject(method="GET", path=SLICES, status=429, retry_after=7)
    publisher.publish([slice_of("gpu-0")])
    assert sleeps and sleeps[0] >= 7


def test_backoff_grows_exponentially_with_full_jitter() -> None:
    backoff = Backoff(base=1.0, cap=8.0, rng=random.Random(1))
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        draws = [backoff.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws)
        assert max(draws) > 0.8 * ceiling and min(draws) < 0.2 * ceiling  # spread over [0, ceiling]
    assert Backoff(base=1.0, rng=random.Random(1)).delay(1, retry_after=5) >= 5


def test_timeouts_and_resets_are_retried(server) -> None:
    publisher = make_publisher(server, timeout=1.0)
    publisher.publish([slice_of("gpu-0")])
    server.inject(method="POST", delay=1.3, drop=True)  # the client times out
    server.inject(method="PUT", reset=True)
    server.inject(method="GET", path=SLICES, reset=True)
    desired = [slice_of("gpu-0"), slice_of("gpu-1")]
    result = publisher.publish(desired)
    assert result.attempts == 4
    assert [r.split(":")[0] for r in result.retries] == ["ProtocolError", "ProtocolError", "ReadTimeoutError"]
    assert_exactly(server, desired)
    assert server.faults.pending() == 0


def test_lost_create_response_does_not_duplicate_the_slice(server) -> None:
    publisher = make_publisher(server)
    # The server stores the slice and then the connection drops before the answer.
    server.inject(method="POST", reset=True, apply=True)
    desired = [slice_of("gpu-0"), slice_of("gpu-1")]
    result = publisher.publish(desired)
    assert result.attempts == 2
    assert_exactly(server, desired)
    assert len(server.requests(method="POST", path=SLICES)) == 2  # one lost, one for the other slice


def test_attempts_are_bounded_with_a_clear_error(server) -> None:
    sleeps: list[float] = []
    publisher = make_publisher(server, sleeps, attempts=4)
    server.inject(method="POST", status=503, times=None)
    with pytest.raises(PublishError, match=r"failed after 4 attempts; last error: 503 ServiceUnavailable"):
        publisher.publish([slice_of("gpu-0")])
    assert len(sleeps) == 3


OLD = [slice_of("gpu-0", "gpu-1"), slice_of("gpu-2"), slice_of("gpu-3")]
TRANSITIONS = {
    # name: (new desired slices, requests a fault-free publish makes: one list + writes)
    "re-split": ([slice_of("gpu-0", memory="40Gi"), slice_of("gpu-1", "gpu-2", memory="40Gi"),
                  slice_of("gpu-4")], 4),
    "all-changed-in-place": ([slice_of("gpu-0", "gpu-1", memory="40Gi"), slice_of("gpu-2", memory="40Gi"),
                              slice_of("gpu-3", memory="40Gi")], 4),
    "shrink": ([slice_of("gpu-0", "gpu-1", memory="40Gi")], 4),
    "grow": ([*OLD, slice_of("gpu-4"), slice_of("gpu-5")], 6),
}


@pytest.mark.parametrize("transition", sorted(TRANSITIONS))
@pytest.mark.parametrize("fail_at", range(0, 6))
def test_a_fault_mid_publish_never_shows_a_wrong_complete_pool(server, transition, fail_at) -> None:
    watcher = PoolWatcher(server)
    publisher = make_publisher(server, attempts=1)
    watcher.allowed = [devices_of(OLD)]
    publisher.publish(OLD)
    new, requests = TRANSITIONS[transition]
    watcher.allowed.append(devices_of(new))
    # Let ``fail_at`` requests (the list, then writes) through, then fail every further one.
    server.inject(path=SLICES, skip=fail_at, times=None, status=500)
    try:
        publisher.publish(new)
        completed = True
    except PublishError:
        completed = False
    watcher.check()
    assert watcher.violations == []
    assert completed == (fail_at >= requests)
    server.faults.clear()
    make_publisher(server).publish(new)
    watcher.check()
    assert watcher.violations == []
    assert_exactly(server, new)


# --- property: random faults, random changes; eventually exactly the desired pool ------------------

_DEVICES = [f"gpu-{i}" for i in range(5)]

faults = st.builds(
    dict,
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    kind=st.sampled_from(["500", "503", "429", "409", "reset", "lost", "timeout", "writer"]),
    skip=st.integers(0, 4),
    times=st.integers(1, 2),
)


@st.composite
def layouts(draw: st.DrawFn) -> list[list[str]]:
    chosen = draw(st.lists(st.sampled_from(_DEVICES), unique=True, min_size=0, max_size=5))
    groups: list[list[str]] = [[] for _ in range(draw(st.integers(1, 3)))]
    for name in chosen:
        groups[draw(st.integers(0, len(groups) - 1))].append(name)
    return groups


@st.composite
def desired_sequences(draw: st.DrawFn, size: int) -> list[list[dict]]:
    """Desired states in order; a step often keeps the previous split and changes the content."""
    found: list[list[dict]] = []
    groups = draw(layouts())
    for _ in range(size):
        if found and draw(st.booleans()):
            pass  # same split as before: only the memory may change (updates in place)
        else:
            groups = draw(layouts())
        memory = draw(st.sampled_from(["80Gi", "40Gi", "20Gi"]))
        found.append([slice_of(*g, memory=memory) for g in groups])
    return found


def _install(server: FakeApiServer, spec: dict) -> None:
    path = SLICES + ("/" if spec["method"] in ("PUT", "DELETE") else "")
    kind = spec["kind"]
    base = dict(method=spec["method"], path=re.escape(path), skip=spec["skip"], times=spec["times"])
    if kind.isdigit():
        server.faults.add(Fault(**base, status=int(kind), retry_after=1 if kind == "429" else None))
    elif kind == "reset":
        server.faults.add(Fault(**base, reset=True))
    elif kind == "lost":
        server.faults.add(Fault(**base, reset=True, apply=True))
    elif kind == "timeout":
        server.faults.add(Fault(**base, delay=0.25, drop=True))
    else:
        def writer(fake: FakeApiServer, info) -> None:
            name = info.path.rsplit("/", 1)[-1]
            obj = fake.get_object("ResourceSlice", name) if name != "resourceslices" else None
            if obj is not None:
                fake.put_object(obj)  # same content, new resourceVersion: our write conflicts
        server.faults.add(Fault(**base, hook=writer))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data(), size=st.integers(1, 3))
def test_random_faults_never_leave_a_wrong_pool(data, size) -> None:
    states = data.draw(desired_sequences(size + 1))
    steps = [(desired, data.draw(st.lists(faults, max_size=3))) for desired in states[:-1]]
    final = states[-1]
    with FakeApiServer() as server:
        server.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
        other = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": {"name": "other-node"},
                 "spec": {"driver": DRIVER, "nodeName": "node-b",
                          "pool": {"name": "node-b", "generation": 1, "resourceSliceCount": 1},
                          "devices": [device("gpu-0")]}}
        untouched = server.put_object(other)
        watcher = PoolWatcher(server)
        publisher = make_publisher(server, attempts=3, timeout=0.15)
        for desired, schedule in steps:
            watcher.allowed.append(devices_of(desired))
            for spec in schedule:
                _install(server, spec)
            try:
                publisher.publish(desired)
                succeeded = True
            except PublishError:
                succeeded = False
            assert server.wait_idle()  # a request the client gave up on may still land
            watcher.check()
            if succeeded:
                watcher.allowed = [devices_of(desired)]  # older pools must never reappear
            server.faults.clear()
        watcher.allowed.append(devices_of(final))
        make_publisher(server).publish(final)
        assert server.wait_idle()
        watcher.check()
        assert watcher.violations == []
        assert_exactly(server, final)
        assert server.get_object("ResourceSlice", "other-node") == untouched


def test_metrics_count_writes_retries_and_generation(server) -> None:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    publisher = SlicePublisher(server.api_client(), DRIVER, NODE, metrics_registry=registry,
                               backoff=Backoff(sleep=lambda s: None), request_timeout=1.0)
    server.inject(method="POST", status=409)
    server.inject(method="GET", path=SLICES, delay=1.3, drop=True)
    publisher.publish([slice_of("gpu-0"), slice_of("gpu-1")])
    sample = registry.get_sample_value
    assert sample("dra_gpu_slice_writes_total", {"driver": DRIVER, "operation": "create"}) == 2
    assert sample("dra_gpu_slice_publish_retries_total", {"driver": DRIVER, "cause": "conflict"}) == 1
    assert sample("dra_gpu_slice_publish_retries_total", {"driver": DRIVER, "cause": "timeout"}) == 1
    assert sample("dra_gpu_slice_pool_generation", {"driver": DRIVER, "pool": NODE}) == 1
    publisher.remove_all()
    assert sample("dra_gpu_slice_pool_generation", {"driver": DRIVER, "pool": NODE}) is None


def test_unserved_api_and_forbidden_are_not_retried(server) -> None:
    sleeps: list[float] = []
    publisher = make_publisher(server, sleeps)
    server.inject(method="GET", path=SLICES, status=404, message="the server could not find the requested resource")
    with pytest.raises(PublishError, match=r"does not serve resource\.k8s\.io/v1 resourceslices"):
        publisher.publish([slice_of("gpu-0")])
    server.inject(method="POST", status=403, message='resourceslices.resource.k8s.io is forbidden: User "x"')
    with pytest.raises(PublishError, match="403 Forbidden: .*forbidden"):
        publisher.publish([slice_of("gpu-0")])
    assert sleeps == []
