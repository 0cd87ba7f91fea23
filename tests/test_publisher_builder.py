"""The slice builder's real output published through the stand-in API server.

Every mode's slices must pass the server's schema checks, republishing must write nothing,
and switching modes (a different split of the pool) must go through without a wrong pool,
also with faults injected along the way.
"""

from __future__ import annotations

import random

import pytest

from dra.api import DeviceTaint
from dra.gpu.builtin import load_profile
from dra.slices import DRIVER_NAME, build_slices
from dra.slices.publisher import SlicePublisher
from dra.slices.publisher_backoff import Backoff
from dra.testing.apiserver import FakeApiServer
from dra.testing.apiserver_pools import devices_of, pool_view

NODE = "node-a"


@pytest.fixture()
def server():
    with FakeApiServer() as fake:
        fake.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
        yield fake


def publisher_for(server: FakeApiServer) -> SlicePublisher:
    return SlicePublisher(server.api_client(), DRIVER_NAME, NODE,
                          backoff=Backoff(rng=random.Random(5), sleep=lambda s: None, max_attempts=10))


def assert_holds(server: FakeApiServer, slices: list) -> None:
    desired = [s.to_dict() for s in slices]
    stored = server.objects("ResourceSlice")
    view = pool_view(stored, DRIVER_NAME, NODE)
    assert view.complete and view.devices == devices_of(desired)
    assert len(stored) == len(desired)
    counters = sorted(c["name"] for s in stored for c in s["spec"].get("sharedCounters") or [])
    assert counters == sorted(c["name"] for s in desired for c in s["spec"].get("sharedCounters") or [])


@pytest.mark.parametrize("profile, mode", [
    ("dgx-h100", "whole"), ("dgx-h100-mig", "static-mig"), ("dgx-h100", "dynamic-mig"),
    ("dgx-h100", "shared"), ("gb200-nvl72", "whole"),
])
def test_every_mode_publishes_and_republishes_without_writes(server, profile, mode) -> None:
    slices = build_slices(load_profile(profile, NODE), mode=mode)
    publisher = publisher_for(server)
    result = publisher.publish(slices)
    assert result.created == len(slices) and result.retries == []
    assert_holds(server, slices)
    assert publisher.publish(build_slices(load_profile(profile, NODE), mode=mode)).writes == 0


def test_taints_survive_republishing(server) -> None:
    inventory = load_profile("dgx-h100", NODE)
    taint = DeviceTaint.from_dict({"key": "gpu.nvidia.com/xid", "value": "79", "effect": "NoSchedule"})
    slices = build_slices(inventory, taints={"gpu-3": [taint]})
    publisher = publisher_for(server)
    publisher.publish(slices)
    stored = server.objects("ResourceSlice")[0]
    tainted = next(d for d in stored["spec"]["devices"] if d["name"] == "gpu-3")
    assert tainted["taints"][0]["timeAdded"].endswith("Z")
    assert publisher.publish(build_slices(inventory, taints={"gpu-3": [taint]})).writes == 0


def test_mode_switches_under_faults_end_in_the_desired_pool(server) -> None:
    inventory = load_profile("dgx-h100", NODE)
    publisher = publisher_for(server)
    seen_wrong: list[str] = []
    allowed: list[dict] = []

    def watch(fake: FakeApiServer, info) -> None:
        if info.method == "GET":
            return  # reads change nothing: checking before every write sees every state
        view = pool_view(fake.objects("ResourceSlice"), DRIVER_NAME, NODE)
        if view.complete and view.devices not in allowed:
            seen_wrong.append(f"generation {view.generation}")

    server.on_request(watch)
    for round_, mode in enumerate(["whole", "dynamic-mig", "shared", "dynamic-mig", "whole"]):
        slices = build_slices(inventory, mode=mode)
        allowed.append(devices_of([s.to_dict() for s in slices]))
        server.faults.clear()
        server.inject(method="POST", status=500, skip=round_ % 3)
        server.inject(method="PUT", status=409, skip=1)
        server.inject(method="DELETE", reset=True, apply=True)
        publisher.publish(slices)
        allowed[:] = allowed[-1:]
        assert_holds(server, slices)
        watch(server, type("Final", (), {"method": "final"})())
    assert seen_wrong == []
