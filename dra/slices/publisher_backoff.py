"""Retry delays for the slice publisher: capped exponential backoff with full jitter.

Full jitter (a uniform draw between zero and the capped exponential) spreads the retries of
many nodes that failed at the same moment (an API server restart) instead of having them come
back in lockstep. A ``Retry-After`` from the server (429/503) is a floor: the client never
comes back earlier than it was asked to. The random source and the sleep are injectable so
that tests are deterministic and instant.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Backoff:
    """Delay policy: attempt ``n`` (1-based) waits U(0, min(cap, base * 2**(n-1))), at least Retry-After."""

    base: float = 0.25
    cap: float = 30.0
    max_attempts: int = 8  # attempts in total, the first one included
    max_retry_after: float = 120.0  # do not let a server park us for longer than this per retry
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0 or self.max_attempts < 1:
            raise ValueError("Backoff needs base >= 0, cap >= 0 and max_attempts >= 1")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1 = the first attempt)."""
        ceiling = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        wait = self.rng.uniform(0.0, ceiling)
        if retry_after is not None and retry_after > 0:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait

    def wait(self, attempt: int, retry_after: float | None = None) -> float:
        seconds = self.delay(attempt, retry_after)
        if seconds > 0:
            self.sleep(seconds)
        return seconds
