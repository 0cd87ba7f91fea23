"""kube-scheduler's node sampling: ``percentageOfNodesToScore``.

kube-scheduler does not filter and score every node of a large cluster. Each scheduling cycle
walks its node list from where the previous cycle stopped (``nextStartNodeIndex``), stops
filtering once it has found ``numFeasibleNodesToFind`` feasible nodes, and scores only those
(pkg/scheduler/schedule_one.go, ``findNodesThatPassFilters``). The number comes from the
``percentageOfNodesToScore`` setting (KubeSchedulerConfiguration, global or per profile):

- clusters of fewer than 100 nodes: every node;
- 0, the default: adaptive, ``50 - nodes/125`` percent, at least 5 percent;
- in every case at least 100 nodes.

So on openb's 1,213 nodes the default scheduler scores the first 497 feasible nodes it meets
(41%), on the 4,278-node spot fleet the first 684 (16%). A node the policy would like best is
never seen when it lies past that window; the window moves on every cycle by the nodes it
examined (the feasible ones kept plus the infeasible ones met before the next feasible node
cut the walk short).

Upstream filters in parallel (16 goroutines by default) and stops when enough feasible nodes
are counted, so which nodes the window holds varies a little from run to run; with
``parallelism: 1`` the walk is sequential and deterministic. The simulator models the
sequential walk. kube-scheduler's node list is in the order its informer delivered the Nodes
(neither name nor creation order), so the walk goes over a permutation of the fleet seeded by
the run's seed (``engine.build_cluster``). Pods of one gang are placed on their clique
without sampling. OpportunisticBatching (1.35+, on by default), which reuses the previous
cycle's ranking for consecutive identical pods placed one per node within 500 ms of wall time,
is not modelled: it depends on wall-clock time and skips every pod with a ResourceClaim.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from simulator.errors import UserError

MIN_FEASIBLE_NODES_TO_FIND = 100  # upstream minFeasibleNodesToFind
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5  # upstream minFeasibleNodesPercentageToFind
ALL_NODES = 100  # the percentage that samples nothing (the simulator's default)


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """How many feasible nodes a scheduling cycle looks for before it stops filtering
    (upstream ``numFeasibleNodesToFind``; ``percentage`` 0 is the adaptive default)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(num_all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


def samples(percentage: int, num_all_nodes: int) -> bool:
    """Whether a cycle can stop before it has seen every node (else sampling is moot)."""
    return num_feasible_nodes_to_find(percentage, num_all_nodes) < num_all_nodes


def check_percentage(value: int, where: str) -> int:
    """The setting as upstream validates it: a whole number from 0 to 100."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
        raise UserError(f"{where}: {value!r} is not a whole number from 0 to 100 "
                        "(0: kube-scheduler's adaptive default; 100: every node)")
    return value


def sampling_note(aggs: Iterable[Mapping], sep: str = " | ") -> str:
    """``<sep>percentageOfNodesToScore P`` for figure titles and report sentences when the runs
    sampled nodes as kube-scheduler does; nothing when they scored every node."""
    values = sorted({a.get("percentage_of_nodes_to_score", ALL_NODES) for a in aggs} - {ALL_NODES})
    if not values:
        return ""
    return sep + "percentageOfNodesToScore " + ", ".join("0 (adaptive)" if v == 0 else str(v) for v in values)
