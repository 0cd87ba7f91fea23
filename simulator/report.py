"""Reports: a plain-text/Markdown comparison table and the Markdown report of ``dra sim compare``."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

PAPER_UNALLOCATED_AT_100 = {  # FGD paper artifact, default trace, mean of seeds 42-51 (sim-anchors.md 1.6)
    "random": 13.70, "dotprod": 9.38, "gpu-clustering": 8.35, "gpu-packing": 8.22, "bestfit": 7.14, "fgd": 4.77,
}
PAPER_TOLERANCE = 0.75


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _mean(agg: dict, key: str) -> Any:
    entry = agg.get(key)
    return entry.get("mean") if isinstance(entry, dict) else None


def comparison_rows(aggs: Sequence[dict]) -> tuple[list[str], list[list[str]]]:
    """One row per (trace, placement, policy): the mission's columns."""
    header = ["trace", "fleet", "placement", "policy", "method", "seeds", "unallocated % @100",
              "idle+wasted % @100", "failed pods",
              "pending", "isolation viol.", "wrong-model", "NVLink viol.", "GPUs wasted", "GPU-h wasted",
              "queue p90 s", "pods/s"]
    rows = []
    for a in aggs:
        fgd = a["method"] == "fgd"
        rows.append([
            a["trace"], a["fleet"], a["placement"], a["policy"], a["method"], str(len(a["seeds"])),
            _fmt(_mean(a, "unallocated_pct_at_arrived_100")) if fgd else "-",
            _fmt(_mean(a, "idle_or_wasted_pct_at_arrived_100")) if fgd else "-",
            _fmt(_mean(a, "failed"), 1),
            _fmt(_mean(a, "pending"), 1),
            _fmt(_mean(a, "isolation_violations"), 1),
            _fmt(_mean(a, "wrong_model"), 1),
            _fmt(_mean(a, "topology_violations"), 1),
            _fmt(_mean(a, "gpus_wasted"), 1) if fgd else "-",
            _fmt(_mean(a, "gpu_hours_wasted"), 1) if not fgd else "-",
            _fmt(_mean(a, "queueing_delay_p90_s"), 0) if not fgd else "-",
            _fmt(_mean(a, "pods_per_s"), 0),
        ])
    return header, rows


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def plain_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def paper_rows(aggs: Sequence[dict]) -> tuple[list[str], list[list[str]]]:
    """Our unallocated % at arrived 100% beside the FGD paper's (default trace, DRA shared GPUs)."""
    header = ["policy", "paper (mean)", "ours (mean)", "ours (median)", "seeds", "diff", "within +-0.75"]
    rows = []
    for a in aggs:
        if a["policy"] not in PAPER_UNALLOCATED_AT_100 or a["method"] != "fgd":
            continue
        paper = PAPER_UNALLOCATED_AT_100[a["policy"]]
        ours = _mean(a, "unallocated_pct_at_arrived_100")
        med = a["unallocated_pct_at_arrived_100"].get("median")
        diff = None if ours is None else ours - paper
        rows.append([a["policy"], f"{paper:.2f}", _fmt(ours), _fmt(med), str(len(a["seeds"])),
                     _fmt(diff), "yes" if diff is not None and abs(diff) <= PAPER_TOLERANCE else "no"])
    return header, rows


def markdown_report(title: str, aggs: Sequence[dict], context: dict, plots: Sequence[str]) -> str:
    header, rows = comparison_rows(aggs)
    parts = [f"# {title}", ""]
    for k, v in context.items():
        parts.append(f"- **{k}**: {v}")
    parts += ["", "## Comparison", "", markdown_table(header, rows), ""]
    ph, pr = paper_rows(aggs)
    if pr and any(a["trace"].endswith("default") for a in aggs):
        parts += ["## Against the FGD paper (unallocated GPU % at arrived 100%)", "", markdown_table(ph, pr), ""]
    parts += [
        "Columns: *unallocated % @100* = 100 - allocated GPU % when the arrived GPU request reaches 100% of",
        "capacity (FGD method; allocated = what the placement model took, e.g. a whole GPU for a 0.3-GPU pod",
        "under the integer device plugin, one replica under time-slicing); *idle+wasted % @100* = 100 - the",
        "GPU share placed pods were guaranteed (min of asked and given), i.e. capacity that is idle or",
        "allocated without use; *failed* = pods never placed; *isolation viol.* = pods that shared a GPU",
        "without memory/compute isolation (time-slicing); *wrong-model* = pods on a GPU model they did not",
        "allow; *NVLink viol.* = multi-GPU pods needing NVLink placed on GPUs without a common NVLink domain;",
        "*GPUs wasted* = GPUs allocated beyond what placed pods asked for; *GPU-h wasted* = the same over time",
        "(time-based replay).",
        "",
    ]
    for p in plots:
        parts.append(f"![{p}]({p})")
    return "\n".join(parts) + "\n"
