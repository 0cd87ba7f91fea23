"""The replay's relaxed garbage-collector thresholds: on for the replay, restored after it
(also when it raises, and only by the outermost of nested replays)."""

from __future__ import annotations

import gc

import pytest

from simulator.gcpolicy import REPLAY_THRESHOLDS, relaxed_gc


@pytest.fixture
def default_thresholds():
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield (700, 10, 10)
    gc.set_threshold(*saved)


def test_relaxed_during_and_restored_after(default_thresholds) -> None:
    seen = []

    @relaxed_gc
    def replay() -> str:
        seen.append(gc.get_threshold())
        return "done"

    assert replay() == "done"
    assert seen == [REPLAY_THRESHOLDS]
    assert gc.get_threshold() == default_thresholds


def test_restored_when_the_replay_raises(default_thresholds) -> None:
    @relaxed_gc
    def replay() -> None:
        raise ValueError("bad trace")

    with pytest.raises(ValueError):
        replay()
    assert gc.get_threshold() == default_thresholds


def test_nested_replays_restore_once(default_thresholds) -> None:
    inner_after = []

    @relaxed_gc
    def inner() -> None:
        pass

    @relaxed_gc
    def outer() -> None:
        inner()
        inner_after.append(gc.get_threshold())  # still relaxed: the outer replay runs on

    outer()
    assert inner_after == [REPLAY_THRESHOLDS]
    assert gc.get_threshold() == default_thresholds


def test_a_real_replay_leaves_the_process_as_it_found_it(default_thresholds) -> None:
    from simulator.run import RunOptions, run_one
    from simulator.fleet.load import load_fleet
    from simulator.trace.synthetic import generate

    fleet = load_fleet("modern-mix")
    result = run_one(fleet, generate(50, 42), "device-plugin", "fgd", 42, RunOptions(method="time"))
    assert result.pods == 50
    assert gc.get_threshold() == default_thresholds


def test_the_heap_before_the_replay_is_frozen_during_it_and_thawed_after(default_thresholds) -> None:
    assert gc.get_freeze_count() == 0
    during = []

    @relaxed_gc
    def replay() -> None:
        during.append(gc.get_freeze_count())

    replay()
    assert during[0] > 0  # the objects alive at the start are out of every collection
    assert gc.get_freeze_count() == 0


def test_a_heap_someone_else_froze_stays_frozen(default_thresholds) -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()

        @relaxed_gc
        def replay() -> None:
            pass

        replay()
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
