"""GPU facts the device-plugin models need (memory per GPU, MIG profiles), read from
``dra.gpu``'s built-in catalog so that every part of the project agrees on them."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=None)
def _catalog() -> dict[str, Any]:
    try:
        from dra.gpu.builtin import GPU_MODELS
    except ImportError:  # the catalog is not there: facts unknown (0 / none)
        return {}
    return dict(GPU_MODELS)


def model_entry(model: str) -> Any | None:
    return _catalog().get(model)


def _get(entry: Any, *names: str) -> Any:
    for name in names:
        if isinstance(entry, dict) and name in entry:
            return entry[name]
        if hasattr(entry, name):
            return getattr(entry, name)
    return None


@lru_cache(maxsize=None)
def gpu_memory_mib(model: str) -> int:
    entry = model_entry(model)
    if entry is None:
        return 0
    value = _get(entry, "memory_bytes", "memory")
    if value is None:
        return 0
    return int(value) // (1024 * 1024)


def known_models() -> list[str]:
    return sorted(_catalog())
