"""Slice publisher: API writes, time and pool availability over a node's life, vs replace-all.

A DGX H100 node (built-in profile) goes through a typical sequence: first publish, a no-op
resync, a GPU tainted by a health event and cleared again, a switch to dynamic MIG, a taint
there, a switch to shared mode and back to whole GPUs. Each desired state is published with
:class:`SlicePublisher` to the stand-in API server (real kubernetes client, real HTTP).

Baseline, same run, same server and client: a "replace-all" publisher that lists the node's
slices, deletes them all and creates the desired ones (what a driver without reconciliation
does). Besides writes and wall time, an observer counts the states, between two writes, in
which a consumer could not use the pool (absent or incomplete), and the states in which it
would read a complete but wrong pool (must be 0 for both).

Run: ``python -m benchmarks bench_publisher``.
"""

from __future__ import annotations

import platform
import random
import statistics
import time
from typing import Any, Callable

import kubernetes.client as k8s

from dra.api import DeviceTaint
from dra.gpu.builtin import load_profile
from dra.slices import DRIVER_NAME, build_slices
from dra.slices.publisher import SlicePublisher
from dra.slices.publisher_backoff import Backoff
from dra.testing.apiserver import FakeApiServer
from dra.testing.apiserver_pools import devices_of, pool_view

NODE = "node-a"
PROFILE = "dgx-h100"
REPEATS = 3


def scenario() -> list[tuple[str, list[Any]]]:
    inventory = load_profile(PROFILE, NODE)
    xid = DeviceTaint.from_dict({"key": "gpu.nvidia.com/xid", "value": "79", "effect": "NoSchedule"})
    steps = [
        ("first publish (whole)", build_slices(inventory, mode="whole")),
        ("resync, no change", build_slices(inventory, mode="whole")),
        ("gpu-3 tainted", build_slices(inventory, mode="whole", taints={"gpu-3": [xid]})),
        ("taint cleared", build_slices(inventory, mode="whole")),
        ("switch to dynamic MIG", build_slices(inventory, mode="dynamic-mig")),
        ("resync, no change", build_slices(inventory, mode="dynamic-mig")),
        ("gpu-5 tainted (MIG)", build_slices(inventory, mode="dynamic-mig", taints={"gpu-5": [xid]})),
        ("switch to shared", build_slices(inventory, mode="shared")),
        ("back to whole", build_slices(inventory, mode="whole")),
    ]
    return steps


def replace_all(api_client: Any) -> Callable[[list[Any]], None]:
    """The baseline: delete every slice of the node, then create the desired ones."""
    api = k8s.ResourceV1Api(api_client)
    uid = k8s.CoreV1Api(api_client).read_node(NODE).metadata.uid
    owner = {"apiVersion": "v1", "kind": "Node", "name": NODE, "uid": uid, "controller": True}

    def publish(slices: list[Any]) -> None:
        existing = api.list_resource_slice(field_selector=f"spec.driver={DRIVER_NAME},spec.nodeName={NODE}")
        for item in existing.items:
            api.delete_resource_slice(item.metadata.name)
        for slice_ in slices:
            body = slice_.to_dict()
            body["metadata"] = {"generateName": f"{NODE}-{DRIVER_NAME}-", "ownerReferences": [owner]}
            api.create_resource_slice(k8s.V1ResourceSlice.from_dict(body), _preload_content=False)

    return publish


def run(kind: str, steps: list[tuple[str, list[Any]]]) -> dict[str, Any]:
    with FakeApiServer() as server:
        server.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
        client = server.api_client()
        if kind == "publisher":
            publisher = SlicePublisher(client, DRIVER_NAME, NODE, backoff=Backoff(rng=random.Random(1)))
            publish: Callable[[list[Any]], Any] = publisher.publish
        else:
            publish = replace_all(client)
        allowed: list[dict] = []
        counts = {"unusable": 0, "wrong": 0, "states": 0}

        def observe(fake: FakeApiServer, info: Any) -> None:
            if info.method == "GET":
                return
            counts["states"] += 1
            view = pool_view(fake.objects("ResourceSlice"), DRIVER_NAME, NODE)
            if not view.complete:
                counts["unusable"] += 1
            elif view.devices not in allowed:
                counts["wrong"] += 1

        server.on_request(observe)
        per_step = []
        started = time.perf_counter()
        for _, slices in steps:
            wanted = devices_of([s.to_dict() for s in slices])
            allowed.append(wanted)
            before = len(server.writes())
            t0 = time.perf_counter()
            publish(slices)
            per_step.append((len(server.writes()) - before, time.perf_counter() - t0))
            allowed[:] = [wanted]
        total = time.perf_counter() - started
        final = pool_view(server.objects("ResourceSlice"), DRIVER_NAME, NODE)
        assert final.complete and final.devices == allowed[-1]
        return {"per_step": per_step, "writes": len(server.writes()), "requests": len(server.requests()),
                "seconds": total, **counts}


def main() -> None:
    steps = scenario()
    ours, base = [], []
    for _ in range(REPEATS):  # interleaved, so machine load hits both alike
        ours.append(run("publisher", steps))
        base.append(run("replace-all", steps))
    o, b = ours[0], base[0]
    o_time = statistics.median(r["seconds"] for r in ours)
    b_time = statistics.median(r["seconds"] for r in base)
    print(f"Slice publisher, {PROFILE}, {len(steps)} desired states, median of {REPEATS} runs, "
          f"Python {platform.python_version()}")
    print()
    print("| step | slices | publisher writes | replace-all writes |")
    print("|---|---:|---:|---:|")
    for (name, slices), (ow, _), (bw, _) in zip(steps, o["per_step"], b["per_step"]):
        print(f"| {name} | {len(slices)} | {ow} | {bw} |")
    print()
    print("| | publisher | replace-all | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| API writes | {o['writes']} | {b['writes']} | {b['writes'] / max(1, o['writes']):.1f}x fewer |")
    print(f"| API requests | {o['requests']} | {b['requests']} | {b['requests'] / max(1, o['requests']):.1f}x fewer |")
    print(f"| wall time (s) | {o_time:.2f} | {b_time:.2f} | {b_time / o_time:.1f}x faster |")
    print(f"| states with the pool unusable | {o['unusable']} of {o['states']} | "
          f"{b['unusable']} of {b['states']} | |")
    print(f"| states with a complete but wrong pool | {o['wrong']} | {b['wrong']} | |")


if __name__ == "__main__":
    main()
