"""Replays on simpy: the FGD paper's method and a time-based replay with departures.

``replay_fgd`` reproduces sim-anchors.md 1.4 exactly: pods sorted by name and shuffled with
the seed; random pods (uniform, with replacement) cloned and appended until the next clone
would pass ``inflation`` x the fleet's GPU capacity (the check adds the clone's per-GPU milli,
as the artifact does) or random pods removed while above it; then pods are placed one at a
time with no departures and no retries, a pod that does not fit being recorded as failed.
After every attempt we sample (arrived milli, allocated milli, fragmented milli).

``replay_time`` honours arrival times and durations: a pod that does not fit waits in a FIFO
pending queue that is retried whenever a pod leaves; it reports queueing delays and the GPU
hours allocated against those requested.

The pending queue is indexed by demand shape (one FIFO per shape, a global sequence number
keeping the overall order). A departure frees resources on one node only, and every pending
shape failed its last attempt while everything since has only consumed resources, so the
only node where a pending pod can fit now is the one just freed (filters are monotone in free
resources). A departure therefore retries, in FIFO order, only the shapes whose filter passes
on that node -- the same pods, in the same order, as retrying the whole queue. Pending shapes
are also indexed by the static node classes (model, GPU count, capacities) they could fit
when empty, so a departure looks only at the shapes its node's class could ever serve: a
pod that fits no node of the fleet costs nothing after its first attempt.
"""

from __future__ import annotations

import dataclasses
import heapq
import random
import time
from array import array
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import simpy

from simulator.fleet.model import Fleet
from simulator.frag import FragModel, typical_pods
from simulator.gang import Gangs, Member, honors_clique
from simulator.gcpolicy import relaxed_gc
from simulator.metrics import bin_curve, fill_forward, percentile
from simulator.placement.base import Placement
from simulator.sampling import ALL_NODES, samples
from simulator.scheduler import Cluster
from simulator.scoring.base import Policy
from simulator.state import Binding, Demand
from simulator.trace.model import Pod, Trace

Progress = Callable[[int], None]


@dataclass
class RunResult:
    method: str
    placement: str
    policy: str
    seed: int
    trace: str
    fleet: str
    pods: int = 0
    scheduled: int = 0
    failed: int = 0
    failed_gpu: int = 0
    pending: int = 0
    capacity_gpus: int = 0
    wall_s: float = 0.0
    counters: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def pods_per_s(self) -> float:
        return self.pods / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict:
        return {
            "method": self.method, "placement": self.placement, "policy": self.policy, "seed": self.seed,
            "trace": self.trace, "fleet": self.fleet, "pods": self.pods, "scheduled": self.scheduled,
            "failed": self.failed, "failed_gpu": self.failed_gpu, "pending": self.pending,
            "capacity_gpus": self.capacity_gpus, "wall_s": round(self.wall_s, 3),
            "pods_per_s": round(self.pods_per_s, 1), "counters": self.counters, "curves": self.curves,
            **self.extra,
        }


def demand_for(placement: Placement, pod: Pod) -> Demand | None:
    """The placement model's demand, plus what the engine owns: anti-affinity and the NIC share."""
    d = placement.demand(pod)
    if d is not None and pod.rdma_milli:
        placement.check_rdma(pod)
    if d is not None and (pod.max_per_node > 0 or pod.rdma_milli):
        d = dataclasses.replace(d, app=pod.app if pod.max_per_node > 0 else "",
                                max_per_node=max(0, pod.max_per_node), rdma_milli=pod.rdma_milli)
    return d


def build_cluster(fleet: Fleet, trace: Trace, placement: Placement, policy: Policy, seed: int,
                  tie_break: str = "random",
                  percentage_of_nodes_to_score: int = ALL_NODES,
                  node_list: list[int] | None = None) -> tuple[Cluster, list[Demand | None]]:
    """The cluster, set up, and every pod's demand (in ``trace.pods`` order). The demands, and
    the typical pods FGD's fragmentation measure takes from them, are made after the placement's
    setup, as the replay sees them: a placement's demand may depend on it (static MIG picks a
    pod's slice profile from the fleet's MIG layout).

    With node sampling (``percentage_of_nodes_to_score``), ``node_list`` is kube-scheduler's node
    list: the order its informer delivered the Nodes, which is neither name nor creation order
    (tests/real/test_real_sampling.py reads it from kube-scheduler's log). By default a
    permutation seeded by ``seed`` alone, from its own random stream, so that a sampled run
    replays the same pods in the same order as the run that scores every node."""
    demands: list[Demand | None] = []
    n = len(fleet.nodes)
    if node_list is None and samples(percentage_of_nodes_to_score, n):
        node_list = list(range(n))
        random.Random(f"kube-scheduler node list {seed}").shuffle(node_list)

    def frag_after_setup() -> FragModel:
        demands.extend(demand_for(placement, p) for p in trace.pods)
        return FragModel(typical_pods(d for d in demands if d is not None))

    cluster = Cluster(fleet, placement, policy, frag_after_setup, random.Random(seed), tie_break,
                      anti_affinity=any(p.max_per_node > 0 for p in trace.pods),
                      percentage_of_nodes_to_score=percentage_of_nodes_to_score, node_list=node_list)
    return cluster, demands


def fgd_order(pods: list[Pod], rng: random.Random, capacity_milli: int, inflation: float) -> list[Pod]:
    order = sorted(pods, key=lambda p: p.name)
    rng.shuffle(order)
    if inflation <= 0:
        return order
    target = inflation * capacity_milli
    total = sum(p.total_gpu_milli for p in order)
    if total < target:
        source = sorted(pods, key=lambda p: p.name)
        clones: list[Pod] = []
        while source:
            pick = source[rng.randrange(len(source))]
            if total + pick.gpu_milli > target:
                break
            clones.append(pick.clone(f"{pick.name}-clone-{len(clones)}"))
            total += pick.total_gpu_milli
        order.extend(clones)
    else:
        while total > target and order:
            victim = order.pop(rng.randrange(len(order)))
            total -= victim.total_gpu_milli
            if victim.gang:  # a gang leaves whole (a gang of one, e.g. a clone, is just the pod)
                rest = [p for p in order if p.gang == victim.gang]
                if rest:
                    order = [p for p in order if p.gang != victim.gang]
                    total -= sum(p.total_gpu_milli for p in rest)
    return order


def _demand_lookup(placement: Placement, trace: Trace,
                   demands: list[Demand | None]) -> Callable[[Pod], Demand | None]:
    """``demand_for`` during a replay: the demand ``build_cluster`` made for a pod of the trace
    (after the placement's setup, so the same), computed afresh for others (FGD-method clones)."""
    made = {id(p): d for p, d in zip(trace.pods, demands)}

    def lookup(pod: Pod) -> Demand | None:
        d = made.get(id(pod), _NOT_MADE)
        return demand_for(placement, pod) if d is _NOT_MADE else d  # type: ignore[return-value]

    return lookup


_NOT_MADE = object()


def failure_log(cluster: Cluster) -> Any:
    """Per-pod failure reasons (``simulator.placement.diagnose.FailureLog``) where the placement
    package provides them, else None."""
    try:
        from simulator.placement.diagnose import FailureLog  # type: ignore[import-not-found]
    except ImportError:
        return None
    return FailureLog(cluster.nodes)


def _diagnosis(log: Any, demands: list[Demand | None]) -> dict:
    if log is None:
        return {}
    return {"failures": log.to_dict(), "warnings": log.warnings(demands)}


def _accounting(cluster: Cluster) -> dict:
    violations = cluster.counters.isolation_violations
    extra = getattr(cluster.placement, "accounting", None)
    return {**(extra() if extra is not None else {}),
        "isolation_violations": len(violations),
        "wrong_model": cluster.counters.wrong_model,
        "topology_violations": cluster.counters.topology_violations,
        "index_disagreements": cluster.counters.index_disagreements,
        "allocator_calls": cluster.counters.allocator_calls,
    }


@relaxed_gc
def replay_fgd(fleet: Fleet, trace: Trace, placement: Placement, policy: Policy, seed: int,
               inflation: float = 1.3, progress: Progress | None = None, tie_break: str = "random",
               percentage_of_nodes_to_score: int = ALL_NODES) -> RunResult:
    cluster, demands = build_cluster(fleet, trace, placement, policy, seed, tie_break, percentage_of_nodes_to_score)
    demand_of = _demand_lookup(placement, trace, demands)
    log = failure_log(cluster)
    order = fgd_order(trace.pods, cluster.rng, cluster.capacity_milli, inflation)
    env = simpy.Environment()
    arrived: list[int] = []
    used: list[int] = []
    frag: list[float] = []
    result = RunResult("fgd", placement.name, policy.name, seed, trace.name, fleet.name,
                       pods=len(order), capacity_gpus=cluster.capacity_milli // 1000)
    bindings: list[Binding] = []
    requested_placed = 0
    useful: list[int] = []
    useful_milli = 0

    gangs = Gangs(cluster, trace, honors_clique(placement.name))
    members_of: dict[str, list[Pod]] = {}
    for pod in order:
        if gangs.is_member(pod):
            members_of.setdefault(pod.gang, []).append(pod)
    gang_outcome: dict[str, Binding | None] = {}  # member name -> its binding (None: the gang failed)

    def place_gang(gang: str) -> None:
        pods = members_of[gang]
        members = [(p, demand_for(placement, p)) for p in pods]
        bound = gangs.place(members, env.now) if len(pods) == gangs.sizes[gang] else None
        for i, p in enumerate(pods):
            gang_outcome[p.name] = bound[i] if bound else None

    def run() -> simpy.events.Event:
        nonlocal requested_placed, useful_milli
        arrived_milli = 0
        for i, pod in enumerate(order):
            d = demand_of(pod)
            arrived_milli += pod.total_gpu_milli
            if gangs.is_member(pod):
                # the whole gang is placed (or not) when its first member comes up in the order
                if pod.name not in gang_outcome:
                    place_gang(pod.gang)
                b = gang_outcome[pod.name]
            else:
                b = cluster.schedule(pod, d, env.now) if d is not None else None
            if b is None:
                result.failed += 1
                result.failed_gpu += 1 if pod.is_gpu else 0
                if log is not None:
                    log.record(pod, d)
            else:
                bindings.append(b)
                requested_placed += pod.total_gpu_milli
                # guaranteed use: what the pod asked for, but never more than it was given
                useful_milli += min(pod.total_gpu_milli, b.charged)
            useful.append(useful_milli)
            arrived.append(arrived_milli)
            used.append(cluster.used_milli)
            frag.append(cluster.frag_milli)
            if progress is not None and i % 500 == 0:
                progress(i)
            yield env.timeout(1)

    start = time.perf_counter()
    env.process(run())
    env.run()
    result.wall_s = time.perf_counter() - start
    result.scheduled = len(bindings)
    cap = cluster.capacity_milli
    alloc_curve = bin_curve(arrived, used, cap)
    useful_curve = bin_curve(arrived, useful, cap)
    frag_curve = bin_curve(arrived, frag, cap)
    idle = [cap - u for u in used]
    ratio = [f / i * 100 if i > 0 else 0.0 for f, i in zip(frag, idle)]
    ratio_curve = _bin_plain(arrived, ratio, cap)
    result.curves = {
        "allocated_pct": alloc_curve,
        "unallocated_pct": [None if v is None else 100 - v for v in alloc_curve],
        "frag_pct_of_capacity": frag_curve,
        "frag_ratio_pct": ratio_curve,
        "useful_pct": useful_curve,
    }
    charged = cluster.used_milli
    if gangs.sizes:
        cluster.counters.topology_violations += gangs.stats.split_across_cliques
    result.counters = _accounting(cluster)
    # A bin with no sample (a big pod can jump over it) takes the last value before it.
    unalloc = fill_forward(result.curves["unallocated_pct"])
    result.extra = {
        "unallocated_pct_at_arrived_100": unalloc[100] if len(unalloc) > 100 else None,
        "unallocated_pct_final": 100 - charged / cap * 100 if cap else None,
        "idle_or_wasted_pct_at_arrived_100": (
            100 - fill_forward(useful_curve)[100] if len(useful_curve) > 100 and fill_forward(useful_curve)[100] is not None else None
        ),
        "gpus_allocated": charged / 1000,
        "gpus_requested_by_placed": requested_placed / 1000,
        "gpus_wasted": max(0, charged - requested_placed) / 1000,
        "frag_pct_final": cluster.frag_milli / cap * 100 if cap else None,
    }
    if gangs.sizes:
        result.extra["gangs"] = gangs.stats.to_dict(pending=gangs.stats.jobs - gangs.stats.placed)
    result.extra.update(_diagnosis(log, demands))
    return result


def _bin_plain(arrived: list[int], values: list[float], cap: int, max_bin: int = 130) -> list[float | None]:
    sums = [0.0] * (max_bin + 1)
    counts = [0] * (max_bin + 1)
    for a, v in zip(arrived, values):
        b = int(round(a / cap * 100)) if cap else 0
        if 0 <= b <= max_bin:
            sums[b] += v
            counts[b] += 1
    return [sums[i] / counts[i] if counts[i] else None for i in range(max_bin + 1)]


@relaxed_gc
def replay_time(fleet: Fleet, trace: Trace, placement: Placement, policy: Policy, seed: int,
                progress: Progress | None = None, tie_break: str = "random",
                percentage_of_nodes_to_score: int = ALL_NODES) -> RunResult:
    cluster, demands = build_cluster(fleet, trace, placement, policy, seed, tie_break, percentage_of_nodes_to_score)
    log = failure_log(cluster)
    # every pod with the demand build_cluster made for it, in arrival order (the sort is stable:
    # pods arriving together keep their name order, as before)
    arriving = sorted(zip(trace.pods, demands), key=lambda e: (e[0].arrival, e[0].name))
    env = simpy.Environment()
    pending: dict[int, deque[tuple[int, Pod, Demand]]] = {}  # shape id -> FIFO of (seq, pod, demand)
    gangs = Gangs(cluster, trace, honors_clique(placement.name))
    pending_gangs: list[tuple[float, list[Member]]] = []  # (time the gang was complete, members)
    by_class: dict[int, set[int]] = {}  # static node class -> pending shapes that could fit it
    # per-pod records kept to the end as flat arrays, not a float object (and a tuple) each:
    # at 80k pods they were a fifth of the replay's heap, interleaved with the hot state
    delays = array("d")
    result = RunResult("time", placement.name, policy.name, seed, trace.name, fleet.name,
                       pods=len(arriving), capacity_gpus=cluster.capacity_milli // 1000)
    gpu_ms_alloc = 0.0
    gpu_ms_req = 0.0
    forever: list[Binding] = []  # pods without a duration: still running at the horizon
    sample_time, sample_used = array("d"), array("d")  # (now, cluster.used_milli) after each change
    end_time = [0.0]

    def start(pod: Pod, d: Demand, b: Binding) -> None:
        delays.append(env.now - pod.arrival)
        if pod.duration is None:
            forever.append(b)
        else:
            ev = env.timeout(pod.duration)
            ev.callbacks.append(lambda _e, b=b: depart(b))

    def depart(b: Binding) -> None:
        nonlocal gpu_ms_alloc, gpu_ms_req
        pod = b.pod
        span = env.now - b.time
        gpu_ms_alloc += b.charged * span
        gpu_ms_req += pod.total_gpu_milli * span
        cluster.release(b)
        sample_time.append(env.now)
        sample_used.append(cluster.used_milli)
        retry(b.node)

    def retry_gangs(freed: int) -> None:
        for entry in list(pending_gangs):
            ready, members = entry
            if not gangs.could_help(freed, members):
                continue
            bindings = gangs.place(members, env.now)
            if bindings is not None:
                pending_gangs.remove(entry)
                gangs.stats.waits.append(env.now - ready)
                for (pod, d), b in zip(members, bindings):
                    start(pod, d, b)

    def retry(freed: int) -> None:
        if pending_gangs:  # gangs first: small pods must not starve a job waiting for whole cliques
            retry_gangs(freed)
        heads: list[tuple[int, int]] = []
        for sid in by_class.get(cluster.node_class[freed], ()):
            queue = pending[sid]
            if cluster.fits_node(freed, sid, queue[0][2]):
                heads.append((queue[0][0], sid))
        heapq.heapify(heads)
        while heads:
            _, sid = heapq.heappop(heads)
            queue = pending[sid]
            _, pod, d = queue[0]
            b = cluster.schedule(pod, d, env.now)
            if b is None:
                continue  # this shape stays blocked until the next departure
            queue.popleft()
            start(pod, d, b)
            if not queue:
                del pending[sid]
                for c in cluster.possible(sid, d):
                    by_class[c].discard(sid)
            elif cluster.fits_node(freed, sid, queue[0][2]):
                heapq.heappush(heads, (queue[0][0], sid))

    def wait(i: int, pod: Pod, d: Demand) -> None:
        sid = cluster.shape_id(d)
        queue = pending.get(sid)
        if queue is None:
            queue = pending[sid] = deque()
            for c in cluster.possible(sid, d):
                by_class.setdefault(c, set()).add(sid)
        queue.append((i, pod, d))

    def arrivals() -> simpy.events.Event:
        for i, (pod, d) in enumerate(arriving):
            if pod.arrival > env.now:
                yield env.timeout(pod.arrival - env.now)
            if d is None:
                result.failed += 1
                if log is not None:
                    log.record(pod, None)
                continue
            if gangs.is_member(pod):
                members = gangs.arrive(pod, d)
                if members is not None:  # the last member is here: all or nothing
                    bindings = gangs.place(members, env.now)
                    if bindings is None:
                        pending_gangs.append((env.now, members))
                    else:
                        gangs.stats.waits.append(0.0)
                        for (member, md), b in zip(members, bindings):
                            start(member, md, b)
                sample_time.append(env.now)
                sample_used.append(cluster.used_milli)
                continue
            # Every newcomer gets a scheduling attempt, as in kube-scheduler (no head-of-line
            # blocking); the ones that do not fit wait and are retried when a pod leaves.
            b = cluster.schedule(pod, d, env.now)
            if b is None:
                wait(i, pod, d)
            else:
                start(pod, d, b)
            sample_time.append(env.now)
            sample_used.append(cluster.used_milli)
            if progress is not None and i % 500 == 0:
                progress(i)
        end_time[0] = env.now

    wall = time.perf_counter()
    env.process(arrivals())
    env.run()
    result.wall_s = time.perf_counter() - wall
    horizon = env.now
    for b in forever:  # still running at the end: count until the horizon
        span = horizon - b.time
        gpu_ms_alloc += b.charged * span
        gpu_ms_req += b.pod.total_gpu_milli * span
    left = [(pod, d) for queue in pending.values() for _, pod, d in queue]
    left += [m for _, members in pending_gangs for m in members]
    left += [m for members in gangs.arrived.values() for m in members]  # gangs never complete
    if log is not None:  # why each pod still waits at the end
        for pod, d in left:
            log.record(pod, d)
    waiting = [pod for pod, _ in left]
    result.pending = len(waiting)
    result.failed += len(waiting)
    result.failed_gpu = sum(1 for p in waiting if p.is_gpu)
    result.scheduled = len(delays)
    result.counters = _accounting(cluster)
    cap = cluster.capacity_milli
    result.curves = {"utilisation": _thin(sample_time, sample_used, cap)}
    result.extra = {
        "queueing_delay_s": {
            "mean": sum(delays) / len(delays) if delays else None,
            "p50": percentile(delays, 50), "p90": percentile(delays, 90), "p99": percentile(delays, 99),
            "max": max(delays) if delays else None,
        },
        "gpu_hours_allocated": gpu_ms_alloc / 1000 / 3600,
        "gpu_hours_requested": gpu_ms_req / 1000 / 3600,
        "gpu_hours_wasted": max(0.0, gpu_ms_alloc - gpu_ms_req) / 1000 / 3600,
        "horizon_s": horizon,
    }
    if gangs.sizes:
        result.extra["gangs"] = gangs.stats.to_dict(pending=len(pending_gangs) + len(gangs.arrived))
        cluster.counters.topology_violations += gangs.stats.split_across_cliques
        result.counters = _accounting(cluster)
    result.extra.update(_diagnosis(log, demands))
    return result


def _thin(times: Sequence[float], used: Sequence[float], cap: int, points: int = 400) -> list[list[float]]:
    if not times or cap <= 0:
        return []
    step = max(1, len(times) // points)
    return [[t, u / cap * 100] for t, u in zip(times[::step], used[::step])]
