"""A report's result written out: CSV, JSON with its definition, one self-contained HTML page, PNG charts that are
the same bytes for the same numbers."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from matplotlib.container import BarContainer

from engine.reports import charts, output
from engine.reports.base import Table
from engine.reports.catalog import COHORTS, EXPERIMENT, FUNNEL, REVISIT

AS_OF = datetime(2026, 6, 20, 1, 0, tzinfo=UTC)


def revisit_table() -> Table:
    rows = [
        {"department": "cardiology", "indexes": 40, "returned": 10, "rate": 0.25, "open": 3},
        {"department": "orthopedics", "indexes": 0, "returned": 0, "rate": None, "open": 2},
    ]
    return Table("revisit", "revisit.v1", AS_OF, ("department",), ("department", *REVISIT.measures), rows)


def experiment_table(verdict: str | None) -> Table:
    rows = [
        {"experiment": "x", "journey": "post-op", "arm": "treated", "holdout": False, "patients": 80,
         "successes": 56, "rate": 0.7, "low": 0.59, "high": 0.79, "open": 0, "ineligible": 0},
        {"experiment": "x", "journey": "post-op", "arm": "holdout", "holdout": True, "patients": 20,
         "successes": 8, "rate": 0.4, "low": 0.22, "high": 0.61, "open": 0, "ineligible": 0},
    ]  # fmt: skip
    table = Table("experiment", "experiment.v1", AS_OF, (), ("experiment", "journey", *EXPERIMENT.measures), rows)
    difference = None if verdict is None else {"estimate": 0.3, "low": 0.06, "high": 0.5, "p_value": 0.01}
    table.extra["comparisons"] = [
        {"experiment": "x", "journey": "post-op", "arm": "treated", "difference": difference,
         "p_holm": None if verdict is None else 0.01, "verdict": verdict}
    ]  # fmt: skip
    return table


def test_csv_has_a_header_and_an_empty_cell_where_there_is_no_rate() -> None:
    got = list(csv.reader(io.StringIO(output.to_csv(revisit_table()))))
    assert got == [
        ["department", "indexes", "returned", "rate", "open"],
        ["cardiology", "40", "10", "0.25", "3"],
        ["orthopedics", "0", "0", "", "2"],
    ]


def test_json_names_the_definition_the_numbers_follow_and_the_moment() -> None:
    doc = json.loads(output.to_json(revisit_table()))
    assert doc["definition"] == "revisit.v1"
    assert doc["as_of"] == "2026-06-20T01:00:00+00:00"
    assert doc["rows"][1] == {"department": "orthopedics", "indexes": 0, "returned": 0, "rate": None, "open": 2}


def test_json_of_an_experiment_without_a_verdict_says_null_and_gives_no_difference() -> None:
    doc = json.loads(output.to_json(experiment_table(None)))
    assert doc["comparisons"][0]["verdict"] is None
    assert doc["comparisons"][0]["difference"] is None


def test_the_table_prints_each_comparison_with_its_interval() -> None:
    text = output.to_table(experiment_table("treated higher"))
    assert "treated - holdout +0.300 (95% CI +0.060 to +0.500)" in text
    assert "treated higher" in text
    assert "not reported" in output.to_table(experiment_table(None))


def test_the_html_page_is_self_contained_with_the_chart_inline() -> None:
    table = revisit_table()
    page = output.to_html(table, charts.svg(table, REVISIT.chart))
    assert page.count("<svg") == 1 and "<table>" in page
    assert "<script" not in page and "<link" not in page and 'src="' not in page
    assert "revisit.v1" in page and "orthopedics" in page


def test_the_html_page_escapes_every_value_from_the_hospital_and_the_journeys_file() -> None:
    table = revisit_table()
    table.rows[0]["department"] = "<script>alert('x')</script> & co"
    table.notes.append("a note with <b>markup</b>")

    page = output.to_html(table, charts.svg(table, REVISIT.chart))

    assert "<script" not in page and "<b>markup" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co" in page
    assert "a note with &lt;b&gt;markup&lt;/b&gt;" in page


def test_a_chart_is_the_same_png_bytes_for_the_same_numbers_and_carries_no_software_or_date() -> None:
    first, second = charts.png(revisit_table(), REVISIT.chart), charts.png(revisit_table(), REVISIT.chart)
    assert first.startswith(b"\x89PNG") and first == second
    assert b"Software" not in first and b"matplotlib" not in first
    changed = revisit_table()
    changed.rows[0]["rate"] = 0.5
    assert charts.png(changed, REVISIT.chart) != first


def test_the_svg_for_the_page_is_the_same_text_for_the_same_numbers() -> None:
    assert charts.svg(revisit_table(), REVISIT.chart) == charts.svg(revisit_table(), REVISIT.chart)


def test_an_experiment_chart_draws_each_arm_with_its_interval_as_error_bars() -> None:
    fig = charts.figure(experiment_table("treated higher"), EXPERIMENT.chart)
    ax = fig.axes[0]
    assert [round(p.get_height(), 2) for p in ax.patches] == [0.7, 0.4]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x / post-op / treated", "x / post-op / holdout"]
    [bars] = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert bars.errorbar is not None
    [segments] = bars.errorbar.lines[2]
    assert [tuple(round(y, 2) for y in s[:, 1]) for s in segments.get_segments()] == [(0.59, 0.79), (0.22, 0.61)]


def test_a_funnel_chart_has_a_bar_per_stage() -> None:
    row = dict.fromkeys(FUNNEL.measures, 0) | {"entered": 10, "requested": 8, "goal_or_revisit": 3}
    table = Table("funnel", "funnel.v1", AS_OF, (), FUNNEL.measures, [row])
    ax = charts.figure(table, FUNNEL.chart).axes[0]
    assert len(ax.patches) == len(FUNNEL.chart.stages)
    assert ax.patches[0].get_height() == 10 and ax.patches[-1].get_height() == 3


def test_a_cohort_chart_draws_a_line_per_cohort_leaving_out_months_not_over() -> None:
    rows = [
        {"cohort_month": "2026-01", "month_offset": 0, "patients": 4, "retained": 4, "rate": 1.0},
        {"cohort_month": "2026-01", "month_offset": 1, "patients": 4, "retained": 1, "rate": 0.25},
        {"cohort_month": "2026-02", "month_offset": 0, "patients": 2, "retained": 2, "rate": 1.0},
        {"cohort_month": "2026-02", "month_offset": 1, "patients": 2, "retained": None, "rate": None},
    ]
    table = Table("cohorts", "cohorts.v1", AS_OF, (), ("cohort_month", *COHORTS.measures), rows)
    lines = charts.figure(table, COHORTS.chart).axes[0].get_lines()
    assert [(line.get_label(), list(line.get_ydata())) for line in lines] == [
        ("2026-01", [1.0, 0.25]),
        ("2026-02", [1.0]),
    ]
