"""Which Kubernetes minors the real-cluster tests run (``DRA_K8S_VERSIONS``).

* ``DRA_K8S_VERSIONS=all``: every supported minor (cold, each is a separate Go build);
* ``DRA_K8S_VERSIONS=1.36,1.34``: those;
* unset: :data:`DEFAULT_VERSIONS` (what fits CI's 90 minutes with a cold Go cache on 2 cores,
  see docs/real-kubernetes.md) plus every other minor whose binaries are already cached, so a
  developer who ran ``make k8s`` gets the whole matrix at no build cost.
"""

from __future__ import annotations

import os

from dra.versions import SUPPORTED_MINORS, parse_minor

# The newest minor (the project's default) and the oldest (the most different slice layout).
DEFAULT_VERSIONS = ("1.34", "1.37")


def selected_versions(env: str | None = None) -> list[str]:
    """The minors to test, oldest first."""
    text = (os.environ.get("DRA_K8S_VERSIONS", "") if env is None else env).strip()
    if text == "all":
        return list(SUPPORTED_MINORS)
    if text:
        chosen = {parse_minor(v, option="DRA_K8S_VERSIONS") for v in text.split(",") if v.strip()}
    else:
        from dra.testing.cluster.build import cached_versions

        chosen = set(DEFAULT_VERSIONS) | set(cached_versions())
    return [m for m in SUPPORTED_MINORS if m in chosen]
