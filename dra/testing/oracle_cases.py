"""Transcribed allocator cases and recorded regressions, in the oracle's problem format.

* :func:`case_problem` turns a case of ``../shared/conformance/allocator-v1.35`` or
  ``tests/data/allocator-extra`` (format: ``../shared/conformance/README.md``) into an
  oracle problem, so the upstream library can double-check our transcription
  (:func:`upstream_agrees_with_case`).
* A regression case (``tests/data/oracle-regressions/*.json``) is
  ``{"name", "minor", "why", "problem", "upstream"}``: a generated problem on which we once
  disagreed with upstream, with upstream's answer recorded so the replay runs without Go.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dra.testing.allocator_conformance import _assign


def case_problem(case: dict[str, Any]) -> dict[str, Any]:
    capacity = [
        {"device": e["device"], "consumedCapacity": e.get("consumedCapacity") or {}}
        for e in case.get("allocatedCapacity") or []
    ]
    return {
        "id": case.get("name"),
        "features": {k: v for k, v in (case.get("features") or {}).items() if v},
        "classes": case.get("classes") or [],
        "slices": case.get("slices") or [],
        "claims": case.get("claims") or [],
        "node": case.get("node"),
        "allocated": {"devices": case.get("allocatedDevices") or [], "consumedCapacity": capacity},
    }


def upstream_agrees_with_case(case: dict[str, Any], answer: dict[str, Any]) -> str | None:
    """``None`` when upstream's answer meets the case's expectation, else what differs."""
    expect = case["expect"]
    if answer.get("panic"):
        return f"upstream panicked: {str(answer.get('error'))[:200]}"
    if expect["outcome"] == "error":
        want = expect["error"]["contains"]
        got = answer.get("error")
        if got is None or want not in got:
            return f"expected error containing {want!r}, upstream said {got or 'no error'}"
        return None
    if answer.get("error") is not None:
        return f"expected {expect['outcome']}, upstream error {answer['error']!r}"
    if expect["outcome"] == "unschedulable":
        return None if answer.get("results") is None else "expected unschedulable, upstream allocated"
    if answer.get("results") is None:
        return "expected an allocation, upstream: unschedulable"
    results = [{k: v for k, v in r.items() if k != "allocationTimestamp"} for r in answer["results"]]
    if not _assign(expect.get("allocations") or [], results):
        return "allocation differs: upstream " + json.dumps(results)
    return None


def load_regressions(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) | {"_file": p.name} for p in sorted(directory.glob("*.json"))]
