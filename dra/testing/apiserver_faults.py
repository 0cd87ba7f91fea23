"""Fault injection and the request log of the stand-in API server.

A :class:`Fault` is a rule: "the next ``times`` requests that match ``method``/``path`` (after
letting ``skip`` of them through) fail this way". The ways a real control plane fails a
client, and that a publisher must survive, are all expressible:

* an error status (``status=500``, ``503``, ``429`` with ``retry_after`` seconds, ``409``...),
* a slow answer (``delay`` seconds before the request is handled: a client with a shorter
  timeout sees a timeout; with ``drop=True`` the request is then not performed at all),
* a dropped connection (``reset=True``: the socket is closed with no response),
* a lost response (``apply=True`` with ``status``/``reset``: the write *is* performed, then the
  client gets the error: the ambiguous case where a retry must look before it writes again),
* an interleaved writer (``hook``: a callable run just before the request is handled, e.g. to
  modify the object so the request meets a real resourceVersion conflict).

Rules are consulted in the order they were added; the first matching rule with budget left
fires. :class:`FaultPlan` is thread-safe.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it (for assertions in tests)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int  # 0 when the connection was reset without a response
    fault: str | None  # description of the injected fault, if any
    time: float

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class Fault:
    """One fault-injection rule (see the module docstring)."""

    method: str | None = None  # HTTP method, None = any
    path: str | None = None  # regular expression searched in the URL path, None = any
    times: int | None = 1  # how many matching requests to affect; None = all of them
    skip: int = 0  # let this many matching requests through first
    status: int | None = None  # answer with this error code
    retry_after: float | None = None  # Retry-After header (seconds) for 429/503
    message: str | None = None
    delay: float = 0.0  # sleep before handling (emulates a slow server / client timeout)
    drop: bool = False  # after the delay, do not perform the request (and close the connection)
    reset: bool = False  # close the connection without answering
    apply: bool = False  # perform the request before failing it (lost response)
    hook: Callable[[Any, "RequestInfo"], None] | None = None  # run before handling
    fired: int = 0
    seen: int = 0

    def matches(self, info: "RequestInfo") -> bool:
        if self.method is not None and self.method.upper() != info.method:
            return False
        if self.path is not None and not re.search(self.path, info.path):
            return False
        return True

    def describe(self) -> str:
        parts = []
        if self.status:
            parts.append(f"status {self.status}")
        if self.delay:
            parts.append(f"delay {self.delay}s")
        if self.drop:
            parts.append("dropped")
        if self.reset:
            parts.append("connection reset")
        if self.apply:
            parts.append("applied")
        if self.hook:
            parts.append("hook")
        return ", ".join(parts) or "no-op"


@dataclass(frozen=True)
class RequestInfo:
    method: str
    path: str
    query: dict[str, str]


@dataclass
class FaultPlan:
    """The ordered fault rules plus switches; consulted once per request."""

    rules: list[Fault] = field(default_factory=list)
    enabled: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault | None = None, /, **kwargs: Any) -> Fault:
        """Add a rule (a :class:`Fault` or its keyword arguments) and return it."""
        rule = fault if fault is not None else Fault(**kwargs)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def pending(self) -> int:
        """How many more requests the remaining rules will affect (-1 if unbounded)."""
        with self._lock:
            total = 0
            for rule in self.rules:
                if rule.times is None:
                    return -1
                total += max(0, rule.times - rule.fired)
            return total

    def pick(self, info: RequestInfo) -> Fault | None:
        """The rule that fires for this request (and count it), or None."""
        if not self.enabled:
            return None
        with self._lock:
            for rule in self.rules:
                if not rule.matches(info):
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                rule.fired += 1
                return rule
        return None


@dataclass
class RequestLog:
    """Append-only log of requests, safe to read while the server runs."""

    _records: list[RequestRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def records(self, method: str | None = None, path: str | None = None,
                writes_only: bool = False) -> list[RequestRecord]:
        with self._lock:
            found = list(self._records)
        return [
            r for r in found
            if (method is None or r.method == method.upper())
            and (path is None or re.search(path, r.path))
            and (not writes_only or r.is_write)
        ]


def now() -> float:
    return time.monotonic()
