"""Python's cyclic garbage collector, relaxed for the length of a replay.

A replay allocates millions of short-lived containers (demands, bindings, simpy events) that
reference counting frees at once, but each 700 allocations CPython's default thresholds start a
young-generation collection, and every few hundred of those a full one that walks every live
object -- the trace's pods, the fleet, the cluster state. The full walks grow with the run
(openb x10: 0.57 s of 6.7 s, against 0.06 s of 0.55 s at x1), so the default policy makes the
replay superlinear in pods; the DRA model, which allocates more, paid about 12% of its CPU time
in collections. Raising the thresholds for the replay keeps collections rare and cheap (cyclic
garbage still gets collected, a little later) and changes no result. The objects alive when the
replay starts (the trace, the fleet, imported modules' tables: the CEL grammar, the API models)
are frozen (``gc.freeze``) for its length, so the collections that do run walk only what the
replay made. The previous thresholds come back, and the heap is thawed, when the last replay
running in the process ends.
"""

from __future__ import annotations

import functools
import gc
import threading
from typing import Callable, ParamSpec, TypeVar

# Young generation every 50,000 net allocations (not 700); the older generations as CPython's
# defaults count them (every 10 young / middle collections).
REPLAY_THRESHOLDS = (50_000, 10, 10)

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] | None = None
_froze = False  # whether the outermost replay froze the heap it started with

P = ParamSpec("P")
R = TypeVar("R")


def relaxed_gc(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` with :data:`REPLAY_THRESHOLDS` (nested and concurrent calls share one
    relaxed period; the outermost restores what the process had)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        global _depth, _saved, _froze
        with _lock:
            if _depth == 0:
                _saved = gc.get_threshold()
                gc.set_threshold(*REPLAY_THRESHOLDS)
                _froze = gc.get_freeze_count() == 0  # never thaw what someone else froze
                if _froze:
                    gc.freeze()
            _depth += 1
        try:
            return fn(*args, **kwargs)
        finally:
            with _lock:
                _depth -= 1
                if _depth == 0 and _saved is not None:
                    gc.set_threshold(*_saved)
                    _saved = None
                    if _froze:
                        gc.unfreeze()
                        _froze = False

    return wrapper
