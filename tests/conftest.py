"""Shared fixtures: where the project's shared materials (../shared) live.

Tests that need the traces or the conformance tables take ``shared_dir`` and are skipped
with a clear reason when the folder is absent (nothing from ../shared is copied here).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parent.parent

# Property tests run on a shared 2-core CI machine: bounded examples, no per-example deadline.
settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def find_shared_dir() -> Path | None:
    candidates = [os.environ.get("DRA_SHARED_DIR"), REPO_ROOT.parent / "shared"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    found = find_shared_dir()
    if found is None:
        pytest.skip("../shared not found beside the repository (set DRA_SHARED_DIR to point at it)")
    return found
