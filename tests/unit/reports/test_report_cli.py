"""`careloop report` refuses what it cannot run before it connects, saying what and where; the goals the funnel reads
come from the journeys file."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from engine.cli.main import app
from engine.reports.goals import goal_outcomes
from tests.builders import catalog

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["revisit", "--by", "arm"], "--by 'arm': the revisit report can be broken down by"),
        (["revisit", "--mode", "sometime"], "--mode must be one of within, on-or-after, not 'sometime'"),
        (["followup", "--measure", "hedis"], "--measure must be one of fuh, nhc"),
        (["cohorts", "--from", "June"], "--from 'June': expected an ISO date"),
        (["experiment", "--endpoint", "goal"], "--endpoint must be one of revisit, followup"),
        (["satisfaction", "--format", "pdf"], "--format must be one of table, csv, json, html, not 'pdf'"),
    ],
)
def test_a_report_asked_for_something_it_does_not_have_exits_2_naming_the_option(args: list[str], says: str) -> None:
    result = runner.invoke(app, ["report", *args], env={"CARELOOP_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
    assert result.exit_code == 2, result.output
    assert says in result.output


def test_an_unreachable_database_is_an_error_not_a_traceback() -> None:
    result = runner.invoke(
        app, ["report", "revisit"], env={"CARELOOP_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}
    )
    assert result.exit_code == 1
    assert "cannot reach PostgreSQL" in result.output


def test_the_funnel_reads_each_journeys_goal_outcomes_from_the_catalog() -> None:
    goals = goal_outcomes(catalog())
    pairs = set(zip(goals["goal_journeys"], goals["goal_outcomes"], strict=True))
    assert ("post-op-follow-up", "followed-up") in pairs
    assert all(j in catalog().current for j, _ in pairs)
