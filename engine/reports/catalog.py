"""The reports `careloop report` runs: each one's SQL file (sql/<name>.sql), definition, dimensions and chart."""

from __future__ import annotations

from engine.reports.base import COMMON, Chart, Report

REVISIT = Report(
    "revisit",
    "revisit.v1",
    COMMON | {"diagnosis", "tier"},
    ("indexes", "returned", "rate", "open"),
    Chart("rate", title="Revisit rate"),
    {"window": 30, "mode": "within", "same_department": False, "patients": False},
)
FOLLOWUP = Report(
    "followup",
    "followup.v1",
    COMMON | {"diagnosis", "tier"},
    ("episodes", "within_7d", "rate_7d", "within_30d", "rate_30d", "open", "excluded"),
    Chart("rate_30d", title="Follow-up within 30 days"),
    {"measure": "fuh"},
)
FUNNEL = Report(
    "funnel",
    "funnel.v1",
    COMMON | {"journey", "version", "arm", "tier"},
    (
        "entered",
        "requested",
        "approved",
        "sent",
        "delivered",
        "read",
        "replied",
        "goal",
        "revisited",
        "goal_or_revisit",
        "revisit_open",
    ),
    Chart(
        "entered",
        title="Journey funnel",
        stages=("entered", "requested", "approved", "sent", "delivered", "read", "replied", "goal_or_revisit"),
    ),
    {"journey": None, "window": 30, "goal_journeys": [], "goal_outcomes": []},
)
EXPERIMENT = Report(
    "experiment",
    "experiment.v1",
    COMMON | {"tier"},
    ("arm", "holdout", "patients", "successes", "rate", "low", "high", "open", "ineligible"),
    Chart("rate", "low", "high", title="Endpoint by arm (95% Wilson interval)"),
    {
        "experiment": None,
        "journey": None,
        "endpoint": "revisit",
        "window": 30,
        "population": "itt",
        # the leakage check of a global holdout the database has no record of, from the journeys file (holdout.py)
        "global_holdout": None,
        "held_categories": [],
        "exempt_journeys": [],
        "preempt_priority": None,
    },
    keys=("experiment", "journey"),
)
SATISFACTION = Report(
    "satisfaction",
    "satisfaction.v1",
    COMMON | {"journey", "version"},
    ("responses", "patients", "mean_score", "median_score", "min_score", "max_score"),
    Chart("mean_score", title="Mean satisfaction score"),
    {"instrument": "satisfaction"},
)
COHORTS = Report(
    "cohorts",
    "cohorts.v1",
    COMMON - {"month"} | {"journey", "version", "tier"},
    ("month_offset", "patients", "retained", "rate"),
    Chart("rate", title="Retention by month since the anchor"),
    {"anchor": "first-visit", "months": 6},
    keys=("cohort_month",),
)

REPORTS = {r.name: r for r in (REVISIT, FOLLOWUP, FUNNEL, EXPERIMENT, SATISFACTION, COHORTS)}
