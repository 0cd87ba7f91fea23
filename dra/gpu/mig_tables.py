"""MIG profile tables of the MIG-capable GPU models in the built-in catalog.

Every table lists the GPU-instance profiles with a full compute instance (C == G), which is
what NVIDIA's DRA driver offers for dynamic MIG. Media-extension variants (``+me``) are left
out: their names contain ``+``, which cannot appear in a device name.

Where the numbers come from: profile names, profile ids, instance counts and placements are
those ``nvidia-smi mig -lgip`` / ``-lgipp`` list in NVIDIA's MIG user guide; they are exact
and shared by every GPU with 8 memory slices (A100, H100, H200, B200, GB200). SM counts,
engine counts and memory sizes follow the same guide's tables, rounded the way
``nvidia-smi`` rounds GiB to two decimals, so treat them as close approximations: the
slice builder derives its counters from these numbers and stays consistent whatever they
are (see :func:`dra.slices.builder_counters`). A real node uses NVML's own numbers.

Placements (start:size in memory slices), identical on all 8-slice GPUs:

======== ======== ============ =========================
profile  id       instances    placements
======== ======== ============ =========================
1g       19       7            0:1 1:1 2:1 3:1 4:1 5:1 6:1
1g (2x)  15       4            0:2 2:2 4:2 6:2
2g       14       3            0:2 2:2 4:2
3g       9        2            0:4 4:4
4g       5        1            0:4
7g       0        1            0:8
======== ======== ============ =========================
"""

from __future__ import annotations

from typing import NamedTuple

from dra.gpu.inventory import MigPlacement, MigProfile

MIB = 1024 * 1024

# (profile id, compute slices, memory slices, placement starts) per profile kind
_LAYOUT: dict[str, tuple[int, int, int, tuple[int, ...]]] = {
    "1g": (19, 1, 1, (0, 1, 2, 3, 4, 5, 6)),
    "1g2x": (15, 1, 2, (0, 2, 4, 6)),
    "2g": (14, 2, 2, (0, 2, 4)),
    "3g": (9, 3, 4, (0, 4)),
    "4g": (5, 4, 4, (0,)),
    "7g": (0, 7, 8, (0,)),
}


class _Row(NamedTuple):
    kind: str  # key of _LAYOUT
    name: str
    sms: int
    memory_mib: int
    copy_engines: int
    decoders: int
    encoders: int
    jpeg: int
    ofa: int


def _table(rows: list[_Row]) -> tuple[MigProfile, ...]:
    profiles = []
    for row in rows:
        gi_id, compute, mem_slices, starts = _LAYOUT[row.kind]
        profiles.append(
            MigProfile(
                name=row.name,
                gi_profile_id=gi_id,
                compute_slices=compute,
                memory_slices=mem_slices,
                memory_bytes=row.memory_mib * MIB,
                multiprocessors=row.sms,
                copy_engines=row.copy_engines,
                decoders=row.decoders,
                encoders=row.encoders,
                jpeg_engines=row.jpeg,
                ofa_engines=row.ofa,
                placements=tuple(MigPlacement(start=s, size=mem_slices) for s in starts),
            )
        )
    return tuple(profiles)


A100_40GB = _table([
    _Row("1g", "1g.5gb", 14, 4864, 1, 0, 0, 0, 0),
    _Row("1g2x", "1g.10gb", 14, 9856, 1, 1, 0, 0, 0),
    _Row("2g", "2g.10gb", 28, 9856, 2, 1, 0, 0, 0),
    _Row("3g", "3g.20gb", 42, 19968, 3, 2, 0, 0, 0),
    _Row("4g", "4g.20gb", 56, 19968, 4, 2, 0, 0, 0),
    _Row("7g", "7g.40gb", 98, 40192, 7, 5, 0, 1, 1),
])

A100_80GB = _table([
    _Row("1g", "1g.10gb", 14, 9728, 1, 0, 0, 0, 0),
    _Row("1g2x", "1g.20gb", 14, 19968, 1, 1, 0, 0, 0),
    _Row("2g", "2g.20gb", 28, 19968, 2, 1, 0, 0, 0),
    _Row("3g", "3g.40gb", 42, 40192, 3, 2, 0, 0, 0),
    _Row("4g", "4g.40gb", 56, 40192, 4, 2, 0, 0, 0),
    _Row("7g", "7g.80gb", 98, 80896, 7, 5, 0, 1, 1),
])

H100_SXM_80GB = _table([
    _Row("1g", "1g.10gb", 16, 9984, 1, 1, 0, 1, 0),
    _Row("1g2x", "1g.20gb", 26, 20096, 1, 1, 0, 1, 0),
    _Row("2g", "2g.20gb", 32, 20096, 2, 2, 0, 2, 0),
    _Row("3g", "3g.40gb", 60, 40320, 3, 3, 0, 3, 0),
    _Row("4g", "4g.40gb", 64, 40320, 4, 4, 0, 4, 0),
    _Row("7g", "7g.80gb", 132, 81024, 8, 7, 0, 7, 1),
])

H100_PCIE_80GB = _table([
    _Row("1g", "1g.10gb", 14, 9984, 1, 1, 0, 1, 0),
    _Row("1g2x", "1g.20gb", 24, 20096, 1, 1, 0, 1, 0),
    _Row("2g", "2g.20gb", 28, 20096, 2, 2, 0, 2, 0),
    _Row("3g", "3g.40gb", 42, 40320, 3, 3, 0, 3, 0),
    _Row("4g", "4g.40gb", 56, 40320, 4, 4, 0, 4, 0),
    _Row("7g", "7g.80gb", 114, 81024, 7, 7, 0, 7, 1),
])

H200_141GB = _table([
    _Row("1g", "1g.18gb", 16, 16896, 1, 1, 0, 1, 0),
    _Row("1g2x", "1g.35gb", 26, 33280, 1, 1, 0, 1, 0),
    _Row("2g", "2g.35gb", 32, 33280, 2, 2, 0, 2, 0),
    _Row("3g", "3g.71gb", 60, 67072, 3, 3, 0, 3, 0),
    _Row("4g", "4g.71gb", 64, 67072, 4, 4, 0, 4, 0),
    _Row("7g", "7g.141gb", 132, 135168, 8, 7, 0, 7, 1),
])

B200_180GB = _table([
    _Row("1g", "1g.23gb", 18, 22016, 1, 1, 0, 1, 0),
    _Row("1g2x", "1g.45gb", 18, 44544, 1, 1, 0, 1, 0),
    _Row("2g", "2g.45gb", 36, 44544, 2, 2, 0, 2, 0),
    _Row("3g", "3g.90gb", 54, 89600, 3, 3, 0, 3, 0),
    _Row("4g", "4g.90gb", 72, 89600, 4, 4, 0, 4, 0),
    _Row("7g", "7g.180gb", 148, 179200, 8, 7, 0, 7, 1),
])

GB200_186GB = _table([
    _Row("1g", "1g.23gb", 18, 23040, 1, 1, 0, 1, 0),
    _Row("1g2x", "1g.47gb", 18, 46592, 1, 1, 0, 1, 0),
    _Row("2g", "2g.47gb", 36, 46592, 2, 2, 0, 2, 0),
    _Row("3g", "3g.93gb", 54, 93184, 3, 3, 0, 3, 0),
    _Row("4g", "4g.93gb", 72, 93184, 4, 4, 0, 4, 0),
    _Row("7g", "7g.186gb", 152, 186368, 8, 7, 0, 7, 1),
])
