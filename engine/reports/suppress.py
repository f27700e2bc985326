"""Small cells hidden for sharing (--min-cell N): a count from 1 to N - 1 could single a patient out of a department,
age band and month, so it is shown as "<N"; the rates and scores of that row go too, since a rate and its
denominator give the count back. Zero stays: it names nobody."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine.reports.base import Table

KEYS = frozenset({"experiment", "journey", "arm", "holdout", "cohort_month", "month_offset"})
HIDDEN = "suppressed"


def suppress(table: Table, min_cell: int) -> Table:
    if min_cell <= 1:
        return table
    measures = [c for c in table.columns if c not in table.by and c not in KEYS]
    return replace(table, rows=[_row(r, measures, min_cell) for r in table.rows])


def _row(row: dict[str, Any], measures: list[str], min_cell: int) -> dict[str, Any]:
    small = [c for c in measures if _count(row.get(c)) and 0 < row[c] < min_cell]
    if not small:
        return row
    shown = dict(row)
    for c in measures:
        if c in small:
            shown[c] = f"<{min_cell}"
        elif isinstance(row.get(c), float):
            shown[c] = HIDDEN
    return shown


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
