"""``dra sim``: replay, compare and sweep (registered through the ``dra.commands`` entry point).

    dra sim replay  --nodes NODES --pods PODS --method fgd --policy fgd --seeds 42-51 --json OUT
    dra sim compare --embedded-default              # what `make run` shows
    dra sim compare --nodes N --pods P --placements device-plugin,dra --policies kube-default,fgd
    dra sim sweep   --nodes N --pods P1 --pods P2 --placements ... --policies ... --seeds 42-51
                    [--workers 4 | --scheduler tcp://HOST:8786] --json OUT

NODES: a built-in fleet name (modern-mix, dgx-h100-32, ...), an openb node list (.csv) or a
fleet YAML. PODS: an openb pod list (.csv), a generic CSV/JSONL trace, or
``synthetic[:PODS[:SEED]]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from simulator.fleet.builtin import FLEETS
from simulator.placement import PLACEMENTS
from simulator.run import METHODS, RunOptions, aggregate, check_names, load_inputs, parse_seeds, run_one
from simulator.scoring import POLICIES

EMBEDDED = {
    "nodes": "modern-mix",
    "pods": "synthetic:1200:42",
    "placements": "device-plugin,time-slicing,mig-mixed,dra",
    "policies": "kube-default,fgd",
    "seeds": "42-43",
    "time_seeds": "42",
}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nodes", help="fleet: built-in name (" + ", ".join(FLEETS) + "), openb node CSV or fleet YAML")
    p.add_argument("--method", default="fgd", choices=METHODS,
                   help="fgd: the FGD paper's replay (shuffle, inflate to --inflation, no departures); "
                        "time: arrivals, departures and a pending queue")
    p.add_argument("--seeds", default="42", help="seeds: 42, 42-51 or 1,5,9 (default 42)")
    p.add_argument("--inflation", type=float, default=1.3, help="FGD method: fill to this x GPU capacity (1.3)")
    p.add_argument("--tie-break", choices=("order", "random"), default=None,
                   help="equal scores: first node of a seeded order (the FGD artifact; default for "
                        "--method fgd) or uniformly random (kube-scheduler; default for --method time)")
    p.add_argument("--replicas", type=int, default=4, help="time-slicing replicas per GPU (4)")
    p.add_argument("--mig-fraction", type=float, default=0.5, help="static MIG: share of MIG-capable nodes partitioned")
    p.add_argument("--device-choice", choices=("policy", "allocator"), default="policy",
                   help="DRA: pin the devices the policy picked (policy) or let the allocator's first fit decide")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(subparsers: Any) -> None:
    sim = subparsers.add_parser("sim", help="replay pod traces on GPU fleets: device plugin vs DRA")
    sub = sim.add_subparsers(dest="sim_command", metavar="SUBCOMMAND")

    rp = sub.add_parser("replay", help="replay one trace with one placement and policy over seeds")
    _common(rp)
    rp.add_argument("--pods", required=True, help="trace: openb CSV, generic CSV/JSONL, or synthetic[:N[:SEED]]")
    rp.add_argument("--policy", default="fgd", help="scoring policy: " + ", ".join(POLICIES))
    rp.add_argument("--placement", default="dra", help="placement model: " + ", ".join(PLACEMENTS))
    rp.add_argument("--json", dest="json_out", help="write the results here")
    rp.set_defaults(func=cmd_replay)

    cp = sub.add_parser("compare", help="several placements and policies on one trace: table, report, plots")
    _common(cp)
    cp.add_argument("--pods", help="trace (see replay)")
    cp.add_argument("--placements", default="device-plugin,time-slicing,mig-mixed,dra")
    cp.add_argument("--policies", default="kube-default,fgd")
    cp.add_argument("--out", default="out/compare", help="report directory (default out/compare)")
    cp.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    cp.add_argument("--embedded-default", action="store_true",
                    help="the built-in demo: synthetic LLM/ML mix on the modern-mix fleet (make run)")
    cp.set_defaults(func=cmd_compare)

    sp = sub.add_parser("sweep", help="placements x policies x traces x seeds, in parallel (local or Dask)")
    _common(sp)
    sp.add_argument("--pods", action="append", required=True, help="trace (repeat for several)")
    sp.add_argument("--placements", default="device-plugin,dra")
    sp.add_argument("--policies", default="kube-default,fgd")
    sp.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    sp.add_argument("--scheduler", help="Dask scheduler address tcp://HOST:PORT (runs on that cluster)")
    sp.add_argument("--json", dest="json_out", help="write all results and aggregates here")
    sp.set_defaults(func=cmd_sweep)
    sim.set_defaults(func=lambda args: (sim.print_help(), 2)[1])


def _options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(method=args.method, inflation=args.inflation, tie_break=args.tie_break,
                      replicas=args.replicas, mig_fraction=args.mig_fraction, device_choice=args.device_choice)


def _need(args: argparse.Namespace, *names: str) -> None:
    from simulator.errors import UserError

    for name in names:
        if not getattr(args, name, None):
            raise UserError(f"--{name.replace('_', '-')} is required")


class _Progress:
    def __init__(self, total: int, enabled: bool, desc: str) -> None:
        self.bar = None
        if enabled and total > 0:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="pod", leave=False, file=sys.stderr,
                            disable=not sys.stderr.isatty())
        self.last = 0

    def __call__(self, i: int) -> None:
        if self.bar is not None:
            self.bar.update(i - self.last)
            self.last = i

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _write_json(path: str | None, data: Any) -> None:
    if path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=1, default=str))


def cmd_replay(args: argparse.Namespace) -> int:
    _need(args, "nodes")
    seeds = parse_seeds(args.seeds)
    check_names([args.placement], [args.policy], args.method)
    options = _options(args)
    fleet, trace = load_inputs(args.nodes, args.pods)
    results = []
    for seed in seeds:
        progress = _Progress(int(len(trace.pods) * max(1.0, args.inflation)), not args.no_progress, f"seed {seed}")
        r = run_one(fleet, trace, args.placement, args.policy, seed, options, progress).to_dict()
        progress.close()
        results.append(r)
        line = f"seed {seed}: {r['pods']} pods, failed {r['failed']}"
        if args.method == "fgd":
            line += f", unallocated at arrived 100%: {r['unallocated_pct_at_arrived_100']:.2f}%"
        else:
            line += f", queueing p90 {r['queueing_delay_s']['p90']}s, GPU-h wasted {r['gpu_hours_wasted']:.1f}"
        print(line + f" ({r['pods_per_s']:.0f} pods/s)")
    agg = aggregate(results)[0].to_dict()
    key = "unallocated_pct_at_arrived_100" if args.method == "fgd" else "failed"
    s = agg[key]
    print(f"{args.placement}/{args.policy} on {trace.name} x {fleet.name}: {key} mean {s['mean']:.2f}, "
          f"median {s['median']:.2f} over {len(seeds)} seeds")
    _write_json(args.json_out, {**agg, "runs": results})
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from simulator.report import comparison_rows, markdown_report, plain_table

    if args.embedded_default:
        args.nodes = args.nodes or EMBEDDED["nodes"]
        args.pods = args.pods or EMBEDDED["pods"]
        args.placements = EMBEDDED["placements"]
        args.policies = EMBEDDED["policies"]
        args.seeds = EMBEDDED["seeds"]
        methods = ["fgd", "time"]
    else:
        methods = [args.method]
    _need(args, "nodes", "pods")
    placements = [p.strip() for p in args.placements.split(",") if p.strip()]
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    seeds = parse_seeds(args.seeds)
    for m in methods:
        check_names(placements, policies, m)
    fleet, trace = load_inputs(args.nodes, args.pods)
    started = time.perf_counter()
    results: list[dict] = []
    combos = []
    for m in methods:
        m_seeds = parse_seeds(EMBEDDED["time_seeds"]) if args.embedded_default and m == "time" else seeds
        combos += [(m, pl, po, s) for pl in placements for po in policies for s in m_seeds]
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(combos), desc="replays", unit="run", file=sys.stderr, leave=False,
                   disable=not sys.stderr.isatty())
    if args.workers > 1:
        from simulator.sweep import run_jobs

        jobs = [(args.nodes, args.pods, pl, po, s, _with_method(args, m)) for m, pl, po, s in combos]
        results = run_jobs(jobs, workers=args.workers, on_done=lambda r: bar.update(1) if bar else None)
    else:
        for m, pl, po, s in combos:
            results.append(run_one(fleet, trace, pl, po, s, _with_method(args, m)).to_dict())
            if bar:
                bar.update(1)
    if bar:
        bar.close()
    aggs = [a.to_dict() for a in aggregate(results)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plots = _plots(aggs, out)
    context = {
        "fleet": f"{fleet.name} ({len(fleet.nodes)} nodes, {fleet.total_gpus} GPUs)",
        "trace": f"{trace.name} ({len(trace.pods)} pods)",
        "methods": ", ".join(methods), "seeds": args.seeds, "wall time": f"{time.perf_counter() - started:.1f} s",
    }
    title = "Device plugin vs DRA" + (" (embedded default)" if args.embedded_default else "")
    (out / "report.md").write_text(markdown_report(title, aggs, context, [p.name for p in plots]))
    _write_json(str(out / "results.json"), {"context": context, "aggregates": aggs, "runs": results})
    header, rows = comparison_rows(aggs)
    keep = [2, 3, 4, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16]
    print(f"{title}: {context['fleet']}, {context['trace']}")
    print(plain_table([header[i] for i in keep], [[r[i] for i in keep] for r in rows]))
    print(f"report: {out / 'report.md'}, results: {out / 'results.json'}, plots: "
          + ", ".join(str(p) for p in plots) + f" ({context['wall time']})")
    return 0


def _with_method(args: argparse.Namespace, method: str) -> RunOptions:
    base = _options(args)
    return RunOptions(method=method, inflation=base.inflation, tie_break=base.tie_break, replicas=base.replicas,
                      mig_fraction=base.mig_fraction, device_choice=base.device_choice)


def _plots(aggs: list[dict], out: Path) -> list[Path]:
    from simulator.plots import plot_curves

    fgd = [a for a in aggs if a["method"] == "fgd"]
    made = []
    p = plot_curves(fgd, "allocated_pct", "allocated GPU, % of capacity", out / "allocation.png",
                    "GPU allocation vs arrived (median, IQR over seeds)", ideal=True, xmin=50)
    if p:
        made.append(p)
    p = plot_curves(fgd, "useful_pct", "GPU guaranteed to placed pods, % of capacity", out / "useful.png",
                    "Guaranteed use (min of asked and given) vs arrived", ideal=True, xmin=50)
    if p:
        made.append(p)
    p = plot_curves(fgd, "frag_pct_of_capacity", "fragmented GPU, % of capacity", out / "fragmentation.png",
                    "Fragmentation (FGD definition) vs arrived")
    if p:
        made.append(p)
    return made


def cmd_sweep(args: argparse.Namespace) -> int:
    from simulator.report import comparison_rows, plain_table
    from simulator.sweep import make_jobs, run_jobs

    _need(args, "nodes")
    placements = [p.strip() for p in args.placements.split(",") if p.strip()]
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    check_names(placements, policies, args.method)
    seeds = parse_seeds(args.seeds)
    for pods in args.pods:  # fail fast on bad inputs, before any worker starts
        load_inputs(args.nodes, pods)
    jobs = make_jobs(args.nodes, args.pods, placements, policies, seeds, _options(args))
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc="sweep", unit="run", file=sys.stderr, disable=not sys.stderr.isatty())
    results = run_jobs(jobs, workers=args.workers, scheduler=args.scheduler,
                       on_done=lambda r: bar.update(1) if bar else None)
    if bar:
        bar.close()
    aggs = [a.to_dict() for a in aggregate(results)]
    header, rows = comparison_rows(aggs)
    keep = [0, 2, 3, 4, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16]
    print(plain_table([header[i] for i in keep], [[r[i] for i in keep] for r in rows]))
    _write_json(args.json_out, {"aggregates": aggs, "runs": results})
    return 0
