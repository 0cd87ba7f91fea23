"""Allocator throughput: allocations per second and devices examined per allocation.

Scenarios (all on one node):

a) one GPU from a node of 8 GPUs
b) 4 GPUs with ``matchAttribute`` on the NVLink domain, from 8 GPUs in 2 domains of 4,
   with 2 GPUs of the first domain already in use (forces backtracking)
c) one MIG 3g.40gb device from 8 H100s published as partitionable devices (per GPU a
   counter set and 19 devices: the full GPU and every MIG placement), with half the GPUs
   partly used
d) ``allocationMode: All`` over the 8 GPUs

"warm" reuses one Allocator (slices converted, pools gathered, selectors compiled and
memoized once), which is how the simulator calls it; the same-run baseline "cold" builds
a new Allocator for every allocation. The ratio warm/cold is printed. Target: >= 5,000
warm allocations/s for (a).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from dra.allocator import AllocatedState, Allocator, Features
from dra.api import DeviceClass, DeviceID, Node, ResourceClaim, ResourceSlice

DRIVER = "gpu.nvidia.com"
NODE = "node-1"

# H100 80GB MIG profiles: (name, memory slices, compute slices, placements start positions)
MIG_PROFILES = [
    ("1g.10gb", 1, 1, [0, 1, 2, 3, 4, 5, 6]),
    ("1g.20gb", 2, 1, [0, 2, 4, 6]),
    ("2g.20gb", 2, 2, [0, 2, 4]),
    ("3g.40gb", 4, 3, [0, 4]),
    ("4g.40gb", 4, 4, [0]),
    ("7g.80gb", 8, 7, [0]),
]


def _gpu(i: int, nvlink: str) -> dict[str, Any]:
    return {
        "name": f"gpu-{i}",
        "attributes": {
            "type": {"string": "gpu"},
            "productName": {"string": "NVIDIA H100 80GB HBM3"},
            "index": {"int": i},
            "nvlinkDomain": {"string": nvlink},
            "cudaComputeCapability": {"version": "9.0.0"},
        },
        "capacity": {"memory": {"value": "80Gi"}},
    }


def whole_gpu_slices() -> list[dict[str, Any]]:
    devices = [_gpu(i, f"domain-{i // 4}") for i in range(8)]
    return [{
        "metadata": {"name": f"{NODE}-gpus"},
        "spec": {"driver": DRIVER, "pool": {"name": NODE, "generation": 1, "resourceSliceCount": 1},
                 "nodeName": NODE, "devices": devices},
    }]


def mig_slices() -> list[dict[str, Any]]:
    counter_sets = []
    devices = []
    for g in range(8):
        counters = {f"memory-slice-{k}": {"value": "1"} for k in range(8)}
        counters.update({f"compute-slice-{k}": {"value": "1"} for k in range(7)})
        counter_sets.append({"name": f"gpu-{g}-counters", "counters": counters})
        for name, mem, comp, starts in MIG_PROFILES:
            for start in starts:
                used = {f"memory-slice-{k}": {"value": "1"} for k in range(start, min(start + mem, 8))}
                used.update({f"compute-slice-{k}": {"value": "1"} for k in range(start, min(start + comp, 7))})
                devices.append({
                    "name": f"gpu-{g}-mig-{name.replace('.', '')}-{start}",
                    "attributes": {"type": {"string": "mig"}, "profile": {"string": name},
                                   "parentIndex": {"int": g}},
                    "capacity": {"memory": {"value": f"{mem * 10}Gi"}},
                    "consumesCounters": [{"counterSet": f"gpu-{g}-counters", "counters": used}],
                })
    pool = {"name": NODE, "generation": 1, "resourceSliceCount": 4}
    slices = [{"metadata": {"name": f"{NODE}-counters"},
               "spec": {"driver": DRIVER, "pool": pool, "nodeName": NODE, "sharedCounters": counter_sets}}]
    for part in range(3):  # 152 devices, at most 64 per slice
        chunk = devices[part * 64:(part + 1) * 64]
        slices.append({"metadata": {"name": f"{NODE}-mig-{part}"},
                       "spec": {"driver": DRIVER, "pool": pool, "nodeName": NODE, "devices": chunk}})
    return slices


def classes() -> list[DeviceClass]:
    return [
        DeviceClass.from_dict({"metadata": {"name": "gpu.nvidia.com"}, "spec": {"selectors": [
            {"cel": {"expression": f"device.driver == '{DRIVER}' && device.attributes['{DRIVER}'].type == 'gpu'"}}]}}),
        DeviceClass.from_dict({"metadata": {"name": "mig.nvidia.com"}, "spec": {"selectors": [
            {"cel": {"expression": f"device.driver == '{DRIVER}' && device.attributes['{DRIVER}'].type == 'mig'"}}]}}),
    ]


def claim(name: str, exactly: dict[str, Any], constraints: list[dict[str, Any]] | None = None) -> ResourceClaim:
    devices: dict[str, Any] = {"requests": [{"name": "req", "exactly": exactly}]}
    if constraints:
        devices["constraints"] = constraints
    return ResourceClaim.from_dict({"metadata": {"name": name, "namespace": "bench"}, "spec": {"devices": devices}})


def _rate(fn: Callable[[], Any], seconds: float) -> float:
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        fn()
        n += 1
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def scenario(label: str, features: Features, slices: list[dict[str, Any]], claims: list[ResourceClaim],
             state: AllocatedState, seconds: float) -> dict[str, Any]:
    parsed = [ResourceSlice.from_dict(s) for s in slices]
    node = Node.from_dict({"metadata": {"name": NODE}})
    cls = classes()
    warm = Allocator(features, cls, parsed)
    result = warm.allocate(node, claims, allocated=state)
    assert result is not None, f"{label}: benchmark scenario does not allocate"
    examined = warm.last_stats.examined
    steps = warm.last_stats.steps
    warm_rate = _rate(lambda: warm.allocate(node, claims, allocated=state), seconds)
    cold_rate = _rate(lambda: Allocator(features, cls, parsed).allocate(node, claims, allocated=state), seconds / 2)
    devices = sum(len(s.spec.devices or []) for s in parsed)
    print(f"{label:<46} devices={devices:<4} warm={warm_rate:>9.0f}/s cold={cold_rate:>8.0f}/s "
          f"ratio={warm_rate / cold_rate:>5.1f}x examined/alloc={examined} steps={steps}", flush=True)
    return {"label": label, "warm": warm_rate, "cold": cold_rate, "examined": examined, "steps": steps}


def main(seconds: float = 2.0) -> list[dict[str, Any]]:
    base = Features.kubernetes_1_35_defaults()
    part = Features(admin_access=True, prioritized_list=True, partitionable_devices=True)
    gpu_class = {"deviceClassName": "gpu.nvidia.com", "allocationMode": "ExactCount", "count": 1}
    rows = [
        scenario("(a) 1 GPU of 8", base, whole_gpu_slices(), [claim("a", gpu_class)], AllocatedState(), seconds),
        scenario(
            "(b) 4 GPUs, matchAttribute nvlinkDomain",
            base, whole_gpu_slices(),
            [claim("b", {**gpu_class, "count": 4},
                   [{"matchAttribute": f"{DRIVER}/nvlinkDomain", "requests": ["req"]}])],
            AllocatedState(devices={DeviceID(DRIVER, NODE, "gpu-0"), DeviceID(DRIVER, NODE, "gpu-2")}),
            seconds,
        ),
        scenario(
            "(c) MIG 3g.40gb from 8 partitionable H100s",
            part, mig_slices(),
            [claim("c", {"deviceClassName": "mig.nvidia.com", "allocationMode": "ExactCount", "count": 1,
                         "selectors": [{"cel": {"expression": f"device.attributes['{DRIVER}'].profile == '3g.40gb'"}}]})],
            AllocatedState(devices={DeviceID(DRIVER, NODE, f"gpu-{g}-mig-4g40gb-0") for g in range(4)}
                           | {DeviceID(DRIVER, NODE, f"gpu-{g}-mig-1g10gb-5") for g in range(4, 6)}),
            seconds,
        ),
        scenario("(d) All mode over 8 GPUs", base, whole_gpu_slices(),
                 [claim("d", {"deviceClassName": "gpu.nvidia.com", "allocationMode": "All"})],
                 AllocatedState(), seconds),
    ]
    target = 5000
    print(f"target (a) >= {target}/s: {'met' if rows[0]['warm'] >= target else 'NOT met'}")
    return rows


if __name__ == "__main__":
    main()
