"""DRA placement cost against the integer device-plugin model, in one run (issue 13, item 6).

One FGD-method replay of openb ``default`` (seed 42, FGD policy, 1,213 nodes) with the
integer device-plugin model and with the DRA model (every GPU pod a ResourceClaim checked by
``dra.allocator``), each in a fresh child process so that neither inherits the other's warm
caches; the figure is the ratio of their CPU times for the replay itself (fleet, trace and
placement setup included, file loading excluded). Target: DRA at most 2x. It also checks that
the two DRA code paths agree: the placements are compared with a replay whose allocator
memo is disabled (``--no-memo`` run, the same results are required). Writes the
"## Simulator placement cost" section of benchmarks/RESULTS.md. Needs ../shared; skips
without it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path

from benchmarks.results import record_section

ROOT = Path(__file__).resolve().parents[1]
TARGET = 2.0
REPEAT = 5


def _shared() -> Path | None:
    env = os.environ.get("DRA_SHARED_DIR")
    for p in ([Path(env)] if env else []) + [ROOT.parent / "shared", ROOT / "shared", Path("/work/shared")]:
        if (p / "traces/alibaba-openb/openb_pod_list_default.csv").exists():
            return p
    return None


def child(nodes: str, pods: str, placement: str, policy: str, memo: bool, replay: bool = True) -> dict:
    """Run in a child process: one replay, its CPU time and a digest of where every pod went
    (``replay=False``: everything but the replay, the baseline of an instruction count)."""
    import hashlib
    import time

    from simulator import engine
    from simulator.engine import replay_fgd
    from simulator.placement import get_placement
    from simulator.run import load_inputs
    from simulator.scoring import get_policy

    fleet, trace = load_inputs(nodes, pods)
    # one-time costs every DRA run pays once per process (module imports, the CEL grammar's
    # parser tables) are paid here, outside the timed replay, and reported separately
    warm = time.process_time()
    if placement.startswith("dra"):
        import dra.allocator  # noqa: F401
        import dra.gpu.builtin  # noqa: F401
        import dra.slices  # noqa: F401
        from dra.cel.grammar import get_parser

        get_parser()
    warm = time.process_time() - warm
    place = get_placement(placement.split(":")[0])
    if placement.endswith(":index"):
        place.verify = False  # type: ignore[attr-defined]
    if not memo:
        from simulator.scheduler import NoMemo

        place._outcomes = NoMemo()  # type: ignore[attr-defined]
    if not replay:
        return {"placement": placement}
    # the replay's cluster, kept for its work counters (read after the clock stops)
    clusters = []
    build = engine.build_cluster

    def build_and_keep(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        made = build(*args, **kwargs)
        clusters.append(made[0])
        return made

    engine.build_cluster = build_and_keep
    cpu = time.process_time()
    r = replay_fgd(fleet, trace, place, get_policy(policy), 42, tie_break="order")
    cpu = time.process_time() - cpu
    digest = hashlib.sha256(json.dumps(r.curves, sort_keys=True).encode()).hexdigest()[:16]
    return {"placement": placement, "cpu_s": cpu, "warm_s": warm, "pods": r.pods, "failed": r.failed,
            "unallocated": r.extra["unallocated_pct_at_arrived_100"], "curves": digest,
            "allocator_calls": r.counters["allocator_calls"], "bound": r.pods - r.failed,
            **clusters[0].work_done()}


def _child(nodes: str, pods: str, placement: str, policy: str, memo: bool = True) -> dict:
    code = ("import json, sys; from benchmarks.bench_sim_placement import child; "
            f"print(json.dumps(child({nodes!r}, {pods!r}, {placement!r}, {policy!r}, {memo!r})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _instructions(nodes: str, pods: str, placement: str, policy: str) -> int:
    from benchmarks.instructions import replay_instructions

    code = "from benchmarks.bench_sim_placement import child; child({!r}, {!r}, {!r}, {!r}, True, {})"
    return replay_instructions(code.format(nodes, pods, placement, policy, True),
                               code.format(nodes, pods, placement, policy, False))


def _least(nodes: str, pods: str, placements: list[str], policy: str, repeat: int = REPEAT) -> dict[str, dict]:
    """Per placement, the run with the least CPU time of ``repeat``, the placements interleaved
    (the machine is shared: others' load only ever adds time, so the minimum is the steadiest
    estimate, and interleaving spreads a slow spell over every placement)."""
    runs: dict[str, list[dict]] = {p: [] for p in placements}
    for _ in range(repeat):
        for placement in placements:
            runs[placement].append(_child(nodes, pods, placement, policy))
    for placement, rs in runs.items():
        if len({(r["curves"], r["failed"]) for r in rs}) != 1:
            raise AssertionError(f"{placement}: repeated runs placed pods differently")
    return {p: min(rs, key=lambda r: r["cpu_s"]) for p, rs in runs.items()}


def main(argv: list[str] | None = None) -> None:
    shared = _shared()
    if shared is None:
        print("bench_sim_placement: ../shared/traces/alibaba-openb not found; skipped")
        return
    base = shared / "traces/alibaba-openb"
    nodes, pods = str(base / "openb_node_list_gpu_node.csv"), str(base / "openb_pod_list_default.csv")
    policy = "fgd"
    least = _least(nodes, pods, ["device-plugin", "dra:index", "dra"], policy)
    dp, index, dra = least["device-plugin"], least["dra:index"], least["dra"]
    plain = _child(nodes, pods, "dra", policy, memo=False)
    ratio = dra["cpu_s"] / dp["cpu_s"]
    from benchmarks.instructions import available

    ir = {p: _instructions(nodes, pods, p, policy) for p in ("device-plugin", "dra")} if available() else None
    with_warm = (dra["cpu_s"] + dra["warm_s"]) / dp["cpu_s"]
    same = (dra["curves"], dra["failed"]) == (plain["curves"], plain["failed"]) == (index["curves"], index["failed"])
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    if ir is not None:
        print(f"instructions: device-plugin {ir['device-plugin']:,}, dra {ir['dra']:,}, "
              f"ratio {ir['dra'] / ir['device-plugin']:.2f}x", flush=True)
    print(f"device-plugin {dp['cpu_s']:.2f} s cpu; dra index only {index['cpu_s']:.2f} s; dra {dra['cpu_s']:.2f} s "
          f"cpu ({dra['allocator_calls']} allocator runs, + {dra['warm_s']:.2f} s one-time imports); dra without "
          f"memo {plain['cpu_s']:.2f} s cpu ({plain['allocator_calls']} runs); ratio {ratio:.2f}x (target <= "
          f"{TARGET}x), {with_warm:.2f}x with the one-time imports; dra/index-only "
          f"{dra['cpu_s'] / index['cpu_s']:.2f}x; same placements on every path: {same}", flush=True)
    lines = [
        "## Simulator placement cost", "",
        f"`benchmarks/bench_sim_placement.py`, {date.today()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {load}. One FGD-method replay of openb `default` (seed 42, FGD "
        f"policy, {dp['pods']:,} pods, 1,213 nodes), each placement in its own process, the least of {REPEAT} "
        "interleaved runs; CPU time of the replay "
        "(placement setup included; file loading and the one-time imports of the allocator and the CEL "
        "grammar excluded and shown apart).",
        "",
        "| placement | CPU s | one-time imports s | allocator runs | unallocated % @100 | curves digest |",
        "|---|---:|---:|---:|---:|---|",
        f"| integer device plugin (baseline) | {dp['cpu_s']:.2f} | - | - | {dp['unallocated']:.2f} | `{dp['curves']}` |",
        f"| DRA, index only (no allocator: the FGD paper's share model) | {index['cpu_s']:.2f} | "
        f"{index['warm_s']:.2f} | 0 | {index['unallocated']:.2f} | `{index['curves']}` |",
        f"| DRA (every claim checked by dra.allocator) | {dra['cpu_s']:.2f} | {dra['warm_s']:.2f} | "
        f"{dra['allocator_calls']:,} | {dra['unallocated']:.2f} | `{dra['curves']}` |",
        f"| DRA, allocator memo off | {plain['cpu_s']:.2f} | {plain['warm_s']:.2f} | {plain['allocator_calls']:,} | "
        f"{plain['unallocated']:.2f} | `{plain['curves']}` |",
        "",
        f"DRA / integer device-plugin CPU time: **{ratio:.2f}x** ({with_warm:.2f}x counting the one-time imports; "
        f"target <= {TARGET}x; {'met' if ratio <= TARGET else 'NOT met'}; 5.4x before the allocator memo and the "
        "per-shape slice building, 2.80x on 2026-12-02 before the blocked-shape and GPU-filter caches, the "
        "per-device-class allocator memo and the FGD share memo, 2.13-2.74x (instructions 1.97x) earlier on "
        "2026-12-03 before node groups shared GPU-filter answers and FGD scores, which took 17% of the integer "
        "model's instructions and 13% of DRA's). DRA / its own index-only share model: "
        f"{dra['cpu_s'] / index['cpu_s']:.2f}x. What remains is mostly the cost of scheduling fractional GPUs at "
        "all (far more distinct GPU states to filter, score and measure, see the table below, and FGD's per-GPU "
        "scoring of a share), "
        "not the allocator. Memo on, memo off and index only give the same placements: "
        f"{'yes' if same else 'NO'}.",
        "",
        "Work each replay did (`Cluster.work_done`, the same every run): the two models bind about as many pods "
        "and make about as many node states, but fractional GPUs make many more distinct GPU states, and every "
        "memo the scheduler and FGD keep is keyed by the GPU state, so DRA computes afresh what the integer "
        "model looks up.",
        "",
        "| placement | pods bound | node states | distinct GPU states | FGD fragmentation computations |",
        "|---|---:|---:|---:|---:|",
        *(f"| {label} | {r['bound']:,} | {r['node_states']:,} | {r['gpu_states']:,} | "
          f"{r['fragmentation_computations']:,} |" for label, r in (("integer device plugin", dp), ("DRA", dra))),
        "",
    ]
    if ir is not None:
        lines[-1:-1] = [
            "", "Instructions executed by the replay (`benchmarks/instructions.py`: valgrind's cachegrind, "
            "`PYTHONHASHSEED=0`, the same process without the replay subtracted; the same every run, where "
            f"CPU times here move by 20-40%): integer device plugin {ir['device-plugin'] / 1e9:.2f} G, DRA "
            f"{ir['dra'] / 1e9:.2f} G, **{ir['dra'] / ir['device-plugin']:.2f}x**. The CPU-time ratio is the "
            "target's measure; the gap between the two is time spent waiting rather than executing, which "
            "instruction counts do not see (measured once, on 2026-12-03, not by this run: under cachegrind "
            "with a 4 MiB last-level cache DRA had 2.1x the last-level and 2.0x the instruction-cache misses "
            "of the integer model -- more node states, memos and allocator code)."]
    else:
        lines[-1:-1] = ["", "Instruction counts: valgrind not found, not measured."]
    record_section("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
