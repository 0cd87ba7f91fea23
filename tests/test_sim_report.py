"""The report leads with the answer, its paper table has a placement column, prices give $,
and the figures exist, one per question, titled with trace, fleet, seeds and method."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.report import answer_sentences, comparison_rows, markdown_report, paper_rows
from simulator.run import RunOptions, aggregate, run_one
from simulator.fleet.model import Fleet, NodeSpec
from simulator.trace.model import Pod, Trace


@pytest.fixture(scope="module")
def aggs() -> list[dict]:
    fleet = Fleet("tiny", [NodeSpec(f"n{i}", 64000, 1 << 20, 4, "H100-SXM5-80GB") for i in range(4)])
    pods = [Pod(f"s{i}", 2000, 1024, num_gpu=1, gpu_milli=300, arrival=i * 10.0, duration=400.0) for i in range(40)]
    pods += [Pod(f"w{i}", 4000, 1024, num_gpu=2, gpu_milli=1000, arrival=i * 30.0, duration=900.0) for i in range(8)]
    trace = Trace("tiny-trace", pods)
    results = []
    for method in ("fgd", "time"):
        for placement in ("device-plugin", "time-slicing", "dra"):
            for seed in (42, 43):
                results.append(run_one(fleet, trace, placement, "fgd", seed, RunOptions(method=method)).to_dict())
    return [a.to_dict() for a in aggregate(results)]


def test_report_leads_with_one_sentence_per_scenario(aggs: list[dict]) -> None:
    answers = answer_sentences(aggs)
    assert len(answers) == 2  # (tiny-trace, tiny, fgd) and (..., time)
    assert all(a.startswith("**tiny-trace on tiny**") for a in answers)
    assert "time-slicing" not in answers[0].split(";")[0]  # unlimited sharing is never the answer by itself
    assert "left out: time-slicing" in answers[0]
    report = markdown_report("T", aggs, {"fleet": "tiny"}, ["usable.png"], price_per_gpu_hour=3.0)
    assert report.index("## The answer") < report.index("## Comparison")
    assert "$ wasted" in report and "$3 per GPU-hour" in report


def test_paper_table_has_a_placement_column() -> None:
    agg = {"placement": "dra", "policy": "fgd", "method": "fgd", "seeds": [42],
           "unallocated_pct_at_arrived_100": {"mean": 4.8, "median": 4.8}}
    header, rows = paper_rows([agg])
    assert header[0] == "placement" and rows[0][:2] == ["dra", "fgd"] and rows[0][-1] == "yes"


def test_isolation_split_column_reads_the_flat_counters(aggs: list[dict]) -> None:
    agg = dict(aggs[0])
    agg.update({"isolation_guaranteed": {"mean": 5.0}, "isolation_shared_mps": {"mean": 3.0},
                "isolation_shared_unlimited": {"mean": 0.0}})
    header, rows = comparison_rows([agg])
    assert rows[0][header.index("isolation guaranteed/MPS/unlimited")] == "5/3/0"


def test_one_figure_per_question_with_scenario_titles(aggs: list[dict], tmp_path: Path) -> None:
    from simulator.plots import planner_figures, title_for

    made = planner_figures(aggs, tmp_path, price_per_gpu_hour=2.0)
    assert [p.name for p in made] == ["usable.png", "wasted.png", "waiting.png", "fragmentation.png"]
    assert all(p.stat().st_size > 10_000 for p in made)
    title = title_for("What is usable?", [a for a in aggs if a["method"] == "fgd"])
    assert title == "What is usable?\ntiny-trace on tiny | seeds 42,43 | FGD method (no departures)"
    # no time replay: no waiting figure
    assert [p.name for p in planner_figures([a for a in aggs if a["method"] == "fgd"], tmp_path)] == [
        "usable.png", "wasted.png", "fragmentation.png"]
