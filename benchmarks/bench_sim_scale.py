"""Simulator scale: the time-based replay against pods and nodes, and a 100k-pod DRA run on a
real 4,278-node fleet.

1. openb ``default`` (8,152 pods, 1,213 nodes), time-based, device-plugin model, FGD policy,
   kube-scheduler's uniform tie-break: x1, then the trace x10 on the same fleet (the pending
   queue), then trace x10 on the fleet x10 (pods and nodes). Ratios against x1 in the same run;
   target: x10 within 10x of x1 (linear).
2. 100,000 synthetic pods (``generate(100000, 42)``, one arrival per second on average) on the
   Alibaba spot-GPU 2026 node list, time-based, DRA placement (every GPU pod a ResourceClaim
   placed by ``dra.allocator``) and the device-plugin model as the same-run baseline: wall and
   CPU seconds, peak RSS. Targets: under 60 s and 2 GiB.
3. Memory per node: traced allocations of building the cluster state (DRA: slices, index,
   allocator state) divided by the node count.

Needs ../shared (openb and spot-gpu-2026); skips without it. Writes "## Simulator scale" in
benchmarks/RESULTS.md. ``--quick`` runs 20k pods in part 2 (for a smoke run).
"""

from __future__ import annotations

import dataclasses
import gc
import os
import platform
import resource
import sys
import time
import tracemalloc
from datetime import date
from pathlib import Path

from benchmarks.results import record_section

ROOT = Path(__file__).resolve().parents[1]
REPEAT = 3  # openb runs: the least CPU time of 3
X1_BATCH = 10  # x1 timed as 10 consecutive replays (per replay), as long as one x10 replay


def _shared() -> Path | None:
    for p in (Path(os.environ.get("DRA_SHARED_DIR", "/nonexistent")), ROOT.parent / "shared", ROOT / "shared"):
        if (p / "traces/alibaba-openb/openb_pod_list_default.csv").exists() and (
                p / "traces/alibaba-spot-gpu-2026/node_info_df.csv").exists():
            return p
    return None


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fleet, trace, placement: str) -> dict:  # noqa: ANN001
    from simulator.run import RunOptions, run_one

    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    r = run_one(fleet, trace, placement, "fgd", 42, RunOptions(method="time"))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"pods": r.pods, "nodes": len(fleet.nodes), "wall_s": wall, "cpu_s": cpu, "scheduled": r.scheduled,
            "pending": r.pending, "rss_mib": _rss_mib()}


def times(fleet, trace, k: int, *, nodes_too: bool):  # noqa: ANN001, ANN201
    from simulator.fleet.model import Fleet
    from simulator.trace.model import Trace

    pods = [dataclasses.replace(p, name=f"{p.name}~{i}") for i in range(k) for p in trace.pods]
    if nodes_too:
        fleet = Fleet(f"{fleet.name}-x{k}", [dataclasses.replace(n, name=f"{n.name}~{i}")
                                             for i in range(k) for n in fleet.nodes])
    return fleet, Trace(f"{trace.name}-x{k}", pods)


def instructions_child(label: str, replay: bool) -> None:
    """Run in a child process under valgrind: load openb, build the run ``label`` ("x1",
    "pods x10, same fleet"), the untimed x1 warm-up, then that replay (or not: the baseline)."""
    from simulator.run import load_inputs

    openb = _shared() / "traces/alibaba-openb"  # type: ignore[operator]
    fleet, trace = load_inputs(str(openb / "openb_node_list_gpu_node.csv"), str(openb / "openb_pod_list_default.csv"))
    run = (fleet, trace) if label == "x1" else times(fleet, trace, 10, nodes_too="fleet x10" in label)
    timed(fleet, trace, "device-plugin")
    if replay:
        timed(*run, "device-plugin")
    else:
        gc.collect()  # what timed() does before its clock starts


def instructions(label: str) -> int:
    from benchmarks.instructions import replay_instructions

    code = "from benchmarks.bench_sim_scale import instructions_child; instructions_child({!r}, {})"
    return replay_instructions(code.format(label, True), code.format(label, False))


def per_node_kib(fleet, trace, placement: str) -> float:  # noqa: ANN001
    from simulator.engine import build_cluster
    from simulator.placement import get_placement
    from simulator.scoring import get_policy

    gc.collect()
    tracemalloc.start()
    cluster, _ = build_cluster(fleet, trace, get_placement(placement), get_policy("fgd"), 42, "random")
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del cluster
    return used / len(fleet.nodes) / 1024


def main(argv: list[str] | None = None) -> None:
    argv = argv or []
    shared = _shared()
    if shared is None:
        print("bench_sim_scale: ../shared (openb, spot-gpu-2026) not found; skipped")
        return
    from simulator.fleet.load import load_fleet
    from simulator.run import canonical_inputs, load_inputs
    from simulator.trace.synthetic import SyntheticMix, generate

    openb = shared / "traces/alibaba-openb"
    fleet, trace = load_inputs(str(openb / "openb_node_list_gpu_node.csv"), str(openb / "openb_pod_list_default.csv"))
    runs = {"x1": (fleet, trace), "pods x10, same fleet": times(fleet, trace, 10, nodes_too=False),
            "pods x10, fleet x10": times(fleet, trace, 10, nodes_too=True)}
    # x1 is a fraction of a second: one untimed replay first, so that x1 does not carry the
    # process's first-use costs (lazy imports, first-call caches) that x10 would not; then each
    # run REPEAT times, interleaved, and the least CPU time of each (others' load only adds).
    # x1 is timed as X1_BATCH replays back to back, per replay: the same pods and about the same
    # seconds as one x10 replay, so a slow or fast spell of the shared machine (they last
    # seconds) weighs on both alike, where a lone x1 replay could fall wholly inside one.
    timed(fleet, trace, "device-plugin")
    best: dict[str, dict] = {}
    for _ in range(REPEAT):
        for label, (f, t) in runs.items():
            if label == "x1":
                batch = [timed(f, t, "device-plugin") for _ in range(X1_BATCH)]
                r = {**batch[0], "wall_s": sum(b["wall_s"] for b in batch) / X1_BATCH,
                     "cpu_s": sum(b["cpu_s"] for b in batch) / X1_BATCH}
            else:
                r = timed(f, t, "device-plugin")
            if label not in best or r["cpu_s"] < best[label]["cpu_s"]:
                best[label] = r
    rows = list(best.items())
    for label, r in rows:
        print(f"openb {label}: {r}", flush=True)
    from benchmarks.instructions import available

    ir = {label: instructions(label) for label in ("x1", "pods x10, same fleet")} if available() else None
    if ir is not None:
        print(f"openb instructions: {ir}", flush=True)
    n = 20_000 if "--quick" in argv else 100_000
    spot = load_fleet(str(shared / "traces/alibaba-spot-gpu-2026/node_info_df.csv"))
    spot, synthetic = canonical_inputs(spot, generate(n, 42, SyntheticMix(mean_interarrival_s=1.0)))
    kib = {pl: per_node_kib(spot, synthetic, pl) for pl in ("device-plugin", "dra")}
    big = {}
    for pl in ("device-plugin", "dra"):
        big[pl] = timed(spot, synthetic, pl)
        print(f"spot {n} pods {pl}: {big[pl]}", flush=True)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    base = rows[0][1]
    lines = [
        "## Simulator scale", "",
        f"`benchmarks/bench_sim_scale.py`, {date.today()}, Python {platform.python_version()}, {os.cpu_count()} cores "
        f"shared with other work (load average {load}; CPU seconds are the steadier figure). Time-based replay, "
        "FGD policy, kube-scheduler's uniform tie-break, seed 42. openb rows: the least CPU time of "
        f"{REPEAT} interleaved runs each, after one untimed warm-up replay; x1 timed as {X1_BATCH} consecutive "
        "replays, per replay (as many pods and about as many seconds as one x10 replay).", "",
        "| run | pods | nodes | wall s | CPU s | CPU vs x1 | scheduled | pending at end | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, r in rows:
        ratio = r["cpu_s"] / base["cpu_s"]
        target = "" if label == "x1" else "<= 10x of x1"
        lines.append(f"| openb default {label}, device plugin | {r['pods']:,} | {r['nodes']:,} | {r['wall_s']:.1f} | "
                     f"{r['cpu_s']:.1f} | {ratio:.1f}x | {r['scheduled']:,} | {r['pending']:,} | {target} |")
    for pl, r in big.items():
        target = "< 60 s, < 2 GiB" if pl == "dra" else "(baseline)"
        lines.append(f"| spot-gpu-2026, {n:,} synthetic pods, {pl} | {r['pods']:,} | {r['nodes']:,} | {r['wall_s']:.1f} | "
                     f"{r['cpu_s']:.1f} | - | {r['scheduled']:,} | {r['pending']:,} | {target} |")
    x10 = rows[1][1]["cpu_s"] / base["cpu_s"]
    dra_cpu = big["dra"]["cpu_s"]
    lines += [
        "",
        f"Targets: openb pods x10 on the same fleet {x10:.1f}x of x1 (<= 10x: {'met' if x10 <= 10 else 'NOT met'}; "
        f"11.1-14.5x on 2026-12-02/03 with x1 timed as single replays); {n:,} pods on the spot fleet with DRA "
        f"{dra_cpu:.0f} CPU s (< 60 s: {'met' if dra_cpu < 60 else 'NOT met'}; 121 s on 2026-12-02, 53-65 s on "
        "2026-12-03 before node groups shared GPU-filter answers and FGD scores), peak RSS "
        f"{big['dra']['rss_mib']:.0f} MiB (< 2 GiB: {'met' if big['dra']['rss_mib'] < 2048 else 'NOT met'}).",
        "",
        ("Instructions executed by the openb replays (`benchmarks/instructions.py`: valgrind's cachegrind, "
         "`PYTHONHASHSEED=0`, the same process without the replay subtracted; the same every run, where the "
         f"CPU times above move by 20%): x1 {ir['x1'] / 1e9:.2f} G, pods x10 on the same fleet "
         f"{ir['pods x10, same fleet'] / 1e9:.2f} G, **{ir['pods x10, same fleet'] / ir['x1']:.2f}x**. "
         "The CPU-time ratio is the target's measure; it exceeds the instruction ratio by time spent "
         "waiting rather than executing, which instruction counts leave out and which grows with the denser "
         "x10 cluster's larger state (three times the node groups, larger tie-break trees)."
         if ir is not None else "Instruction counts: valgrind not found, not measured."),
        "",
        f"Peak RSS of the whole benchmark process: {_rss_mib():.0f} MiB. Cluster state right after setup, per node "
        f"(traced allocations): device plugin {kib['device-plugin']:.1f} KiB, DRA {kib['dra']:.1f} KiB "
        "(ResourceSlices, the index and the allocator state of every node). Pods that fit no node of the "
        "spot fleet (synthetic pods naming H100/H200/B200/GB200/L4) stay pending; after their first attempt "
        "they cost nothing (pending shapes are indexed by the node classes they could fit).",
        "",
    ]
    record_section("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
