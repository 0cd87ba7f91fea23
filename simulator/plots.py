"""PNG plots (matplotlib, Agg backend): allocation and fragmentation against arrived %.

One line per (placement, policy), the median over seeds, with the inter-quartile band.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence


def _series(agg: dict, curve: str) -> tuple[list[int], list[float], list[float], list[float]] | None:
    band = agg.get("curves", {}).get(curve)
    if not band:
        return None
    xs, med, lo, hi = [], [], [], []
    for x, (m, a, b) in enumerate(zip(band["median"], band["q1"], band["q3"])):
        if m is None:
            continue
        xs.append(x)
        med.append(m)
        lo.append(a if a is not None else m)
        hi.append(b if b is not None else m)
    return xs, med, lo, hi


def plot_curves(aggs: Sequence[dict], curve: str, ylabel: str, path: Path, title: str,
                ideal: bool = False, xmin: int = 0) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    drawn = 0
    for agg in aggs:
        s = _series(agg, curve)
        if s is None:
            continue
        xs, med, lo, hi = s
        label = f"{agg['placement']} / {agg['policy']}"
        (line,) = ax.plot(xs, med, label=label, linewidth=1.4)
        ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    if ideal:
        xs = list(range(xmin, 131))
        ax.plot(xs, [min(100, x) for x in xs], "k:", linewidth=1, label="ideal")
    ax.set_xlim(xmin, 130)
    ax.set_xlabel("arrived GPU request, % of capacity")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
