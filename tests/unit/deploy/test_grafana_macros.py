"""The dashboards' SQL is checked after expanding Grafana's macros the way Grafana does, from a closed set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.unit.deploy.grafana import MacroError, expand_sql

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 6, 18, 8, 3, tzinfo=timezone(timedelta(hours=8)))


def test_the_time_filter_is_a_between_of_the_range_in_utc() -> None:
    got = expand_sql("SELECT 1 FROM t WHERE $__timeFilter(coalesce(t.a, t.b)) AND x", {}, START, END)
    assert (
        got
        == "SELECT 1 FROM t WHERE coalesce(t.a, t.b) BETWEEN '2026-01-01T00:00:00Z' AND '2026-06-18T00:03:00Z' AND x"
    )


def test_the_range_ends_and_time_groups_expand_like_grafanas() -> None:
    got = expand_sql("SELECT $__timeGroupAlias(t.at, '1d'), $__timeFrom(), $__timeTo() FROM t", {}, START, END)
    assert got == (
        "SELECT floor(extract(epoch from t.at)/86400)*86400 AS \"time\", '2026-01-01T00:00:00Z', "
        "'2026-06-18T00:03:00Z' FROM t"
    )


def test_variables_take_their_values_raw() -> None:
    got = expand_sql("WHERE d <= i + $window AND j = '${journey}'", {"window": "30", "journey": "post-op"}, START, END)
    assert got == "WHERE d <= i + 30 AND j = 'post-op'"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("SELECT $__timeGroup(t.at, '1h') FROM t", r"\$__timeGroup\(t.at, '1h'\): not one of the macros checked"),
        ("SELECT $__unixEpochFilter(t.at)", r"\$__unixEpochFilter"),
        ("SELECT $__timeFilter(a, b)", "wrong arguments"),
        ("SELECT $__timeGroupAlias(t.at, 'monthly')", "interval 'monthly'"),
        ("SELECT * FROM t WHERE d = $department", r"\$department: not a variable of this dashboard \(window\)"),
        ("SELECT $__interval", r"\$__interval: not a variable"),
        ("SELECT $__timeFilter(t.at", "never closed"),
    ],
)
def test_any_other_macro_or_variable_is_refused_by_name(text: str, named: str) -> None:
    with pytest.raises(MacroError, match=named):
        expand_sql(text, {"window": "30"}, START, END)
