"""--by: a report is broken down only by the dimensions its units carry, and the SQL for each comes from a fixed map,
never from what the user typed."""

from __future__ import annotations

import re

import pytest

from engine.reports.base import Report
from engine.reports.catalog import REPORTS
from engine.reports.dims import DIMS, UnknownDimError, parse_by


def test_a_breakdown_is_read_as_the_named_dimensions_in_order() -> None:
    assert parse_by("revisit", " department, month ", REPORTS["revisit"].dims) == ("department", "month")
    assert parse_by("revisit", None, REPORTS["revisit"].dims) == ()


def test_a_dimension_the_report_does_not_have_is_refused_naming_those_it_has() -> None:
    with pytest.raises(UnknownDimError, match=r"--by 'arm': the revisit report can be broken down by age_band, "):
        parse_by("revisit", "department,arm", REPORTS["revisit"].dims)


def test_sql_text_in_a_breakdown_never_reaches_the_query() -> None:
    attack = "department; DROP TABLE careloop_events"
    with pytest.raises(UnknownDimError):
        parse_by("revisit", attack, REPORTS["revisit"].dims)


def test_a_dimension_named_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="named twice"):
        parse_by("funnel", "journey,journey", REPORTS["funnel"].dims)


@pytest.mark.parametrize("report", REPORTS.values(), ids=lambda r: r.name)
def test_every_report_composes_with_all_its_dimensions_and_reads_only_the_analytics_schema(report: Report) -> None:
    for by in [(), tuple(sorted(report.dims))]:
        text = report.statement(by).as_string(None)
        assert "{" not in text and "}" not in text
        for name in by:
            assert f'AS "{name}"' in text or f'"{name}", ' in text
        assert not [r for r in relations(text) if not r.startswith("analytics.")], report.name
        assert "patient_id" not in text


FUNCTIONS = {"generate_series", "unnest", "jsonb_each_text"}


def relations(text: str) -> set[str]:
    """What the query reads FROM or JOINs, less its own CTEs and set-returning functions."""
    text = re.sub(r"extract\(\w+ FROM [^)]*\)", "", text)  # extract(month FROM d) reads no relation
    ctes = set(re.findall(r"(\w+) AS \(", text))
    read = set(re.findall(r"(?:FROM|JOIN)\s+(?:LATERAL\s+)?([a-z_][\w.]*)", text))
    return read - ctes - FUNCTIONS


def test_every_dimension_a_report_offers_is_in_the_map() -> None:
    for report in REPORTS.values():
        assert report.dims <= set(DIMS), report.name
