"""Node groups and the structures the scheduler's tie-breaks keep over them.

A :class:`Group` is a set of nodes whose state keys are equal (see ``simulator.scheduler``): one
filter and score answer serves them all. Per demand shape, the uniform tie-break (kube-scheduler's
``selectHost``) keeps its feasible groups in :class:`ShapeBuckets` -- one :class:`Bucket`, a Fenwick
tree over group sizes, per score -- and the "order" tie-break (the FGD artifact's) keeps them in a
:class:`ShapeHeap`. Both are updated lazily from the cluster's change logs; these classes hold the
data, ``simulator.scheduler.Cluster`` the logic that fills and reads them.
"""

from __future__ import annotations

class Group:
    """Nodes with equal state keys. ``members`` maps a node index to its slot in ``order``
    (a list, so the n-th member is O(1) for the uniform tie-break; removal swaps the last in)."""

    __slots__ = ("members", "order", "cache", "blocked", "gpu_ok", "gpu_blocked", "first", "alive", "gid", "cls",
                 "logged", "class_logged", "gpu_state", "entries")

    def __init__(self, gid: int, cls: int = 0, gpu_state: int = -1) -> None:
        self.members: dict[int, int] = {}
        self.order: list[int] = []
        self.cache: dict[int, int] = {}  # shape id -> score (the scheduler's INFEASIBLE when filtered out)
        # Shapes known to fail the filter here without evaluating it: the group's state was
        # reached by binding pods (only consuming) from a state that failed them, see Cluster._regroup.
        self.blocked: set[int] = set()
        # The GPU part of the filter (the placement model's, the slow part) per GPU shape: far
        # fewer GPU shapes than shapes (shapes differing only in CPU/memory share one).
        self.gpu_ok: dict[int, bool] = {}
        self.gpu_blocked: set[int] = set()  # GPU shapes failing here, inherited like ``blocked``
        self.first = -1  # member with the lowest rank, -1 = not known
        self.alive = True
        self.gid = gid
        self.cls = cls  # static class of its nodes (model, GPUs, capacities), see Cluster.static_class
        self.logged = -1  # position of its last entry in the cluster's change log
        self.class_logged = -1  # and in its class's change log
        self.gpu_state = gpu_state  # id of its nodes' GPU key (Placement.gpu_key), see Cluster._gpu_state_id
        self.entries: list[int] = []  # its positions in the change log its tie-break reads, see Cluster._forget

    def add(self, idx: int) -> None:
        self.members[idx] = len(self.order)
        self.order.append(idx)

    def remove(self, idx: int) -> None:
        slot = self.members.pop(idx)
        last = self.order.pop()
        if last != idx:
            self.order[slot] = last
            self.members[last] = slot


class Bucket:
    """The groups with one score for one demand shape, for a uniform pick over their *nodes*.

    A Fenwick tree holds each group's member count as last seen. Counts grow only when a node
    joins a group, which the cluster's change log reports, so they are raised eagerly; they
    shrink (a node leaves, a group empties) without notice, so a stored count may be too high.
    A pick draws a slot uniformly in [0, stored total): a slot past the group's real size is
    rejected and the count corrected, then the draw is repeated -- exact rejection sampling,
    uniform over the real nodes, each correction paid once. O(log groups) per pick.
    """

    __slots__ = ("tree", "weights", "groups", "slot", "total", "zeros")

    def __init__(self) -> None:
        self.tree: list[int] = [0]  # 1-indexed Fenwick tree over weights
        self.weights: list[int] = []
        self.groups: list[Group] = []
        self.slot: dict[int, int] = {}  # gid -> slot
        self.total = 0
        self.zeros = 0

    def set(self, group: Group, weight: int) -> None:
        s = self.slot.get(group.gid)
        if s is None:
            if weight == 0:
                return
            s = self.slot[group.gid] = len(self.groups)
            self.groups.append(group)
            # tree[i] (1-indexed) sums the weights of slots (i - lowbit(i), i]; the new slot's own
            # weight is still 0, so its node is the sum of the lowbit(i) - 1 slots before it
            # (one C-level sum of a few items; two prefix walks cost O(log slots) in Python)
            i = s + 1
            self.tree.append(sum(self.weights[i - (i & -i):s]))
            self.weights.append(0)
            self.zeros += 1
        old = self.weights[s]
        if weight == old:
            return
        self.weights[s] = weight
        self.total += weight - old
        self.zeros += (weight == 0) - (old == 0)
        i, delta, tree, n = s + 1, weight - old, self.tree, len(self.tree)
        while i < n:
            tree[i] += delta
            i += i & -i
        if self.zeros > 32 and self.zeros * 2 > len(self.groups):
            self._compact()

    def _compact(self) -> None:
        """Drop the slots of weight 0 (the live ones keep their order, so draws map to the same
        groups), rebuilding the tree in O(slots)."""
        live = [(g, w) for g, w in zip(self.groups, self.weights) if w > 0]
        self.groups = [g for g, _ in live]
        self.weights = [w for _, w in live]
        self.slot = {g.gid: s for s, g in enumerate(self.groups)}
        tree = self.tree = [0, *self.weights]
        n = len(tree) - 1
        for i in range(1, n + 1):
            j = i + (i & -i)
            if j <= n:
                tree[j] += tree[i]
        self.total = sum(self.weights)
        self.zeros = 0

    def find(self, r: int) -> tuple[int, int]:
        """The slot holding draw ``r`` (0 <= r < total) and the offset of ``r`` inside it."""
        pos, tree, n = 0, self.tree, len(self.tree) - 1
        step = 1 << n.bit_length()
        while step:
            nxt = pos + step
            if nxt <= n and tree[nxt] <= r:
                pos = nxt
                r -= tree[nxt]
            step >>= 1
        return pos, r


class ShapeBuckets:
    """Feasible groups for one demand shape under the uniform tie-break: score -> Bucket, and a
    heap of the scores (stale scores are dropped when their bucket is found empty)."""

    __slots__ = ("buckets", "scores", "seen")

    def __init__(self) -> None:
        self.buckets: dict[int, Bucket] = {}
        self.scores: list[int] = []  # heap of -score
        self.seen: dict[int, int] = {}  # static class -> how much of its change log was read


def first_member(group: Group, rank: list[int]) -> int:
    """The member of ``group`` with the lowest rank (cached in ``group.first``)."""
    if group.first < 0:
        group.first = min(group.members, key=rank.__getitem__)
    return group.first


class ShapeHeap:
    """Feasible groups for one demand shape, best first: entries (-score, first rank, key).

    Entries go stale when a group empties or its first member changes; they are checked
    and fixed when they reach the top. Groups created or joined since the shape was last
    scheduled are read from the cluster's change log.
    """

    __slots__ = ("heap", "seen")

    def __init__(self) -> None:
        self.heap: list[tuple[int, int, int, Group]] = []
        self.seen = 0
