"""The scheduling cycle: filter, score, pick, bind -- over groups of identical nodes.

kube-scheduler filters every node, scores the feasible ones and picks the highest score,
breaking ties uniformly at random. Doing that per node in Python would cost 1,213 filter and
score calls per pod on the openb fleet; instead nodes whose state keys are equal (same
model, capacities, free CPU/memory, multiset of free milli per GPU, and whatever else the
placement model or the policy reads) are kept in one group, and the filter+score result is
cached per (group, demand shape). Groups change only when a pod binds or leaves, so most
lookups hit. Per demand shape, the feasible groups sit in a heap ordered by (score, rank of
their first node) that is updated lazily from a log of the groups created or joined since the
shape was last scheduled -- a cycle costs O(changes x log groups), not O(nodes). The groups
and the per-shape tie-break structures are in ``simulator.groups``.

Most filter calls on a busy fleet fail, and two things make them cheap without changing an
answer: a bind only takes resources and filters are monotone in free resources, so the shapes
(and GPU shapes) that failed on a node's old state are marked failed on its new one without a
call (``Group.blocked``); and the placement model's GPU filter, the slow part, is cached per
GPU shape (``Demand.gpu_shape``: shapes differing only in CPU or memory share it). Groups
whose nodes differ only in free CPU or memory (equal ``Placement.gpu_key``) share that GPU
answer, and FGD's score, which reads free CPU only through a few cuts (``Policy.score_key``).
tests/test_sim_caches.py checks every cached answer against a fresh one.

Ties: ``tie_break="random"`` draws uniformly over *nodes* (a group weighs as many as it has
members), which is kube-scheduler's selectHost; ``"order"`` takes the first node of a seeded
permutation, which is what the FGD paper's artifact does (its vendored selectHost takes the
lexicographically smallest name among the top scores; names carry a seeded permutation prefix;
see README, "Reproducing the FGD paper"). ``select_scan`` evaluates every group and is the reference the heap is tested against.

After the pick, the policy chooses GPUs on the actual node, and the placement model binds
(the DRA model runs the real allocator here). A bind that the placement model refuses -- the
index said yes, the allocator no -- is counted and the node is skipped for this pod.
"""

from __future__ import annotations

import heapq
import random
from bisect import bisect_left
from typing import Any, Callable

from simulator.fleet.catalog import gpu_memory_mib
from simulator.fleet.catalog import model as catalog_model
from simulator.fleet.model import Fleet
from simulator.frag import FragModel
from simulator.groups import Bucket, Group, ShapeBuckets, ShapeHeap, first_member
from simulator.placement.base import Placement
from simulator.sampling import ALL_NODES, check_percentage, num_feasible_nodes_to_find, samples
from simulator.scoring.base import Policy, ScoringContext
from simulator.state import Binding, Counters, Demand, NodeState, affinity_tag
from simulator.trace.model import Pod

INFEASIBLE = -1
MEMO_CAP = 500_000  # entries in each cross-group memo before all are cleared (see Cluster._gpu_state_id)


def nvlink_connected(model: str, gpus: tuple[int, ...]) -> bool:
    """Whether these GPUs of one node share an NVLink domain (the model's board topology)."""
    spec = catalog_model(model)
    kind = spec.nvlink if spec else "none"
    if kind in ("switch", "mesh", "fabric"):
        return True
    if kind == "pairs":
        return len({g // 2 for g in gpus}) == 1
    return False


class NoMemo(dict):
    """A memo that never remembers: ``Cluster.share_answers`` off, and tests and benchmarks
    that compare a memoised run with one asking every time (the DRA allocator memo)."""

    def __setitem__(self, key: object, value: object) -> None:
        pass


class Cluster:
    share_answers = True  # False: every group asks the placement and the policy itself (tests compare both)

    def __init__(self, fleet: Fleet, placement: Placement, policy: Policy,
                 frag: FragModel | Callable[[], FragModel], rng: random.Random,
                 tie_break: str = "random", anti_affinity: bool = False,
                 percentage_of_nodes_to_score: int = ALL_NODES, node_list: list[int] | None = None) -> None:
        self.anti_affinity = anti_affinity  # nodes' per-app counts are part of their group key
        self.fleet = fleet
        self.placement = placement
        self.policy = policy
        self.rng = rng
        self.counters = Counters()
        self.nodes = [NodeState(i, spec, gpu_memory_mib(spec.model)) for i, spec in enumerate(fleet.nodes)]
        placement.setup(self.nodes, fleet, self.counters)
        # ``frag`` may be made only now: its typical pods are the placement's demands, which can
        # depend on the setup (static MIG picks a pod's slice from the fleet's MIG layout)
        if not isinstance(frag, FragModel):
            frag = frag()
        self.frag = frag
        if hasattr(policy, "setup"):  # policies that normalise by the fleet's largest node
            policy.setup(self.nodes)
        self.ctx = ScoringContext(rng=rng, frag=frag, eligible=placement.eligible, claim_score=placement.claim_score)
        self.capacity_milli = 1000 * sum(n.gpu_count for n in self.nodes)
        self.used_milli = 0
        self.frag_milli = 0.0
        self._node_frag = [frag.frag_of(n) for n in self.nodes]
        self.frag_milli = sum(self._node_frag)
        self.tie_break = tie_break
        # The FGD artifact prefixes node names with a seeded random permutation, and its vendored
        # kube-scheduler (vendor/k8s.io/kubernetes/pkg/scheduler/core/generic_scheduler.go,
        # selectHost) replaces the reservoir sampling with "smallest node name among the top
        # scores, for reproducibility": equal scores go to the first node in that order.
        self.rank = list(range(len(self.nodes)))
        rng.shuffle(self.rank)
        # kube-scheduler's node sampling (simulator.sampling): a cycle stops filtering after
        # this many feasible nodes, walking the scheduler's node list from where the last cycle
        # stopped. When it is every node, the sampled walk and the full search are the same
        # question, and the group structures below answer it without a walk.
        check_percentage(percentage_of_nodes_to_score, "percentage_of_nodes_to_score")
        self.nodes_to_find = num_feasible_nodes_to_find(percentage_of_nodes_to_score, len(self.nodes))
        self.sampling = samples(percentage_of_nodes_to_score, len(self.nodes))
        self.next_start = 0  # upstream nextStartNodeIndex: a position in node_list
        # The scheduler's node list (see engine.build_cluster, which gives a seeded permutation);
        # None: the fleet's order.
        if node_list is None and self.sampling:
            node_list = list(range(len(self.nodes)))
        if node_list is not None and sorted(node_list) != list(range(len(self.nodes))):
            raise ValueError("node_list must be a permutation of the fleet's node indices")
        self.node_list = node_list
        self._walks: dict[tuple[int, ...], list[int]] = {}  # possible classes -> their nodes' positions
        self.groups: dict[tuple, Group] = {}
        self._log: list[Group | None] = []  # groups created or joined, in order (None: emptied since)
        self._log_read = 0  # how much of _log some shape has read (see _append)
        self._heaps: dict[int, ShapeHeap] = {}
        self._buckets: dict[int, ShapeBuckets] = {}
        self._shape_ids: dict[tuple, int] = {}
        self._gpu_shape_of: list[int] = []  # shape id -> GPU shape id (see Group.gpu_ok)
        self._gpu_shapes: dict[tuple, int] = {}
        self._gids = 0
        self._keys: list[tuple] = []
        # Caches of emptied groups by state key, oldest first (see _retire). States come back
        # soon or rarely: on openb x10 the 2,048 latest retirements serve 79-85% of new groups
        # (all of them, 84%); on the 4,278-node spot fleet with 100k pods only a fifth of new
        # groups ever had a predecessor, and keeping 18,000 retirements cost 90 MiB for nothing.
        self._retired: dict[tuple, tuple[dict, dict, set, set]] = {}
        self._retired_cap = 2048
        # Answers shared between groups whose nodes differ only in free CPU or memory (most new
        # groups on a large mixed fleet: one pod's CPU moves a node to a new key while its GPUs
        # stay as another group's): the GPU filter per (GPU state, GPU shape), and the score per
        # (GPU state, GPU shape, Policy.score_key) for a policy that says what else it reads.
        # GPU states get ids (hashed once per group, not per lookup); ids are never reused, so
        # clearing the memos when they grow large forgets answers but never mixes them up.
        self._gpu_state_ids: dict[tuple, int] = {}
        self._next_gpu_state = 0
        self._gpu_fits: dict[tuple[int, int], bool] = {} if self.share_answers else NoMemo()
        self._scores: dict[tuple, int] = {}
        self._score_key = policy.score_key if self.share_answers else None
        # Static classes: nodes that are alike when empty (model, GPUs, capacities). A demand
        # that cannot fit an empty node of a class never fits one of its nodes, so each shape
        # reads only the change logs of the classes it could fit (``possible``).
        self._classes: dict[tuple, int] = {}
        self.node_class: list[int] = []
        self._class_rep: list[NodeState] = []
        self._class_log: list[list[Group | None]] = []
        self._class_read: list[int] = []  # per class, how much of its log some shape has read
        self._possible: dict[int, tuple[int, ...]] = {}
        for node in self.nodes:
            ckey = (node.model, node.gpu_count, node.cpu_cap, node.mem_cap, node.gpu_mem)
            cls = self._classes.get(ckey)
            if cls is None:
                cls = self._classes[ckey] = len(self._class_rep)
                self._class_rep.append(node)
                self._class_log.append([])
                self._class_read.append(0)
            self.node_class.append(cls)
        for node in self.nodes:
            key = self._key(node)
            self._keys.append(key)
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = self._new_group(self.node_class[node.idx], key)
            group.add(node.idx)

    # -- grouping -----------------------------------------------------------------------
    def _key(self, node: NodeState) -> tuple:
        """The node's group key: ``Placement.node_key`` (free CPU, free memory, GPU key), then
        the policy's and the anti-affinity's extras."""
        key = self.placement.node_key(node)
        if self.policy.uses_tags:
            key = key + (frozenset(node.tags),)
        if self.anti_affinity and node.apps:
            key = key + (frozenset(node.apps.items()),)
        return key

    def _new_group(self, cls: int, key: tuple) -> Group:
        self._gids += 1
        return Group(self._gids, cls, self._gpu_state_id(key[2]))  # node_key's third part: the GPU key

    def _gpu_state_id(self, gpu_key: tuple) -> int:
        ids = self._gpu_state_ids
        found = ids.get(gpu_key)
        if found is None:
            if len(ids) >= MEMO_CAP or len(self._gpu_fits) >= MEMO_CAP or len(self._scores) >= MEMO_CAP:
                ids.clear()
                self._gpu_fits.clear()
                self._scores.clear()
            found = ids[gpu_key] = self._next_gpu_state
            self._next_gpu_state += 1
        return found

    def _retire(self, key: tuple, group: Group) -> None:
        """A group emptied: keep its filter and score caches under its state key for the next
        group with that key (a score is a function of the key: the key holds whatever the
        placement model and the policy read), and drop them from the dead group, which the
        change logs and buckets keep until read past (every reader checks ``alive`` first).
        On a busy fleet nodes move back and forth between a few states, so most new groups
        have had a predecessor; without this each recomputed its scores and filters."""
        retired = self._retired
        retired[key] = (group.cache, group.gpu_ok, group.blocked, group.gpu_blocked)
        if len(retired) > self._retired_cap:  # bounded: the oldest retirement goes first
            del retired[next(iter(retired))]
        group.cache = group.gpu_ok = None  # type: ignore[assignment]
        group.gpu_blocked = group.blocked = None  # type: ignore[assignment]
        group.members = group.order = None  # type: ignore[assignment]

    def _forget(self, group: Group) -> None:
        """A group emptied: blank its entries in the change log (None), so that the shapes
        reading past them later skip it without touching it. A dead group stays dead (a node
        returning to its state makes a new group), and readers skip dead groups anyway, so no
        answer and no random draw changes. On openb x10 half the entries the shapes read were such
        groups, old and scattered in memory: reading them cost 3% of the replay's instructions
        and 15% of its misses in a 2 MiB cache (cachegrind)."""
        log = self._log if self.tie_break == "order" else self._class_log[group.cls]
        for position in group.entries:
            log[position] = None
        group.entries = None  # type: ignore[assignment]

    def _revive(self, key: tuple, group: Group) -> None:
        """A new group takes the caches its key's last group left (see :meth:`_retire`)."""
        caches = self._retired.pop(key, None)
        if caches is not None:
            group.cache, group.gpu_ok, group.blocked, group.gpu_blocked = caches

    @staticmethod
    def could_fit_empty(node: NodeState, d: Demand) -> bool:
        """Whether ``d`` could fit ``node`` were it empty: a conservative static filter (it
        never says no to a demand the real filter could accept)."""
        if d.cpu > node.cpu_cap or d.mem > node.mem_cap:
            return False
        if d.count:
            if node.gpu_count == 0 or (d.models and node.model not in d.models):
                return False
            if not d.mig and d.count > node.gpu_count:
                return False
            if d.gpu_mem and node.gpu_mem and d.gpu_mem > node.gpu_mem:
                return False
        return True

    def possible(self, sid: int, d: Demand) -> tuple[int, ...]:
        """The static classes shape ``sid`` could fit (cached)."""
        classes = self._possible.get(sid)
        if classes is None:
            classes = self._possible[sid] = tuple(
                c for c, rep in enumerate(self._class_rep) if self.could_fit_empty(rep, d))
        return classes

    def shape_id(self, d: Demand) -> int:
        shape = d.shape
        sid = self._shape_ids.get(shape)
        if sid is None:
            sid = self._shape_ids[shape] = len(self._shape_ids)
            self._gpu_shape_of.append(self._gpu_shapes.setdefault(d.gpu_shape, len(self._gpu_shapes)))
        return sid

    def _regroup(self, node: NodeState, consumed: bool = False) -> None:
        """Move ``node`` to the group of its new state key. ``consumed``: the change only took
        resources (a bind), so every shape that failed the filter on the old state fails on
        the new one too (filters are monotone in free resources) and is marked blocked there
        without being evaluated -- most filter calls on a busy fleet are such failures."""
        old = self._keys[node.idx]
        group = self.groups[old]
        blocked = group.blocked if consumed else None
        gpu_blocked = group.gpu_blocked if consumed else None
        group.remove(node.idx)
        if group.first == node.idx:
            group.first = -1
        if not group.members:
            group.alive = False
            del self.groups[old]
            self._retire(old, group)
            self._forget(group)
        key = self._key(node)
        self._keys[node.idx] = key
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = self._new_group(self.node_class[node.idx], key)
            self._revive(key, group)
        group.add(node.idx)
        if blocked:
            group.blocked |= blocked
        if gpu_blocked:
            group.gpu_blocked |= gpu_blocked
        if group.first >= 0 and self.rank[node.idx] < self.rank[group.first]:
            group.first = node.idx
        # A group joined again while its last log entry is still unread by every shape is not
        # logged again: each reader takes a group once (the first time it appears), at its size
        # when read, so the entry already there stands for both joins. Nodes leaving and coming
        # back to one state (identical pods departing together) would otherwise fill the logs.
        # Only one reader exists per run: the heap for the "order" tie-break, the per-class
        # buckets otherwise; the other log would only keep dead groups alive.
        if self.tie_break == "order":
            if group.logged < self._log_read:
                group.logged = len(self._log)
                group.entries.append(group.logged)
                self._log.append(group)
        elif group.class_logged < self._class_read[group.cls]:
            group.class_logged = len(self._class_log[group.cls])
            group.entries.append(group.class_logged)
            self._class_log[group.cls].append(group)
        f = self.frag.frag_of(node)
        self.frag_milli += f - self._node_frag[node.idx]
        self._node_frag[node.idx] = f

    # -- filter and score ----------------------------------------------------------------
    def feasible(self, node: NodeState, d: Demand) -> bool:
        if node.cpu_free < d.cpu or node.mem_free < d.mem:
            return False
        if d.max_per_node and node.apps.get(d.app, 0) >= d.max_per_node:
            return False
        if d.count:
            if node.gpu_count == 0:
                return False
            if d.models and node.model not in d.models:
                return False
            return self.placement.fits(node, d)
        return not d.rdma_milli or self.placement.fits(node, d)  # a CPU-only pod's NIC share

    def _evaluate(self, node: NodeState, d: Demand) -> int:
        if not self.feasible(node, d):
            return INFEASIBLE
        return self.policy.score(node, d, self.ctx)

    def select(self, d: Demand, exclude: set[int] | None = None) -> NodeState | None:
        if self.sampling:
            return self.select_sampled(d, exclude)
        if exclude or self.policy.uniform_ties:
            return self.select_scan(d, exclude)
        if self.tie_break == "order":
            return self._select_heap(d)
        return self._select_uniform(d)

    def _select_uniform(self, d: Demand) -> NodeState | None:
        """Highest score, uniform over the nodes of every group with it (kube-scheduler's
        selectHost), in O(changes since this shape last ran x log groups) per pod."""
        sid = self.shape_id(d)
        classes = self.possible(sid, d)
        sb = self._buckets.get(sid)
        if sb is None:
            sb = self._buckets[sid] = ShapeBuckets()
            allowed = set(classes)
            fresh: Any = [g for g in self.groups.values() if g.cls in allowed]
            for c in classes:
                sb.seen[c] = self._class_read[c] = len(self._class_log[c])
        else:
            fresh = []
            seen = sb.seen
            for c in classes:
                log = self._class_log[c]
                if seen[c] < len(log):
                    fresh.extend(log[seen[c]:])
                    seen[c] = self._class_read[c] = len(log)
        buckets, scores = sb.buckets, sb.scores
        # Most groups a shape reads fail its GPU filter, often known already from another shape
        # with the same GPU part (gpu_ok False): those are skipped without a call (nothing to
        # cache: the GPU shape's failure is already in gpu_blocked, which binds pass on).
        gsid = self._gpu_shape_of[sid] if d.count else -1
        # A group joined several times since this shape last ran is read once (dict keeps order).
        for group in dict.fromkeys(fresh) if len(fresh) > 1 else fresh:
            if group is None:  # a group that emptied since it was logged (see _forget)
                continue
            score = group.cache.get(sid)
            if score is None:
                if group.gpu_ok.get(gsid) is False:
                    continue
                score = self._score_of(group, sid, d)
            if score < 0:
                continue
            bucket = buckets.get(score)
            if bucket is None:
                bucket = buckets[score] = Bucket()
                heapq.heappush(scores, -score)
            bucket.set(group, len(group.members))
        rng = self.rng
        while scores:
            bucket = buckets[-scores[0]]
            while bucket.total > 0:
                slot, offset = bucket.find(rng.randrange(bucket.total))
                group = bucket.groups[slot]
                size = len(group.members) if group.alive else 0
                if offset < size:
                    return self.nodes[group.order[offset]]
                bucket.set(group, size)  # stale: the group shrank since it was counted
            del buckets[-heapq.heappop(scores)]
        return None

    def fits_node(self, idx: int, sid: int, d: Demand) -> bool:
        """Whether node ``idx`` passes the filter for shape ``sid`` (= ``d``) now (cached per group)."""
        return self._score_of(self.groups[self._keys[idx]], sid, d) >= 0

    def _score_of(self, group: Group, sid: int, d: Demand) -> int:
        score = group.cache.get(sid)
        if score is None:
            if sid in group.blocked:
                score = INFEASIBLE
            else:
                node = self.nodes[next(iter(group.members))]
                if self._feasible_in(group, node, sid, d):
                    score_key = self._score_key
                    if score_key is None:
                        score = self.policy.score(node, d, self.ctx)
                    else:
                        memo = (group.gpu_state, self._gpu_shape_of[sid], score_key(node, d, self.ctx))
                        score = self._scores.get(memo)  # type: ignore[assignment]
                        if score is None:
                            score = self._scores[memo] = self.policy.score(node, d, self.ctx)
                else:
                    score = INFEASIBLE
                    group.blocked.add(sid)
            group.cache[sid] = score
        return score

    def _feasible_in(self, group: Group, node: NodeState, sid: int, d: Demand) -> bool:
        """:meth:`feasible` for a node of ``group``, the GPU part cached per GPU shape."""
        if node.cpu_free < d.cpu or node.mem_free < d.mem:
            return False
        if d.max_per_node and node.apps.get(d.app, 0) >= d.max_per_node:
            return False
        if not d.count:
            return not d.rdma_milli or self.placement.fits(node, d)  # a CPU-only pod's NIC share
        gsid = self._gpu_shape_of[sid]
        ok = group.gpu_ok.get(gsid)
        if ok is None:
            if gsid in group.gpu_blocked:
                ok = False
            else:
                memo = (group.gpu_state, gsid)
                ok = self._gpu_fits.get(memo)
                if ok is None:
                    ok = self._gpu_fits[memo] = (node.gpu_count != 0 and not (d.models and node.model not in d.models)
                                                 and self.placement.fits(node, d))
                if not ok:
                    group.gpu_blocked.add(gsid)
            group.gpu_ok[gsid] = ok
        return ok

    def _select_heap(self, d: Demand) -> NodeState | None:
        sid = self.shape_id(d)
        rank = self.rank
        sh = self._heaps.get(sid)
        if sh is None:
            sh = self._heaps[sid] = ShapeHeap()
            fresh: Any = list(self.groups.values())
        else:
            fresh = self._log[sh.seen:]
        sh.seen = self._log_read = len(self._log)
        heap = sh.heap
        gsid = self._gpu_shape_of[sid] if d.count else -1
        for group in fresh:
            if group is None:  # emptied since logged (see _forget)
                continue
            score = group.cache.get(sid)  # a cached score skips the call (most fresh groups are new: a miss)
            if score is None:
                if group.gpu_ok.get(gsid) is False:  # known to fail: see _select_uniform
                    continue
                score = self._score_of(group, sid, d)
            if score >= 0:
                heapq.heappush(heap, (-score, rank[first_member(group, rank)], group.gid, group))
        while heap:  # best score, then the lowest rank: the "order" tie-break (its only caller)
            neg, r, gid, group = heap[0]
            if not group.alive:
                heapq.heappop(heap)
                continue
            current = rank[first_member(group, rank)]
            if current != r:
                heapq.heapreplace(heap, (neg, current, gid, group))
                continue
            return self.nodes[group.first]
        return None

    def select_sampled(self, d: Demand, exclude: set[int] | None = None) -> NodeState | None:
        """One kube-scheduler cycle with node sampling (see simulator.sampling): walk the node
        list from ``next_start``, keep the first ``nodes_to_find`` feasible ones, and pick among
        those with the highest score (the tie-break as in :meth:`select_scan`). The walk stops
        at the next feasible node after them, which is checked but neither kept nor counted:
        the next cycle starts there. Filter answers and scores come from the group caches,
        so a cycle costs O(nodes of the classes it could fit walked)."""
        sid = self.shape_id(d)
        n = len(self.nodes)
        start, want = self.next_start, self.nodes_to_find
        # Only nodes of the static classes the shape could fit are visited: the others fail its
        # filter whatever their state (Cluster.could_fit_empty), so skipping them changes no
        # answer, and the stop's offset is still measured over every node.
        classes = self.possible(sid, d)
        order: list[int] = self.node_list  # type: ignore[assignment]  # set whenever sampling
        walk = self._walks.get(classes)
        if walk is None:
            allowed = set(classes)
            node_class = self.node_class
            walk = self._walks[classes] = [p for p, i in enumerate(order) if node_class[i] in allowed]
        groups, keys, score_of = self.groups, self._keys, self._score_of
        best, ties, found = INFEASIBLE, [], 0
        processed = n  # every node, unless the walk is cut short
        m = len(walk)
        first = bisect_left(walk, start)
        for k in range(m):
            j = first + k
            position = walk[j if j < m else j - m]
            idx = order[position]
            group = groups[keys[idx]]
            score = group.cache.get(sid)
            if score is None:
                score = score_of(group, sid, d)
            if score < 0 or (exclude and idx in exclude):
                continue
            if found == want:
                processed = (position - start) % n
                break
            found += 1
            if score > best:
                best, ties = score, [idx]
            elif score == best:
                ties.append(idx)
        self.next_start = (start + processed) % n
        if not ties:
            return None
        if self.tie_break == "order" and not self.policy.uniform_ties:
            return self.nodes[min(ties, key=self.rank.__getitem__)]
        return self.nodes[ties[self.rng.randrange(len(ties))] if len(ties) > 1 else ties[0]]

    def select_scan(self, d: Demand, exclude: set[int] | None = None,
                    only: set[int] | None = None) -> NodeState | None:
        """Reference path: evaluate every group (used with exclusions, node subsets -- a gang's
        clique -- and uniform policies)."""
        sid = self.shape_id(d)
        best = INFEASIBLE
        ties: list[Group] = []
        total = 0
        nodes = self.nodes
        filtered = bool(exclude) or only is not None

        def members_of(group: Group) -> list[int]:
            return [m for m in group.order if (only is None or m in only) and not (exclude and m in exclude)]

        for group in self.groups.values():
            score = group.cache.get(sid)
            if score is None:
                score = self._score_of(group, sid, d)
            if score < best or score == INFEASIBLE:
                continue
            if filtered:
                n = len(members_of(group))
                if n == 0:
                    continue
            else:
                n = len(group.members)
            if score > best:
                best, ties, total = score, [group], n
            else:
                ties.append(group)
                total += n
        if not ties:
            return None
        if self.tie_break == "order" and not self.policy.uniform_ties:
            rank = self.rank
            if filtered:
                candidates = [m for g in ties for m in members_of(g)]
            else:
                candidates = [first_member(g, rank) for g in ties]
            return nodes[min(candidates, key=rank.__getitem__)]
        r = self.rng.randrange(total)
        for group in ties:
            if filtered:
                members = members_of(group)
                if r < len(members):
                    return nodes[members[r]]
                r -= len(members)
            elif r < len(group.members):
                for m in group.members:
                    if r == 0:
                        return nodes[m]
                    r -= 1
            else:
                r -= len(group.members)
        raise AssertionError("unreachable")

    # -- bind and release ------------------------------------------------------------------
    def schedule(self, pod: Pod, d: Demand, now: float, only: set[int] | None = None) -> Binding | None:
        """Filter, score, pick and bind one pod (on a node of ``only`` when given); None if nothing fits."""
        exclude: set[int] | None = None
        while True:
            node = self.select_scan(d, exclude, only) if only is not None else self.select(d, exclude)
            if node is None:
                return None
            gpus = self.policy.pick_gpus(node, d, self.ctx) if d.count else ()
            binding = self.placement.bind(node, pod, d, gpus, now)
            if binding is not None:
                break
            self.counters.index_disagreements += 1
            exclude = (exclude or set()) | {node.idx}
        node.cpu_free -= d.cpu
        node.mem_free -= d.mem
        tag = affinity_tag(d)
        if tag is not None:
            node.tags[tag] = node.tags.get(tag, 0) + 1
        binding.demand = d
        if d.max_per_node:
            node.apps[d.app] = node.apps.get(d.app, 0) + 1
        if d.models and node.model not in d.models:
            self.counters.wrong_model += 1
        if d.nvlink and len(binding.gpus) > 1 and not nvlink_connected(node.model, binding.gpus):
            self.counters.topology_violations += 1
        self.used_milli += binding.charged
        self._regroup(node, consumed=True)
        return binding

    def work_done(self) -> dict[str, int]:
        """How much distinct state the run has made so far: node states (groups created, each
        filtered and scored afresh unless a retired group's caches served it), distinct GPU
        states (the keys of the shared GPU-filter and score memos; a state seen again after
        those memos were cleared at their cap counts again) and node states whose FGD
        fragmentation was computed. For benchmarks: two runs of one trace that differ here
        did different amounts of scheduling work, whatever their code costs per step."""
        return {"node_states": self._gids, "gpu_states": self._next_gpu_state,
                "fragmentation_computations": self.frag.computed}

    def release(self, binding: Binding) -> None:
        node = self.nodes[binding.node]
        self.placement.release(node, binding)
        d: Demand = binding.demand
        node.cpu_free += d.cpu
        node.mem_free += d.mem
        tag = affinity_tag(d)
        if tag is not None:
            left = node.tags.get(tag, 0) - 1
            if left > 0:
                node.tags[tag] = left
            else:
                node.tags.pop(tag, None)
        if d.max_per_node:
            left = node.apps[d.app] - 1
            if left:
                node.apps[d.app] = left
            else:
                del node.apps[d.app]
        self.used_milli -= binding.charged
        self._regroup(node)
