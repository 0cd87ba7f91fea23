"""PNG figures (matplotlib, Agg backend), one per question a capacity planner asks.

:func:`planner_figures` draws, from the aggregates of one comparison:

``usable.png`` -- *What is usable?* (FGD method) GPU capacity guaranteed to placed pods
    (min of what a pod asked and what it got) against the arrived GPU request, one panel per
    placement with shared axes, one line per policy (median over seeds, inter-quartile band),
    and the ideal (everything that arrived, up to capacity). "Allocated" is not drawn: the
    integer device plugin allocates a whole GPU to a 0.3-GPU pod, so its allocation runs
    *above* the ideal while it wastes most of it -- it read as the best curve.
``wasted.png`` -- *What is wasted?* Where capacity went when the arrived request reached 100%
    (FGD method): used with a guarantee, allocated but unused, idle and fragmented, idle and
    usable, as stacked bars per (placement, policy); for time replays, GPU-hours allocated
    beyond what pods asked. With a price per GPU-hour, a second axis in dollars.
``waiting.png`` -- *Who waits how long?* (time method) queueing delay p50/p90/p99 and the
    pods still pending at the end, per (placement, policy).
``fragmentation.png`` -- fragmentation (FGD definition) against arrived, one panel per
    placement with shared axes. Comparable across placements only when every run measured it
    with the same typical pods (:func:`simulator.frag.trace_typical_pods`).

Every title names the trace, the fleet, the seeds and the method. A figure whose data is
absent (no time replay, say) is not written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from simulator.sampling import sampling_note

USED, WASTED, FRAG, FREE = "#2b7bba", "#e3783b", "#b8b8b8", "#e8e8e8"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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


def _at(agg: dict, curve: str, x: int = 100) -> float | None:
    band = agg.get("curves", {}).get(curve)
    if not band or len(band["median"]) <= x:
        return None
    last = None
    for v in band["median"][: x + 1]:  # the last value at or before x (a big pod can jump a bin)
        if v is not None:
            last = v
    return last


def _mean(agg: dict, key: str) -> float | None:
    entry = agg.get(key)
    return entry.get("mean") if isinstance(entry, dict) else None


def _seeds(aggs: Sequence[dict]) -> str:
    seeds = sorted({s for a in aggs for s in a.get("seeds", [])})
    if not seeds:
        return "no seeds"
    if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return "seed" + ("s " if len(seeds) > 1 else " ") + ",".join(str(s) for s in seeds)


def title_for(question: str, aggs: Sequence[dict]) -> str:
    """``question`` and the scenario: trace x fleet, seeds, method (and node sampling, when on)."""
    traces = ", ".join(sorted({a["trace"] for a in aggs}))
    fleets = ", ".join(sorted({a["fleet"] for a in aggs}))
    methods = ", ".join(sorted({"FGD method (no departures)" if a["method"] == "fgd" else "time replay"
                                for a in aggs}))
    return f"{question}\n{traces} on {fleets} | {_seeds(aggs)} | {methods}{sampling_note(aggs)}"


def _placements(aggs: Sequence[dict]) -> list[str]:
    return list(dict.fromkeys(a["placement"] for a in aggs))


def _policy_colours(aggs: Sequence[dict]) -> dict[str, str]:
    cycle = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
    return {p: cycle[i % len(cycle)] for i, p in enumerate(dict.fromkeys(a["policy"] for a in aggs))}


def plot_panels(aggs: Sequence[dict], curve: str, ylabel: str, path: Path, question: str,
                ideal: bool = False, xmin: int = 0) -> Path | None:
    """One panel per placement (shared x and y), one line per policy: median and IQR band."""
    aggs = [a for a in aggs if _series(a, curve) is not None]
    if not aggs:
        return None
    plt = _plt()
    placements = _placements(aggs)
    colours = _policy_colours(aggs)
    cols = min(3, len(placements))
    rows = (len(placements) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows + 0.8), sharex=True, sharey=True,
                             squeeze=False)
    for k, placement in enumerate(placements):
        ax = axes[k // cols][k % cols]
        for agg in (a for a in aggs if a["placement"] == placement):
            xs, med, lo, hi = _series(agg, curve)  # type: ignore[misc]
            colour = colours[agg["policy"]]
            ax.plot(xs, med, color=colour, linewidth=1.5, label=agg["policy"])
            ax.fill_between(xs, lo, hi, color=colour, alpha=0.2, linewidth=0)
        if ideal:
            xs = list(range(xmin, 131))
            ax.plot(xs, [min(100, x) for x in xs], "k:", linewidth=1, label="ideal")
        ax.set_title(placement, fontsize=10)
        ax.set_xlim(xmin, 130)
        ax.grid(alpha=0.3)
        if k % cols == 0:
            ax.set_ylabel(ylabel, fontsize=9)
        if k // cols == rows - 1:
            ax.set_xlabel("arrived GPU request, % of capacity", fontsize=9)
        ax.legend(fontsize=7, loc="best")
    for k in range(len(placements), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    fig.suptitle(title_for(question, aggs), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_curves(aggs: Sequence[dict], curve: str, ylabel: str, path: Path, title: str,
                ideal: bool = False, xmin: int = 0) -> Path | None:
    """The former single-axes figure, kept for callers: now panels per placement, shared axes."""
    return plot_panels(aggs, curve, ylabel, path, title, ideal=ideal, xmin=xmin)


def _label(a: dict) -> str:
    return f"{a['placement']}\n{a['policy']}"


def plot_wasted(aggs: Sequence[dict], path: Path, price_per_gpu_hour: float | None = None) -> Path | None:
    """Where the capacity went at arrived = 100% (FGD) and GPU-hours wasted (time)."""
    fgd = [a for a in aggs if a["method"] == "fgd" and _mean(a, "idle_or_wasted_pct_at_arrived_100") is not None]
    time_ = [a for a in aggs if a["method"] == "time" and _mean(a, "gpu_hours_allocated") is not None]
    if not fgd and not time_:
        return None
    plt = _plt()
    panels = [p for p in (fgd, time_) if p]
    width = max(7.0, 1.0 * max(len(p) for p in panels) + 2.5)
    fig, axes = plt.subplots(len(panels), 1, figsize=(width, 4.4 * len(panels) + 0.6), squeeze=False)
    k = 0
    if fgd:
        ax = axes[k][0]
        k += 1
        labels, used, wasted, frag, free = [], [], [], [], []
        for a in fgd:
            idle = _mean(a, "unallocated_pct_at_arrived_100") or 0.0
            idle_or_wasted = _mean(a, "idle_or_wasted_pct_at_arrived_100") or 0.0
            f = min(idle, _at(a, "frag_pct_of_capacity") or 0.0)
            labels.append(_label(a))
            used.append(100 - idle_or_wasted)
            wasted.append(max(0.0, idle_or_wasted - idle))
            frag.append(f)
            free.append(max(0.0, idle - f))
        xs = range(len(labels))
        ax.bar(xs, used, color=USED, label="used, guaranteed")
        ax.bar(xs, wasted, bottom=used, color=WASTED, label="allocated, not asked for")
        b2 = [u + w for u, w in zip(used, wasted)]
        ax.bar(xs, frag, bottom=b2, color=FRAG, label="idle, fragmented")
        ax.bar(xs, free, bottom=[b + f for b, f in zip(b2, frag)], color=FREE, label="idle, usable")
        ax.set_xticks(list(xs), labels, fontsize=7)
        ax.set_ylim(0, 100)
        ax.set_ylabel("% of GPU capacity when arrived = 100%")
        ax.set_title("capacity at arrived 100% (FGD method)", fontsize=9)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        gpus = [(_mean(a, "gpus_wasted") or 0.0) for a in fgd]
        for x, g in zip(xs, gpus):
            text = f"{g:,.0f} GPUs\nwasted" + (f"\n\\${g * price_per_gpu_hour:,.0f}/h" if price_per_gpu_hour else "")
            ax.text(x, 2, text, ha="center", va="bottom", fontsize=6, color="white")
    if time_:
        ax = axes[k][0]
        labels = [_label(a) for a in time_]
        asked = [_mean(a, "gpu_hours_requested") or 0.0 for a in time_]
        waste = [_mean(a, "gpu_hours_wasted") or 0.0 for a in time_]
        xs = range(len(labels))
        ax.bar(xs, asked, color=USED, label="GPU-hours pods asked for")
        ax.bar(xs, waste, bottom=asked, color=WASTED, label="GPU-hours allocated beyond")
        ax.set_xticks(list(xs), labels, fontsize=7)
        ax.set_ylabel("GPU-hours")
        ax.set_title("GPU-hours allocated (time replay)", fontsize=9)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01 if not price_per_gpu_hour else 1.12, 1.0))
        if price_per_gpu_hour:
            sec = ax.secondary_yaxis("right", functions=(lambda h: h * price_per_gpu_hour,
                                                         lambda d: d / price_per_gpu_hour))
            sec.set_ylabel(f"US\\$ at \\${price_per_gpu_hour:g} per GPU-hour")
    fig.suptitle(title_for("What is wasted?", aggs), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_waiting(aggs: Sequence[dict], path: Path) -> Path | None:
    """Queueing delay percentiles and pods left pending, per (placement, policy), time method."""
    time_ = [a for a in aggs if a["method"] == "time" and _mean(a, "queueing_delay_p50_s") is not None]
    if not time_:
        return None
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(max(7.0, 1.3 * len(time_) + 4), 4.6),
                                  gridspec_kw={"width_ratios": [3, 1.4]})
    labels = [_label(a) for a in time_]
    width = 0.27
    for j, (q, colour) in enumerate((("p50", "#9ecae1"), ("p90", "#4292c6"), ("p99", "#08519c"))):
        vals = [(_mean(a, f"queueing_delay_{q}_s") or 0.0) / 60 for a in time_]
        ax.bar([i + (j - 1) * width for i in range(len(time_))], vals, width, color=colour, label=q)
    ax.set_xticks(range(len(time_)), labels, fontsize=7)
    ax.set_ylabel("queueing delay, minutes")
    ax.set_title("how long placed pods waited", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    pending = [_mean(a, "pending") or 0.0 for a in time_]
    ax2.bar(range(len(time_)), pending, color=WASTED)
    ax2.set_xticks(range(len(time_)), [lbl.replace("\n", " / ") for lbl in labels], fontsize=7, rotation=90)
    ax2.set_title("pods never placed", fontsize=9)
    fig.suptitle(title_for("Who waits how long?", time_), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def planner_figures(aggs: Sequence[dict], out: Path, price_per_gpu_hour: float | None = None) -> list[Path]:
    """Every figure (see the module docstring) that the aggregates have data for."""
    fgd = [a for a in aggs if a["method"] == "fgd"]
    made = [
        plot_panels(fgd, "useful_pct", "GPU used with a guarantee, % of capacity", out / "usable.png",
                    "What is usable?", ideal=True, xmin=40),
        plot_wasted(aggs, out / "wasted.png", price_per_gpu_hour),
        plot_waiting(aggs, out / "waiting.png"),
        plot_panels(fgd, "frag_pct_of_capacity", "fragmented GPU, % of capacity", out / "fragmentation.png",
                    "How fragmented is the idle capacity?", xmin=40),
    ]
    return [p for p in made if p is not None]
