"""Prepare latency of the kubelet plugin, through the real sockets, in built-in profile mode.

Setup, shaped like a node: the plugin runs as its own process (``dra plugin run``, built-in
profile ``dgx-h100``: 8 x H100); this process plays the kubelet (the kubelet stand-in) and
the API server (the API stand-in), as a real kubelet and API server would be separate
processes too. Each prepare is one NodePrepareResources RPC for one single-GPU claim and
includes the claim GET, the two checkpoint writes (both fsync'ed) and the CDI spec
write.

* sequential, as deployed: whole-GPU claims, one at a time (prepare, then unprepare); the
  checkpoint on disk, the CDI directory on a tmpfs (``/var/run/cdi`` is one on nodes);
* sequential, all on tmpfs: the same against a second plugin whose checkpoint is on tmpfs
  too, which isolates the software cost from the disk's. Requests alternate between the two
  plugins so that both see the same background load;
* concurrent: 100 claims sent at once from 100 threads (shared mode: each claim is a share of
  one of the 8 GPUs, so 100 can be prepared side by side), several rounds.

Baseline, same run: the floor of one prepare = an empty NodePrepareResources RPC (gRPC round
trip) + one claim GET through the official client (API round trip). The ratio says how much
the plugin's own work (planning, checkpoint, CDI) adds on top. The disk floor (atomic
replace, with and without fsync) is measured in the same run as well.

Target: p99 < 20 ms per claim. Run: ``.venv/bin/python -m benchmarks.bench_plugin``
(``--no-write`` to skip RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from kubernetes.client import ResourceV1Api

from dra.plugin.files import atomic_write
from dra.plugin.kubelet_standin import KubeletStandIn, allocated_claim
from dra.plugin.protos import dra_v1_pb2
from dra.testing.apiserver import FakeApiServer
from benchmarks.results import record_section

ROOT = Path(__file__).resolve().parent.parent
TMPFS = Path("/dev/shm")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


class Plugin:
    """One ``dra plugin run`` process for node ``node`` with its state under ``state``."""

    def __init__(self, api: FakeApiServer, node: str, mode: str, sockets: Path, state: Path, cdi: Path):
        self.node = node
        kubeconfig = sockets / "kubeconfig"
        sockets.mkdir(parents=True, exist_ok=True)
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "s",
            "clusters": [{"name": "s", "cluster": {"server": api.url}}],
            "users": [{"name": "u", "user": {}}],
            "contexts": [{"name": "s", "context": {"cluster": "s", "user": "u"}}],
        }))
        api.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dra.cli", "plugin", "run", "--node-name", node, "--profile", "dgx-h100",
             "--mode", mode, "--kubeconfig", str(kubeconfig), "--registrar-dir", str(sockets / "registry"),
             "--plugins-dir", str(state), "--cdi-root", str(cdi), "--http-port", "-1", "--no-health",
             "--log-level", "warning"],
            cwd=ROOT, env=dict(os.environ, DRA_PLUGIN_BOOT_ID="bench"), stdout=subprocess.DEVNULL,
        )
        self.kubelet = KubeletStandIn(sockets / "registry")
        self.kubelet.register(timeout=120)

    def stop(self) -> None:
        self.kubelet.close()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


def _claim(api: FakeApiServer, plugin: Plugin, device: str, share: bool) -> tuple[str, str, str]:
    cid = str(uuid.uuid4())
    name = f"c-{cid[:8]}"
    api.put_object(allocated_claim(name, cid, [("gpu", device)], pool=plugin.node,
                                   share_ids=[str(uuid.uuid4())] if share else None))
    return ("default", name, cid)


def _prepare_timed(plugin: Plugin, ref) -> float:
    start = time.perf_counter()
    result = plugin.kubelet.prepare([ref])[ref[2]]
    elapsed = time.perf_counter() - start
    assert result.error == "", result.error
    return elapsed


def baseline(api: FakeApiServer, plugin: Plugin, n: int) -> list[float]:
    ref = _claim(api, plugin, "gpu-0", False)
    client = ResourceV1Api(api.api_client())
    times = []
    for _ in range(n):
        start = time.perf_counter()
        plugin.kubelet._stub.NodePrepareResources(dra_v1_pb2.NodePrepareResourcesRequest(), timeout=10)
        client.read_namespaced_resource_claim(ref[1], ref[0], _preload_content=False).data
        times.append(time.perf_counter() - start)
    return times


def sequential(api: FakeApiServer, plugins: list[Plugin], n: int) -> list[list[float]]:
    """Prepare/unprepare ``n`` claims on each plugin, alternating between the plugins."""
    times: list[list[float]] = [[] for _ in plugins]
    for i in range(n):
        for k, plugin in enumerate(plugins):
            ref = _claim(api, plugin, f"gpu-{i % 8}", False)
            times[k].append(_prepare_timed(plugin, ref))
            assert plugin.kubelet.unprepare([ref])[ref[2]] == ""
    return times


def concurrent(api: FakeApiServer, plugin: Plugin, rounds: int, width: int = 100) -> tuple[list[float], list[float]]:
    latencies, walls = [], []
    with ThreadPoolExecutor(width) as pool:
        for _ in range(rounds):
            refs = [_claim(api, plugin, f"gpu-{i % 8}", True) for i in range(width)]
            start = time.perf_counter()
            latencies.extend(pool.map(lambda ref: _prepare_timed(plugin, ref), refs))
            walls.append(time.perf_counter() - start)
            list(pool.map(lambda ref: plugin.kubelet.unprepare([ref]), refs))
    return latencies, walls


def disk_floor(directory: Path, n: int) -> dict[str, float]:
    """Median cost of the checkpoint's two kinds of write on this disk (same run)."""
    path = directory / "floor.json"
    payload = b"x" * 2048
    out = {}
    for name, durable in (("replace", False), ("replace+fsync", True)):
        times = []
        for _ in range(n):
            start = time.perf_counter()
            atomic_write(path, payload, durable=durable)
            times.append(time.perf_counter() - start)
        out[name] = statistics.median(times)
    return out


def run(seq_n: int = 300, rounds: int = 5) -> dict:
    out: dict = {}
    disk = Path(tempfile.mkdtemp(prefix="bench-plugin-"))
    ram = Path(tempfile.mkdtemp(prefix="bench-plugin-", dir=TMPFS)) if TMPFS.is_dir() else disk / "ram"
    plugins: list[Plugin] = []
    try:
        with FakeApiServer(validate=False) as api:
            deployed = Plugin(api, "bench-disk", "whole", disk / "a", disk / "a" / "plugins", ram / "a-cdi")
            plugins.append(deployed)
            in_ram = Plugin(api, "bench-ram", "whole", disk / "b", ram / "b" / "plugins", ram / "b-cdi")
            plugins.append(in_ram)
            shared = Plugin(api, "bench-shared", "shared", disk / "c", disk / "c" / "plugins", ram / "c-cdi")
            plugins.append(shared)
            sequential(api, [deployed, in_ram], 20)  # warm-up
            out["baseline"] = baseline(api, deployed, seq_n)
            out["sequential"], out["sequential_ram"] = sequential(api, [deployed, in_ram], seq_n)
            concurrent(api, shared, 1)  # warm-up
            out["concurrent"], out["walls"] = concurrent(api, shared, rounds)
            out["disk"] = disk_floor(disk, 50)
    finally:
        for plugin in plugins:
            plugin.stop()
        shutil.rmtree(disk, ignore_errors=True)
        shutil.rmtree(ram, ignore_errors=True)
    out["load"] = os.getloadavg()[0]
    return out


def format_results(r: dict) -> str:
    base_p50 = statistics.median(r["baseline"])
    rows = [
        ("baseline (empty RPC + claim GET)", r["baseline"]),
        ("sequential prepare, whole GPU (checkpoint on disk, CDI on tmpfs)", r["sequential"]),
        ("sequential prepare, whole GPU (all on tmpfs: software cost)", r["sequential_ram"]),
        ("100 concurrent prepares, shared GPU", r["concurrent"]),
    ]
    lines = [
        "## Kubelet plugin",
        "",
        f"`python -m benchmarks.bench_plugin` on {platform.machine()} / Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {r['load']:.1f} at the end (other work on the machine "
        "inflates the tail). The plugin (`dra plugin run`, built-in profile dgx-h100) runs as its own "
        "process; the kubelet stand-in and the API stand-in share the benchmark process. Latency of "
        "one NodePrepareResources RPC for one single-GPU claim: claim GET, two checkpoint writes (both "
        "fsync'ed), CDI spec write.",
        "",
        "| case | n | p50 ms | p99 ms | max ms | p50 / baseline p50 |",
        "|---|---|---|---|---|---|",
    ]
    for name, values in rows:
        lines.append(
            f"| {name} | {len(values)} | {ms(statistics.median(values))} | {ms(pct(values, 99))} | "
            f"{ms(max(values))} | {statistics.median(values) / base_p50:.1f}x |"
        )
    per_claim = [w / 100 for w in r["walls"]]
    disk = r["disk"]
    seq99 = pct(r["sequential"], 99)
    lines += [
        "",
        f"Disk floor in the same run (checkpoint directory): atomic replace {ms(disk['replace'])} ms, "
        f"with fsync {ms(disk['replace+fsync'])} ms; a prepare does two fsync'ed replaces on the checkpoint.",
        f"Concurrent: a burst of 100 claims took {ms(statistics.median(r['walls']))} ms (median of "
        f"{len(r['walls'])} rounds), {ms(statistics.median(per_claim))} ms per claim of throughput; "
        "its p99 is the time to drain the burst, not the cost of one claim.",
        f"Target p99 < 20 ms per claim (sequential, as deployed): {ms(seq99)} ms -> "
        f"{'met' if seq99 < 0.020 else 'NOT met'}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="do not record the figures in benchmarks/RESULTS.md")
    parser.add_argument("--sequential", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv or [])
    text = format_results(run(args.sequential, args.rounds))
    print(text)
    if not args.no_write:
        record_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
