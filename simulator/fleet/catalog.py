"""GPU facts from ``dra.gpu``'s catalog (one source of truth for the whole project).

Model names in fleets and traces may be catalog keys (``H100-SXM5-80GB``), aliases
(``h100``, ``l4``) or the openb codes (``G2``, ``V100M32``); :func:`canonical` maps them to
catalog keys and an unknown name raises an error that lists the valid ones.
"""

from __future__ import annotations

from functools import lru_cache

from dra.gpu.catalog import GPU_MODELS, MODEL_ALIASES, OPENB_MODELS, GpuModel, find_model

from simulator.errors import UnknownNameError


def valid_model_names() -> list[str]:
    return sorted(set(GPU_MODELS) | set(MODEL_ALIASES) | set(OPENB_MODELS))


@lru_cache(maxsize=None)
def canonical(name: str) -> str:
    try:
        return find_model(name).key
    except Exception:  # UnknownModelError: re-raise with the list of valid names
        raise UnknownNameError("GPU model", name, valid_model_names()) from None


@lru_cache(maxsize=None)
def model(name: str) -> GpuModel | None:
    try:
        return find_model(name)
    except Exception:
        return None


@lru_cache(maxsize=None)
def gpu_memory_mib(name: str) -> int:
    spec = model(name) if name else None
    return spec.memory_mib if spec else 0


@lru_cache(maxsize=None)
def short_name(key: str) -> str:
    """A readable name for reports: the openb code or the shortest alias of a catalog key."""
    for code, k in OPENB_MODELS.items():
        if k == key:
            return code
    aliases = sorted((a for a, k in MODEL_ALIASES.items() if k == key), key=len)
    return aliases[0].upper() if aliases else key


@lru_cache(maxsize=1)
def mig_profile_names() -> frozenset[str]:
    """Every MIG profile some catalog GPU offers (``1g.10gb``, ``3g.71gb``, ...)."""
    return frozenset(p.name for m in GPU_MODELS.values() for p in m.mig_profiles)
