"""``dra sim``: replay, compare and sweep (registered through the ``dra.commands`` entry point).

    dra sim replay  --nodes NODES -f PODS --method fgd --policy fgd --seeds 42-51 -o OUT.json
    dra sim compare --embedded-default              # what `make run` shows
    dra sim compare --nodes N -f P1 -f P2 --placements device-plugin,dra --policies kube-default,fgd -o DIR
    dra sim sweep   --nodes N -f P1 -f P2 --placements ... --policies ... --seeds 42-51
                    [--workers 4 | --scheduler tcp://HOST:8786] -o OUT.json

Conventions (kubectl's): ``-f/--pods`` names the input trace (repeatable for compare and
sweep), ``-o/--output`` where the results go; the old ``--json`` and ``--out`` still work and
print a deprecation warning. Output paths are checked before anything runs.
``--kubernetes-version`` (1.34-1.37, default 1.37) and ``--feature-gates`` select the
Kubernetes whose DRA semantics the DRA placement follows; they are recorded in every result.
Progress: a bar on a terminal, otherwise one line on stderr every few seconds.

NODES: a built-in fleet name (modern-mix, dgx-h100-32, ...), an openb or spot-GPU-2026 node
list (.csv) or a fleet YAML. PODS: an openb pod list (.csv), the DLRM-2025 trace (.csv), a
generic CSV/JSONL trace, or ``synthetic[:JOBS[:SEED[:gangs=F]]]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from simulator.fleet.builtin import FLEETS
from simulator.placement import PLACEMENTS
from simulator.run import METHODS, RunOptions, aggregate, check_names, load_inputs, parse_seeds, run_one
from simulator.sampling import ALL_NODES
from simulator.scoring import POLICIES

EMBEDDED = {
    "nodes": "modern-mix",
    "pods": "synthetic:1200:42",
    "placements": "device-plugin,time-slicing,mig-mixed,dra",
    "policies": "kube-default,fgd",
    "seeds": "42-43",
    "time_seeds": "42",
}


def _checked(text: str, convert: Any, ok: Any, expected: str) -> Any:
    """``convert(text)`` when ``ok`` says so, else argparse's one-line error (exit 2)."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
    return value


def _fraction(text: str) -> float:
    return float(_checked(text, float, lambda v: 0.0 <= v <= 1.0, "a number between 0 and 1"))


def _positive_int(text: str) -> int:
    return int(_checked(text, int, lambda v: v >= 1, "a positive integer"))


def _positive_float(text: str) -> float:
    return float(_checked(text, float, lambda v: v > 0, "a positive number"))


def _percentage(text: str) -> int:
    return int(_checked(text, int, lambda v: 0 <= v <= 100, "a whole number from 0 to 100"))


class _Deprecated(argparse.Action):
    """An old spelling that still works: stores into the new option's dest and says so once."""

    def __init__(self, option_strings: list[str], dest: str, new: str = "", **kwargs: Any) -> None:
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"warning: {option_string} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def _common(p: argparse.ArgumentParser, *, nodes_required: bool = True) -> None:
    from dra.versions import DEFAULT_VERSION, SUPPORTED_MINORS

    need = " (required)" if nodes_required else " (required unless --embedded-default)"
    p.add_argument("--nodes", required=nodes_required, metavar="FLEET",
                   help="fleet" + need + ": built-in name (" + ", ".join(FLEETS) + "), an openb or "
                        "spot-GPU-2026 node list (.csv) or a fleet YAML")
    p.add_argument("--method", default="fgd", choices=METHODS,
                   help="fgd: the FGD paper's replay (shuffle, inflate to --inflation, no departures); "
                        "time: arrivals, departures and a pending queue")
    p.add_argument("--seeds", default="42", help="seeds: 42, 42-51 or 1,5,9 (default 42)")
    p.add_argument("--inflation", type=_positive_float, default=1.3,
                   help="FGD method: fill to this x GPU capacity (default 1.3)")
    p.add_argument("--tie-break", choices=("order", "random"), default=None,
                   help="equal scores: first node of a seeded order (the FGD artifact; default for "
                        "--method fgd) or uniformly random (kube-scheduler; default for --method time)")
    p.add_argument("--replicas", type=_positive_int, default=4, help="time-slicing replicas per GPU (default 4)")
    p.add_argument("--mig-fraction", type=_fraction, default=0.5,
                   help="static MIG: share of MIG-capable nodes partitioned, 0 to 1 (default 0.5)")
    p.add_argument("--percentage-of-nodes-to-score", type=_percentage, default=ALL_NODES, metavar="PERCENT",
                   help="kube-scheduler's node sampling: a cycle scores only the first feasible nodes it finds, "
                        "this percentage of the fleet (at least 100 nodes); 0 is kube-scheduler's adaptive "
                        "default (50 - nodes/125, at least 5); default 100: every node")
    p.add_argument("--device-choice", choices=("policy", "allocator"), default="policy",
                   help="DRA: pin the devices the policy picked (policy) or let the allocator's first fit decide")
    p.add_argument("--kubernetes-version", default=DEFAULT_VERSION, metavar="VERSION",
                   help=f"Kubernetes whose DRA semantics the DRA placement follows: {', '.join(SUPPORTED_MINORS)} "
                        f"(default {DEFAULT_VERSION})")
    p.add_argument("--feature-gates", default="", metavar="A=true,B=false",
                   help="feature-gate overrides on top of that version's defaults")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or progress lines")


def _pods_option(p: argparse.ArgumentParser, *, repeat: bool, required: bool) -> None:
    text = ("trace: openb pod list (.csv), the DLRM-2025 trace (.csv), generic CSV/JSONL, or "
            "synthetic[:N[:SEED[:gangs=F]]]")
    if repeat:
        text += "; several: -f A -f B or -f A B (what a shell's {a,b} expansion gives)"
    if required:
        text += " (required)"
    if repeat:
        p.add_argument("-f", "--pods", action="extend", nargs="+", required=required, metavar="TRACE", help=text)
    else:
        p.add_argument("-f", "--pods", required=required, metavar="TRACE", help=text)


def _output_options(p: argparse.ArgumentParser, what: str, old: str, default: str | None = None) -> None:
    p.add_argument("-o", "--output", default=default, metavar="PATH",
                   help=what + (f" (default {default})" if default else "") + "; checked before the run starts")
    p.add_argument(old, dest="output", action=_Deprecated, new="-o/--output", metavar="PATH",
                   help=f"deprecated spelling of -o/--output")


def register(subparsers: Any) -> None:
    sim = subparsers.add_parser("sim", help="replay pod traces on GPU fleets: device plugin vs DRA")
    sub = sim.add_subparsers(dest="sim_command", metavar="SUBCOMMAND")

    rp = sub.add_parser("replay", help="replay one trace with one placement and policy over seeds")
    _common(rp)
    _pods_option(rp, repeat=False, required=True)
    rp.add_argument("--policy", default="fgd", help="scoring policy: " + ", ".join(POLICIES) + " (default fgd)")
    rp.add_argument("--placement", default="dra", help="placement model: " + ", ".join(PLACEMENTS) + " (default dra)")
    _output_options(rp, "write the results (JSON) to this file", "--json")
    rp.set_defaults(func=cmd_replay)

    cp = sub.add_parser("compare", help="several placements and policies on one or more traces: table, report, plots")
    _common(cp, nodes_required=False)
    _pods_option(cp, repeat=True, required=False)
    cp.add_argument("--placements", default="device-plugin,time-slicing,mig-mixed,dra",
                    help="comma-separated placement models: " + ", ".join(PLACEMENTS))
    cp.add_argument("--policies", default="kube-default,fgd", help="comma-separated policies: " + ", ".join(POLICIES))
    _output_options(cp, "report directory (report.md, results.json, plots)", "--out", default="out/compare")
    cp.add_argument("--workers", type=_positive_int, default=1, help="parallel worker processes (default 1)")
    cp.add_argument("--price-per-gpu-hour", type=_price, default=None, metavar="USD",
                    help="price of one GPU-hour: the wasted-capacity figure and the report also show dollars")
    cp.add_argument("--embedded-default", action="store_true",
                    help="the built-in demo: synthetic LLM/ML mix on the modern-mix fleet (make run)")
    cp.set_defaults(func=cmd_compare)

    sp = sub.add_parser("sweep", help="placements x policies x traces x seeds, in parallel (local or Dask)")
    _common(sp)
    _pods_option(sp, repeat=True, required=True)
    sp.add_argument("--placements", default="device-plugin,dra",
                    help="comma-separated placement models: " + ", ".join(PLACEMENTS))
    sp.add_argument("--policies", default="kube-default,fgd", help="comma-separated policies: " + ", ".join(POLICIES))
    sp.add_argument("--workers", type=_positive_int, default=2, help="local worker processes (default 2)")
    sp.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="Dask scheduler address (runs on that cluster)")
    _output_options(sp, "write all results and aggregates (JSON) to this file", "--json")
    sp.set_defaults(func=cmd_sweep)
    sim.set_defaults(func=lambda args: (sim.print_help(), 2)[1])


def _options(args: argparse.Namespace, method: str | None = None) -> RunOptions:
    from dra.versions import KubernetesVersion, parse_gate_overrides, parse_minor

    minor = parse_minor(args.kubernetes_version)
    gates = parse_gate_overrides(args.feature_gates) if args.feature_gates else {}
    KubernetesVersion.of(minor, gates)  # unknown gates are refused here, before any run
    return RunOptions(method=method or args.method, inflation=args.inflation, tie_break=args.tie_break,
                      replicas=args.replicas, mig_fraction=args.mig_fraction, device_choice=args.device_choice,
                      kubernetes_version=minor, feature_gates=tuple(sorted(gates.items())),
                      percentage_of_nodes_to_score=args.percentage_of_nodes_to_score)


def _sampling_context(percentage: int, nodes: int) -> str:
    """The report's line on kube-scheduler's node sampling (simulator.sampling)."""
    from simulator.sampling import num_feasible_nodes_to_find

    if percentage == ALL_NODES:
        return "100 (every node scored)"
    label = "0 (kube-scheduler's adaptive default)" if percentage == 0 else str(percentage)
    kept = num_feasible_nodes_to_find(percentage, nodes)
    return f"{label}: the first {kept} feasible nodes of {nodes} scored per cycle"


def check_output(path: str | None, *, directory: bool) -> None:
    """Refuse an output path that cannot be written, before the run (not after it)."""
    from simulator.errors import UserError

    if not path:
        return
    out = Path(path)
    if out.exists():
        if directory and not out.is_dir():
            raise UserError(f"-o {path}: exists and is not a directory")
        if not directory and out.is_dir():
            raise UserError(f"-o {path}: is a directory, expected a file name")
        target = out if directory else out.parent
        if not os.access(target, os.W_OK):
            raise UserError(f"-o {path}: not writable")
        return
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"-o {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK):
        raise UserError(f"-o {path}: cannot create it under {parent} (not writable)")


def _need(args: argparse.Namespace, *names: str) -> None:
    from simulator.errors import UserError

    for name in names:
        if not getattr(args, name, None):
            raise UserError(f"--{name.replace('_', '-')} is required")


class _Progress:
    """A tqdm bar on a terminal; elsewhere (CI logs, nohup) one line on stderr every few seconds."""

    def __init__(self, total: int, enabled: bool, desc: str, unit: str = "pod", every_s: float = 5.0) -> None:
        self.bar = None
        self.total, self.desc, self.unit, self.every_s = total, desc, unit, every_s
        self.enabled = enabled and total > 0
        self.last = 0
        self.started = self.printed = time.monotonic()
        if self.enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, leave=False, file=sys.stderr)

    def __call__(self, i: int) -> None:
        """Progress is at ``i`` (absolute)."""
        self.update(i - self.last)

    def update(self, n: int = 1) -> None:
        self.last += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.enabled:
            now = time.monotonic()
            if now - self.printed >= self.every_s:
                self.printed = now
                pct = min(100.0, self.last / self.total * 100)
                print(f"{self.desc}: {self.last}/{self.total} {self.unit}s ({pct:.0f}%), "
                      f"{now - self.started:.0f} s", file=sys.stderr, flush=True)

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
    check_output(args.output, directory=False)
    fleet, trace = load_inputs(args.nodes, args.pods)
    results = []
    for seed in seeds:
        progress = _Progress(int(len(trace.pods) * max(1.0, args.inflation)), not args.no_progress, f"seed {seed}")
        r = run_one(fleet, trace, args.placement, args.policy, seed, options, progress).to_dict()
        progress.close()
        if not results:  # the fleet/trace mismatch is the same for every seed: say it once
            for line in r.get("warnings", []):
                print(line, file=sys.stderr)
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
    _write_json(args.output, {**agg, "runs": results})
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from simulator.plots import planner_figures
    from simulator.report import comparison_rows, markdown_report, plain_table

    if args.embedded_default:
        args.nodes = args.nodes or EMBEDDED["nodes"]
        args.pods = args.pods or [EMBEDDED["pods"]]
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
    options = {m: _options(args, m) for m in methods}
    check_output(args.output, directory=True)
    inputs = [load_inputs(args.nodes, pods) for pods in args.pods]  # every input checked before any run
    fleet = inputs[0][0]
    started = time.perf_counter()
    results: list[dict] = []
    combos = []
    for k, pods in enumerate(args.pods):
        for m in methods:
            m_seeds = parse_seeds(EMBEDDED["time_seeds"]) if args.embedded_default and m == "time" else seeds
            combos += [(k, pods, m, pl, po, s) for pl in placements for po in policies for s in m_seeds]
    bar = _Progress(len(combos), not args.no_progress, "replays", unit="run")
    if args.workers > 1:
        from simulator.sweep import run_jobs

        jobs = [(args.nodes, pods, pl, po, s, options[m]) for _, pods, m, pl, po, s in combos]
        results = run_jobs(jobs, workers=args.workers, on_done=lambda r: bar.update(1))
        failed = [r for r in results if r.get("error")]
        if failed:
            from simulator.errors import UserError

            raise UserError(f"{len(failed)} of {len(results)} replays failed; first: {failed[0]['error']}")
    else:
        for k, _, m, pl, po, s in combos:
            _, trace = inputs[k]
            results.append(run_one(fleet, trace, pl, po, s, options[m]).to_dict())
            bar.update(1)
    bar.close()
    aggs = [a.to_dict() for a in aggregate(results)]
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    plots = planner_figures(aggs, out, args.price_per_gpu_hour)
    traces = [t for _, t in inputs]
    context = {
        "fleet": f"{fleet.name} ({len(fleet.nodes)} nodes, {fleet.total_gpus} GPUs)",
        "trace": ", ".join(f"{t.name} ({len(t.pods)} pods)" for t in traces),
        "methods": ", ".join(methods), "seeds": args.seeds,
        "kubernetes version": options[methods[0]].kubernetes_version,
        "percentageOfNodesToScore": _sampling_context(options[methods[0]].percentage_of_nodes_to_score,
                                                      len(fleet.nodes)),
        "wall time": f"{time.perf_counter() - started:.1f} s",
    }
    title = "Device plugin vs DRA" + (" (embedded default)" if args.embedded_default else "")
    (out / "report.md").write_text(markdown_report(title, aggs, context, [p.name for p in plots],
                                                   price_per_gpu_hour=args.price_per_gpu_hour))
    _write_json(str(out / "results.json"), {"context": context, "aggregates": aggs, "runs": results})
    header, rows = comparison_rows(aggs)
    keep = [2, 3, 4, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16]
    if len(traces) > 1:
        keep = [0] + keep
    print(f"{title}: {context['fleet']}, {context['trace']}")
    print(plain_table([header[i] for i in keep], [[r[i] for i in keep] for r in rows]))
    print(f"report: {out / 'report.md'}, results: {out / 'results.json'}, plots: "
          + ", ".join(str(p) for p in plots) + f" ({context['wall time']})")
    return 0


def _price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0: {text!r}")
    return value


def cmd_sweep(args: argparse.Namespace) -> int:
    from simulator.report import comparison_rows, plain_table
    from simulator.sweep import make_jobs, run_jobs

    _need(args, "nodes")
    placements = [p.strip() for p in args.placements.split(",") if p.strip()]
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    check_names(placements, policies, args.method)
    seeds = parse_seeds(args.seeds)
    options = _options(args)
    check_output(args.output, directory=False)
    for pods in args.pods:  # fail fast on bad inputs, before any worker starts
        load_inputs(args.nodes, pods)
    jobs = make_jobs(args.nodes, args.pods, placements, policies, seeds, options)
    bar = _Progress(len(jobs), not args.no_progress, "sweep", unit="run")
    results = run_jobs(jobs, workers=args.workers, scheduler=args.scheduler, on_done=lambda r: bar.update(1))
    bar.close()
    failed = [r for r in results if r.get("error")]
    done = [r for r in results if not r.get("error")]
    for r in failed:
        print(f"failed: {r['job']}: {r['error']}", file=sys.stderr)
    if done:
        aggs = [a.to_dict() for a in aggregate(done)]
        header, rows = comparison_rows(aggs)
        keep = [0, 2, 3, 4, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16]
        print(plain_table([header[i] for i in keep], [[r[i] for i in keep] for r in rows]))
    else:
        aggs = []
    _write_json(args.output, {"aggregates": aggs, "runs": done, "failed": failed})
    if failed:
        print(f"{len(failed)} of {len(results)} jobs failed (listed above; their parameters are under "
              "'failed' in the JSON)", file=sys.stderr)
        return 1
    return 0
