"""Running replays: load a fleet and a trace once, run (placement, policy, seed) combinations,
and aggregate over seeds. Used by ``dra sim`` and by the sweep workers.

Model names are made canonical here (catalog keys), so a trace's ``G2`` or ``h100`` and a
fleet's node models compare equal, and an unknown model is reported with the valid names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable

from simulator.engine import RunResult, replay_fgd, replay_time
from dra.errors import UserError
from simulator.errors import UnknownNameError
from simulator.fleet.catalog import canonical, mig_profile_names
from simulator.fleet.load import load_fleet
from simulator.fleet.model import Fleet
from simulator.metrics import summary
from simulator.placement import get_placement
from simulator.sampling import ALL_NODES, num_feasible_nodes_to_find
from simulator.scoring import get_policy
from simulator.trace.load import load_trace
from simulator.trace.model import Trace

METHODS = ("fgd", "time")


@dataclass(frozen=True)
class RunOptions:
    method: str = "fgd"
    inflation: float = 1.3
    tie_break: str | None = None  # None: "order" for the FGD method, "random" for time replays
    replicas: int = 4
    mig_fraction: float = 0.5
    device_choice: str = "policy"
    kubernetes_version: str = "1.37"  # --kubernetes-version, handed to the placement models
    feature_gates: tuple[tuple[str, bool], ...] = ()  # --feature-gates overrides
    # kube-scheduler's percentageOfNodesToScore (simulator.sampling): 100 scores every node,
    # 0 is upstream's adaptive default
    percentage_of_nodes_to_score: int = ALL_NODES

    def placement_options(self) -> dict[str, Any]:
        return {"replicas": self.replicas, "mig_fraction": self.mig_fraction, "device_choice": self.device_choice,
                "kubernetes_version": self.kubernetes_version, "feature_gates": dict(self.feature_gates)}


def canonical_inputs(fleet: Fleet, trace: Trace) -> tuple[Fleet, Trace]:
    nodes = []
    for n in fleet.nodes:
        try:
            nodes.append(dataclasses.replace(n, model=canonical(n.model)) if n.model else n)
        except UserError as err:
            raise UserError(f"fleet {fleet.name}, node {n.name}: {err}") from None
    cache: dict[tuple[str, ...], tuple[str, ...]] = {}
    profiles = mig_profile_names()
    pods = []
    for pod in trace.pods:
        if pod.mig_profile and pod.mig_profile not in profiles:
            raise UserError(f"trace {trace.name}, pod {pod.name}: unknown MIG profile {pod.mig_profile!r} "
                            f"(valid: {', '.join(sorted(profiles))})")
        if pod.gpu_models:
            models = cache.get(pod.gpu_models)
            if models is None:
                try:
                    models = tuple(dict.fromkeys(canonical(m) for m in pod.gpu_models))
                except UserError as err:
                    raise UserError(f"trace {trace.name}, pod {pod.name}: {err}") from None
                cache[pod.gpu_models] = models
            pod = dataclasses.replace(pod, gpu_models=models)
        pods.append(pod)
    return Fleet(fleet.name, nodes), Trace(trace.name, pods)


@lru_cache(maxsize=8)
def load_inputs(nodes: str, pods: str) -> tuple[Fleet, Trace]:
    return canonical_inputs(load_fleet(nodes), load_trace(pods))


def parse_seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                seeds.extend(range(int(lo), int(hi) + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise UnknownNameError("seed list", text, ["42", "42-51", "1,2,3"]) from None
    if not seeds:
        raise UnknownNameError("seed list", text, ["42", "42-51", "1,2,3"])
    return seeds


def check_names(placements: Iterable[str], policies: Iterable[str], method: str) -> None:
    for p in placements:
        get_placement(p)
    for p in policies:
        get_policy(p)
    if method not in METHODS:
        raise UnknownNameError("replay method", method, METHODS)


def run_one(fleet: Fleet, trace: Trace, placement: str, policy: str, seed: int, options: RunOptions,
            progress: Callable[[int], None] | None = None) -> RunResult:
    place = get_placement(placement, **options.placement_options())
    pol = get_policy(policy)
    if options.method == "fgd":
        tie = options.tie_break or "order"
        result = replay_fgd(fleet, trace, place, pol, seed, options.inflation, progress, tie_break=tie,
                            percentage_of_nodes_to_score=options.percentage_of_nodes_to_score)
    elif options.method == "time":
        result = replay_time(fleet, trace, place, pol, seed, progress, tie_break=options.tie_break or "random",
                             percentage_of_nodes_to_score=options.percentage_of_nodes_to_score)
    else:
        raise UnknownNameError("replay method", options.method, METHODS)
    result.extra["kubernetes_version"] = options.kubernetes_version
    result.extra["percentage_of_nodes_to_score"] = options.percentage_of_nodes_to_score
    result.extra["feasible_nodes_to_find"] = num_feasible_nodes_to_find(options.percentage_of_nodes_to_score,
                                                                       len(fleet.nodes))
    return result


def job_params(job: tuple) -> dict:
    """A sweep job's parameters, as a failed job is reported."""
    nodes, pods, placement, policy, seed, options = job
    return {"nodes": str(nodes), "pods": str(pods), "placement": placement, "policy": policy, "seed": seed,
            "method": options.method}


def run_job(job: tuple[str, str, str, str, int, RunOptions]) -> dict:
    """One sweep job by file names (local worker processes): the result dict, or, when the job
    fails, ``{"error": ..., "job": <its parameters>}`` so the rest of the sweep completes."""
    nodes, pods, placement, policy, seed, options = job
    try:
        fleet, trace = load_inputs(nodes, pods)
        result = run_one(fleet, trace, placement, policy, seed, options).to_dict()
    except Exception as err:  # reported with the job's parameters; the sweep goes on
        return {"error": f"{type(err).__name__}: {err}", "job": job_params(job)}
    result["nodes_source"], result["pods_source"] = nodes, pods
    return result


def run_data(fleet: Fleet, trace: Trace, job: tuple[str, str, str, str, int, RunOptions]) -> dict:
    """One sweep job on data the client loaded (Dask workers need no access to its files)."""
    nodes, pods, placement, policy, seed, options = job
    try:
        result = run_one(fleet, trace, placement, policy, seed, options).to_dict()
    except Exception as err:
        return {"error": f"{type(err).__name__}: {err}", "job": job_params(job)}
    result["nodes_source"], result["pods_source"] = nodes, pods
    return result


@dataclass
class Aggregate:
    placement: str
    policy: str
    trace: str
    fleet: str
    method: str
    runs: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        runs = self.runs
        out: dict[str, Any] = {
            "placement": self.placement, "policy": self.policy, "trace": self.trace, "fleet": self.fleet,
            "method": self.method, "seeds": [r["seed"] for r in runs],
            # kube-scheduler's node sampling the runs used (simulator.sampling; 100: every node)
            "percentage_of_nodes_to_score": (runs[0].get("percentage_of_nodes_to_score", ALL_NODES) if runs
                                             else ALL_NODES),
        }
        scalar_keys = ["failed", "failed_gpu", "pending", "scheduled", "pods", "pods_per_s", "wall_s"]
        if self.method == "fgd":
            scalar_keys += ["unallocated_pct_at_arrived_100", "idle_or_wasted_pct_at_arrived_100",
                            "unallocated_pct_final", "gpus_wasted",
                            "gpus_allocated", "frag_pct_final"]
        else:
            scalar_keys += ["gpu_hours_allocated", "gpu_hours_requested", "gpu_hours_wasted"]
        for key in scalar_keys:
            values = [r.get(key) for r in runs]
            s = summary(v for v in values if isinstance(v, (int, float)))
            s["per_seed"] = {str(r["seed"]): r.get(key) for r in runs}
            out[key] = s
        for key in ("isolation_violations", "wrong_model", "topology_violations", "index_disagreements",
                    "allocator_calls"):
            out[key] = summary(r["counters"].get(key, 0) for r in runs)
        if self.method == "time":
            for q in ("p50", "p90", "p99", "mean"):
                out[f"queueing_delay_{q}_s"] = summary(r["queueing_delay_s"][q] for r in runs)
        out["curves"] = _curve_bands(runs)
        return out


def _curve_bands(runs: list[dict]) -> dict:
    """Per curve and x: median and inter-quartile band over seeds."""
    from simulator.metrics import fill_forward, percentile

    bands: dict[str, dict[str, list[float | None]]] = {}
    names = set().union(*(r.get("curves", {}).keys() for r in runs)) if runs else set()
    for name in sorted(names):
        if name == "utilisation":
            continue
        series = [fill_forward(r["curves"][name]) for r in runs if name in r.get("curves", {})]
        if not series:
            continue
        n = max(len(s) for s in series)
        med, q1, q3 = [], [], []
        for i in range(n):
            vals = [s[i] for s in series if i < len(s) and s[i] is not None]
            med.append(percentile(vals, 50))
            q1.append(percentile(vals, 25))
            q3.append(percentile(vals, 75))
        bands[name] = {"median": med, "q1": q1, "q3": q3}
    return bands


def aggregate(results: Iterable[dict]) -> list[Aggregate]:
    groups: dict[tuple, Aggregate] = {}
    for r in results:
        key = (r["trace"], r["fleet"], r["placement"], r["policy"], r["method"])
        if key not in groups:
            groups[key] = Aggregate(r["placement"], r["policy"], r["trace"], r["fleet"], r["method"])
        groups[key].runs.append(r)
    for agg in groups.values():
        agg.runs.sort(key=lambda r: r["seed"])
    return list(groups.values())
