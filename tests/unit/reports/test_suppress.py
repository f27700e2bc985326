"""--min-cell: counts that could single a patient out are hidden with the rates that would give them back."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.reports import charts, output
from engine.reports.base import Table
from engine.reports.catalog import COHORTS, REVISIT
from engine.reports.suppress import suppress

AS_OF = datetime(2026, 6, 20, tzinfo=UTC)


def test_a_count_below_the_minimum_is_shown_as_less_than_it_and_its_rows_rates_go_too() -> None:
    rows = [
        {"department": "cardiology", "indexes": 40, "returned": 3, "rate": 0.075, "open": 0},
        {"department": "dermatology", "indexes": 25, "returned": 10, "rate": 0.4, "open": 6},
    ]
    table = Table("revisit", "revisit.v1", AS_OF, ("department",), ("department", *REVISIT.measures), rows)
    got = suppress(table, 5).rows
    assert got[0] == {"department": "cardiology", "indexes": 40, "returned": "<5", "rate": "suppressed", "open": 0}
    assert got[1] == rows[1]
    assert "cardiology,40,<5,suppressed,0" in output.to_csv(suppress(table, 5))


def test_keys_of_a_row_are_never_taken_for_counts() -> None:
    rows = [{"cohort_month": "2026-01", "month_offset": 2, "patients": 30, "retained": 12, "rate": 0.4}]
    table = Table("cohorts", "cohorts.v1", AS_OF, (), ("cohort_month", *COHORTS.measures), rows)
    assert suppress(table, 5).rows == rows


def test_without_a_minimum_nothing_is_hidden() -> None:
    rows = [{"indexes": 1, "returned": 1, "rate": 1.0, "open": 0}]
    table = Table("revisit", "revisit.v1", AS_OF, (), REVISIT.measures, rows)
    assert suppress(table, 0) is table


def test_a_chart_of_a_table_with_hidden_cells_leaves_their_bars_out() -> None:
    rows = [
        {"department": "cardiology", "indexes": 40, "returned": 3, "rate": 0.075, "open": 0},
        {"department": "dermatology", "indexes": 25, "returned": 10, "rate": 0.4, "open": 6},
    ]
    table = suppress(Table("revisit", "revisit.v1", AS_OF, ("department",), ("department", *REVISIT.measures), rows), 5)
    ax = charts.figure(table, REVISIT.chart).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["dermatology"]
    assert charts.png(table, REVISIT.chart).startswith(b"\x89PNG")
