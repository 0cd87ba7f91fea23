"""The uniform tie-break's Fenwick bucket (simulator.groups.Bucket) against a plain list:
after any sequence of weight changes (new groups, growth, shrinking to 0, compactions), every
draw lands in the slot a linear scan of the weights gives, at the same offset."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.groups import Bucket, Group


def _scan(groups: list[Group], weights: list[int], r: int) -> tuple[Group, int]:
    for g, w in zip(groups, weights):
        if r < w:
            return g, r
        r -= w
    raise AssertionError("draw past the total")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 79), st.integers(0, 6)), min_size=1, max_size=400))
def test_draws_match_a_linear_scan(ops: list[tuple[int, int]]) -> None:
    groups = [Group(gid) for gid in range(1, 81)]
    bucket = Bucket()
    for g, w in ops:
        bucket.set(groups[g], w)
        # the bucket's own slots, weights and total agree with each other after every change
        assert bucket.total == sum(bucket.weights) == sum(w for w in bucket.weights)
        assert len(bucket.tree) == len(bucket.weights) + 1
        assert all(bucket.slot[grp.gid] == s for s, grp in enumerate(bucket.groups))
        for r in range(bucket.total):
            slot, offset = bucket.find(r)
            assert (bucket.groups[slot], offset) == _scan(bucket.groups, bucket.weights, r)
    live = {grp.gid: w for grp, w in zip(bucket.groups, bucket.weights) if w}
    expected: dict[int, int] = {}
    for g, w in ops:
        expected[g + 1] = w
    assert live == {gid: w for gid, w in expected.items() if w}


def test_compaction_keeps_the_order_of_live_slots() -> None:
    groups = [Group(gid) for gid in range(1, 101)]
    bucket = Bucket()
    for g in groups:
        bucket.set(g, 2)
    for g in groups[::2] + groups[1:60:2]:  # 80 of 100 drop to 0: compacted on the way
        bucket.set(g, 0)
    assert len(bucket.groups) < 100
    assert [g.gid for g, w in zip(bucket.groups, bucket.weights) if w] == [g.gid for g in groups[61::2]]
    assert bucket.total == 40
    assert [bucket.groups[bucket.find(r)[0]].gid for r in range(0, 40, 2)] == [g.gid for g in groups[61::2]]
