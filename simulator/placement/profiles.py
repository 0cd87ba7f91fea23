"""MIG profile arithmetic shared by every placement model, in exact integers.

A MIG profile ``Kg.Mgb`` is K compute slices out of :data:`COMPUTE_SLICES` (7 on every
MIG-capable GPU of the catalog) and the memory the GPU gives that profile. Placements keep
GPUs in milli-GPU, so a profile must become a milli figure -- and the figure must be the one
for which "K slices hold it" is exactly true. The old code charged ``ceil(K*1000/7)``
(1g = 143), while a slice check of the form ``slices*1000 >= milli*7`` needs ``floor``: with
143 a 1g slice (1000 >= 1001) does not hold its own profile, seven 1g pods (7*143 = 1001)
do not fit on one GPU, and 3g + 4g (429 + 572 = 1001) neither. :func:`slice_milli` is the
floor (1g = 142, 2g = 285, 3g = 428, 4g = 571, 7g = 1000), for which both hold:

- ``K*1000 >= slice_milli(K)*7`` (a K-slice holds a K-profile) and
  ``(K-1)*1000 < slice_milli(K)*7`` (a smaller slice does not);
- ``sum(slice_milli(K_i)) <= 1000`` whenever ``sum(K_i) <= 7``.

Memory: the nominal ``Mgb`` of a name is not what the GPU gives (``1g.10gb`` is 9,984 MiB
on an H100 and 9,728 MiB on an A100 80GB); a pod asking for a profile asks for *that
slice*, so its memory need is the smallest memory any catalog GPU gives the profile of that
name (the nominal size when no catalog GPU has it).
"""

from __future__ import annotations

import re
from functools import lru_cache

COMPUTE_SLICES = 7
_NAME = re.compile(r"^(\d+)g\.(\d+(?:\.\d+)?)gb(?:\+me)?$")


def slice_milli(slices: int, total: int = COMPUTE_SLICES) -> int:
    """The milli-GPU of ``slices`` compute slices out of ``total`` (rounded down, see above)."""
    return 1000 * slices // total


def slice_holds(slice_compute: int, total: int, milli: int) -> bool:
    """Whether a slice of ``slice_compute``/``total`` compute holds a ``milli`` share (exact)."""
    return slice_compute * 1000 >= milli * total


@lru_cache(maxsize=None)
def profile_slices(profile: str) -> int:
    """Compute slices of a profile name (``3g.40gb`` -> 3); 0 when the name is not a profile."""
    m = _NAME.match(profile.strip().lower())
    return int(m[1]) if m else 0


@lru_cache(maxsize=None)
def profile_memory_mib(profile: str) -> int:
    """MiB a profile of this name gives on the catalog GPU that gives it least."""
    from dra.gpu.catalog import GPU_MODELS

    name = profile.strip().lower()
    sizes = [p.memory_bytes >> 20 for m in GPU_MODELS.values() for p in m.mig_profiles if p.name == name]
    if sizes:
        return min(sizes)
    m = _NAME.match(name)
    return int(float(m[2]) * 1024) if m else 0


@lru_cache(maxsize=None)
def profile_need(profile: str) -> tuple[int, int]:
    """(milli, MiB) a pod asking for ``profile`` needs: ``1g.10gb`` -> (142, 9728)."""
    k = profile_slices(profile)
    if not k:
        return 0, 0
    return slice_milli(k), profile_memory_mib(profile)


def pod_gpu_need(mig_profile: str | None, gpu_milli: int, gpu_memory_mib: int) -> tuple[int, int]:
    """(milli, MiB) per GPU of a pod: its profile's exact need when it names one.

    A trace renders a profile pod's share as ``ceil(K*1000/7)`` and its memory as the nominal
    ``M`` GiB; both are the profile, not more than it, so the profile's exact figures replace
    them. Memory above the profile's nominal size is kept (the pod then needs a larger slice).
    """
    if not mig_profile:
        return gpu_milli, gpu_memory_mib
    milli, mem = profile_need(mig_profile)
    if not milli:
        return gpu_milli, gpu_memory_mib
    m = _NAME.match(mig_profile.strip().lower())
    nominal = int(float(m[2]) * 1024) if m else mem
    return milli, (mem if gpu_memory_mib <= nominal else gpu_memory_mib)
