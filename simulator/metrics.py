"""Metrics of one replay and their aggregation over seeds.

FGD-method curves are binned like the paper's post-processing: after every pod attempt we
record (arrived GPU milli -- cumulative request of all attempted pods, failed ones included --,
allocated GPU milli, fragmented GPU milli); ``arrived %`` = round(arrived / capacity * 100)
and a bin's value is the mean of the samples in it. Unallocated % = 100 - allocated %.
"""

from __future__ import annotations

import statistics
from typing import Iterable, Sequence


def bin_curve(arrived: Sequence[float], values: Sequence[float], capacity: float, max_bin: int = 130) -> list[float | None]:
    """Mean of ``values`` (as % of capacity) per integer arrived-% bin 0..max_bin."""
    sums = [0.0] * (max_bin + 1)
    counts = [0] * (max_bin + 1)
    if capacity <= 0:
        return [None] * (max_bin + 1)
    for a, v in zip(arrived, values):
        b = int(round(a / capacity * 100))
        if 0 <= b <= max_bin:
            sums[b] += v / capacity * 100
            counts[b] += 1
    return [sums[i] / counts[i] if counts[i] else None for i in range(max_bin + 1)]


def fill_forward(curve: Sequence[float | None]) -> list[float | None]:
    out: list[float | None] = []
    last: float | None = None
    for v in curve:
        if v is not None:
            last = v
        out.append(last)
    return out


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    data = sorted(values)
    k = (len(data) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def summary(values: Iterable[float | None]) -> dict[str, object]:
    vals = [v for v in values if v is not None]
    if not vals:
        return {"mean": None, "median": None, "sd": None, "min": None, "max": None}
    return {
        "mean": statistics.fmean(vals),
        "median": statistics.median(vals),
        "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0,
        "min": min(vals),
        "max": max(vals),
    }
