"""benchmarks/instructions.py: instruction counts under valgrind are the same on every run of
the same code, and grow with the work (skips where valgrind is not installed)."""

from __future__ import annotations

import pytest

from benchmarks import instructions

pytestmark = pytest.mark.skipif(not instructions.available(), reason="valgrind not installed")


def test_counts_repeat_exactly_and_grow_with_the_work() -> None:
    small = "s = {str(i) for i in range(2000)}"
    big = "s = {str(i) for i in range(200000)}"
    first, second = instructions.count(small), instructions.count(small)
    assert first == second  # PYTHONHASHSEED=0: the same code executes the same instructions
    assert instructions.replay_instructions(big, small) > 10_000_000


def test_a_failing_child_is_reported() -> None:
    with pytest.raises(RuntimeError, match="valgrind run failed"):
        instructions.count("raise SystemExit(3)")
