"""The FGD paper's fragmentation measure (Weng et al., ATC'23, sec. 3; see sim-anchors.md 1.3).

*Typical pods* M: the distinct request shapes (cpu, per-GPU milli, GPU count, allowed models)
of the original trace, most frequent first, cut where they cover >= 95% of pods (CPU-only
pods included), with frequencies renormalised over the kept shapes.

*Node fragment* F_n = sum over m in M of p_m * (idle GPU milli of n that m cannot use):
all idle milli when m cannot run on n at all (no GPU of a model m accepts, too few GPUs with
enough free milli, too little CPU, or m is CPU-only), and otherwise only the idle milli on
GPUs whose free milli is below m's per-GPU need.

F depends only on (model, which typical pods' CPU requests the free CPU covers, multiset of
free milli per GPU), so values are memoised on that key: identical nodes -- hundreds of them
in the openb fleet -- cost one computation.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from itertools import accumulate
from dataclasses import dataclass
from typing import Iterable

from typing import TYPE_CHECKING

from simulator.state import Demand, NodeState

if TYPE_CHECKING:
    from simulator.trace.model import Pod

POPULARITY_THRESHOLD = 0.95
DEFAULT_CPU_MILLI = 100  # kube-scheduler's non-zero default request, as the artifact uses


def pod_cpu(d: Demand) -> int:
    """The CPU a pod counts for in scoring and in the typical pods: kube-scheduler's non-zero
    default request for a pod that asks none."""
    return d.cpu if d.cpu > 0 else DEFAULT_CPU_MILLI


@dataclass(frozen=True, slots=True)
class TypicalPod:
    cpu: int
    milli: int
    count: int
    models: tuple[str, ...]
    freq: float


def typical_pods(demands: Iterable[Demand], threshold: float = POPULARITY_THRESHOLD) -> list[TypicalPod]:
    counts: Counter[tuple[int, int, int, tuple[str, ...]]] = Counter()
    for d in demands:
        cpu = pod_cpu(d)
        if d.count == 0 or d.milli == 0:
            counts[(cpu, 0, 0, ())] += 1
        else:
            counts[(cpu, d.milli, d.count, d.models)] += 1
    total = sum(counts.values())
    if total == 0:
        return []
    # Most frequent first; equal counts ordered by (cpu, milli, count, models) descending,
    # which is the artifact's sort.Reverse over (frequency, cpu, milli, count, type).
    ordered = sorted(counts.items(), key=lambda kv: (kv[1], kv[0][0], kv[0][1], kv[0][2], kv[0][3]), reverse=True)
    kept: list[tuple[tuple[int, int, int, tuple[str, ...]], int]] = []
    covered = 0
    for shape, n in ordered:
        if covered >= threshold * total:
            break
        kept.append((shape, n))
        covered += n
    return [TypicalPod(s[0], s[1], s[2], s[3], n / covered) for s, n in kept]


def trace_typical_pods(pods: Iterable["Pod"], threshold: float = POPULARITY_THRESHOLD) -> list[TypicalPod]:
    """Typical pods of the trace *as the pods ask* (per-GPU milli, GPU count, allowed models),
    whatever a placement model turns them into. A fragmentation curve measured with these is
    the same question for every placement ("how much idle GPU can the trace's pods not use"),
    so curves of the integer device plugin, static MIG and DRA are comparable; typical pods
    from each placement's own demands (what the FGD policy scores with) are not -- under the
    integer device plugin a 0.3-GPU pod "needs" 1000 milli."""
    from simulator.state import Demand

    demands = []
    for p in pods:
        n = p.num_gpu if p.gpu_milli > 0 else 0
        demands.append(Demand(cpu=p.cpu_milli, mem=p.memory_mib, count=n, milli=p.gpu_milli if n else 0,
                              models=p.gpu_models))
    return typical_pods(demands, threshold)


class FragModel:
    """Node and cluster fragmentation for one set of typical pods, memoised by node state."""

    def __init__(self, typical: list[TypicalPod]) -> None:
        self.typical = typical
        self._memo: dict[tuple, float] = {}
        self.computed = 0  # node states whose F was computed, not taken from the memo
        self._plans: dict[tuple[str, int], tuple[list[tuple[float, int, int]], list[int]]] = {}
        self._cpu_cuts = sorted({t.cpu for t in typical})

    def node_frag(self, model: str, cpu_free: int, gpu_free: Iterable[int]) -> float:
        gpus = tuple(sorted(gpu_free))
        # F reads the free CPU only through "cpu_free < t.cpu" for the typical pods' CPU
        # requests, so free CPU amounts between the same two requests give the same F: the
        # memo is keyed by that interval, not the amount (far more hits, same values).
        key = (model, bisect_right(self._cpu_cuts, cpu_free), gpus)
        value = self._memo.get(key)
        if value is None:
            value = self._compute(model, cpu_free, gpus)
            self.computed += 1
            if len(self._memo) > 2_000_000:
                self._memo.clear()
            self._memo[key] = value
        return value

    def cpu_class(self, cpu_free: int) -> int:
        """Which typical pods' CPU requests ``cpu_free`` covers (F reads free CPU only so)."""
        return bisect_right(self._cpu_cuts, cpu_free)

    def frag_of(self, node: NodeState) -> float:
        return self.node_frag(node.model, node.cpu_free, node.gpu_free)

    def _plan(self, model: str, cpu_class: int) -> tuple[list[tuple[float, int, int]], list[int]]:
        """The typical pods' terms of F for one model and one free-CPU class, in their order:
        (freq, j, count) with j the index of the pod's per-GPU milli in the returned sorted
        list of distinct millis, or -1 when the pod cannot run here whatever the GPUs hold
        (CPU-only, another model, or more CPU than the class covers): "all idle". Typical
        pods with the same milli share one bisection of the free GPUs."""
        key = (model, cpu_class)
        plan = self._plans.get(key)
        if plan is None:
            millis = sorted({t.milli for t in self.typical if t.milli})
            where = {m: j for j, m in enumerate(millis)}
            terms = []
            for t in self.typical:
                # the CPU request is covered iff it is one of the first ``cpu_class`` cuts
                runs_here = t.milli != 0 and not (t.models and model not in t.models) \
                    and bisect_left(self._cpu_cuts, t.cpu) < cpu_class
                terms.append((t.freq, where[t.milli] if runs_here else -1, t.count))
            plan = self._plans[key] = (terms, millis)
        return plan

    def _compute(self, model: str, cpu_free: int, gpus: tuple[int, ...]) -> float:
        # ``gpus`` is sorted ascending, so for a typical pod needing m milli per GPU the GPUs
        # below m are a prefix: one bisection gives both how many GPUs fit and the idle milli
        # of those that do not (the sum of the prefix); typical pods with the same m share it.
        # The sum runs over the typical pods in their order with the same float operations
        # as the definition, so values are bit-identical to the plain loop.
        idle = sum(gpus)
        if idle == 0:
            return 0.0
        terms, millis = self._plan(model, bisect_right(self._cpu_cuts, cpu_free))
        n = len(gpus)
        prefix: list[int] | None = None
        # per distinct milli m: (idle milli on the GPUs below m, how many GPUs have m free)
        split: list[tuple[int, int] | None] = [None] * len(millis)
        frag = 0.0
        for freq, j, count in terms:
            if j < 0:
                frag += freq * idle
                continue
            at = split[j]
            if at is None:
                if prefix is None:
                    prefix = list(accumulate(gpus, initial=0))
                k = bisect_left(gpus, millis[j])
                at = split[j] = (prefix[k], n - k)
            frag += freq * (at[0] if at[1] >= count else idle)
        return frag
