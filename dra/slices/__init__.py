"""Inventory -> ResourceSlices (the builder) and their publication (the publisher).

The builder is pure: :func:`build_slices` turns a :class:`dra.gpu.NodeInventory` into the
ResourceSlices of one pool per node (see :mod:`dra.slices.builder`). The publisher
(:mod:`dra.slices.publisher`) reconciles them with an API server; it is not imported here so
that using the builder never loads the Kubernetes client.
"""

from __future__ import annotations

from typing import Any

DRIVER_NAME = "gpu.nvidia.com"
MODES = ("whole", "static-mig", "dynamic-mig", "shared")

__all__ = ["DRIVER_NAME", "MODES", "build_slices", "next_generation", "PoolGenerations", "SliceBuildError"]


def __getattr__(name: str) -> Any:
    # Lazy: importing dra.slices (e.g. for DRIVER_NAME) must not require dra.api's models.
    if name in ("build_slices", "next_generation", "PoolGenerations", "SliceBuildError",
                "with_generation"):
        from dra.slices import builder

        return getattr(builder, name)
    raise AttributeError(f"module 'dra.slices' has no attribute {name!r}")
