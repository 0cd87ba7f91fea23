"""Instructions executed by a benchmark's child process, counted by valgrind's cachegrind.

CPU-time ratios on a shared 2-core virtual machine move by 20% or more between runs of the same
code (the same replay measured 0.34-0.49 s in one hour), so a ratio near its target can read
either way. Instruction counts do not move: the same code and inputs (and ``PYTHONHASHSEED``,
which orders sets and dicts) execute the same instructions, so an instruction ratio shows a
change of a few percent that CPU times hide. It is a companion to the CPU-time figure, not a
substitute: it leaves out what instructions wait on (cache misses), and a model that touches
more memory pays that in time only.

A replay's count is the difference between two child processes that load and warm up the same
way, one running the replay and one not (:func:`replay_instructions`). Needs ``valgrind`` on the
PATH; under it Python runs about 20x slower (60x with the cache simulation, which is off here).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def available() -> bool:
    return shutil.which("valgrind") is not None


def count(code: str) -> int:
    """Instructions ``python -c code`` executes, interpreter start-up included."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    found = _REFS.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        tail = (proc.stderr or proc.stdout)[-2000:]
        raise RuntimeError(f"valgrind run failed ({proc.returncode}): {tail}")
    return int(found.group(1).replace(",", ""))


def replay_instructions(with_replay: str, without_replay: str) -> int:
    """Instructions of the replay alone: ``with_replay`` minus ``without_replay`` (two child
    processes doing the same loading and warm-up, run side by side)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        full, base = pool.map(count, [with_replay, without_replay])
    return full - base
