"""The demo's closing table: each journey's arms from the experiment report, beside the model's true effect."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine.demo.behaviour import EFFECTS, Behaviour
from engine.demo.outcomes import Measured, chart, experiment_id, lines
from engine.demo.overlay import with_global_holdout
from engine.language.loader import load_catalog
from engine.reports.base import Table
from engine.reports.catalog import EXPERIMENT
from tests.builders import CST, JOURNEYS, catalog

AS_OF = datetime(2026, 8, 8, 9, 0, tzinfo=CST)


def arm(name: str, holdout: bool, successes: int, patients: int, low: float, high: float) -> dict[str, Any]:
    return {
        "experiment": "demo-holdout",
        "journey": "post-op-follow-up",
        "arm": name,
        "holdout": holdout,
        "patients": patients,
        "successes": successes,
        "rate": successes / patients,
        "low": low,
        "high": high,
        "open": 3,
        "ineligible": 0,
    }


def measured(difference: dict[str, float] | None, notes: list[str] | None = None) -> Measured:
    rows = [arm("treated", False, 151, 228, 0.599, 0.721), arm("holdout", True, 52, 108, 0.390, 0.575)]
    verdict = None if difference is None else "treated higher"
    comparison: dict[str, Any] = {"experiment": "demo-holdout", "journey": "post-op-follow-up", "arm": "treated"}
    comparison |= {"difference": difference, "p_holm": None, "verdict": verdict}
    table = Table(
        EXPERIMENT.name, EXPERIMENT.definition, AS_OF, (), ("experiment", "journey", *EXPERIMENT.measures), rows
    )
    table.extra["comparisons"] = [comparison]
    table.notes.extend(notes or [])
    return Measured("post-op-follow-up", "demo-holdout", EFFECTS["post-op-follow-up"], table)


def test_each_arm_is_printed_with_its_rate_and_interval() -> None:
    text = lines([measured({"estimate": 0.181, "low": 0.068, "high": 0.31, "p_value": 0.002})])

    assert text[0] == "post-op-follow-up  (followup_30d, experiment demo-holdout)"
    assert text[1] == "  treated    (treated)  151 of 228   66.2%  (95% CI 59.9% to 72.1%; 3 still open)"
    assert text[2] == "  holdout    (holdout)   52 of 108   48.1%  (95% CI 39.0% to 57.5%; 3 still open)"


def test_the_difference_says_whether_the_true_effect_is_inside_its_interval() -> None:
    inside = lines([measured({"estimate": 0.181, "low": 0.068, "high": 0.31, "p_value": 0.002})])[3]
    outside = lines([measured({"estimate": 0.181, "low": 0.068, "high": 0.29, "p_value": 0.002})])[3]

    assert inside.endswith("the model's true effect +0.300, inside the interval")
    assert "treated - holdout +0.181 (95% CI +0.068 to +0.310, treated higher)" in inside
    assert outside.endswith("the model's true effect +0.300, OUTSIDE the interval")


def test_a_comparison_the_report_withholds_is_not_printed_and_its_warning_is() -> None:
    warning = "WARNING: sample ratio mismatch in demo-holdout"

    text = lines([measured(None, [warning])])

    assert text[3] == "  treated - holdout: not reported; the model's true effect +0.300"
    assert text[4] == f"  {warning}"


def test_the_chart_is_a_png_and_the_same_for_the_same_numbers() -> None:
    found = [measured({"estimate": 0.181, "low": 0.068, "high": 0.31, "p_value": 0.002})]

    drawn = chart(found)

    assert drawn.startswith(b"\x89PNG\r\n\x1a\n")
    assert drawn == chart(found)


def test_each_effect_is_measured_on_the_experiment_the_projection_names(tmp_path: Path) -> None:
    behaviour = Behaviour.of(load_catalog(with_global_holdout(JOURNEYS, tmp_path / "journeys.yaml")))

    assert experiment_id(behaviour, "diabetes-care") == "demo-holdout"
    assert experiment_id(behaviour, "post-visit-satisfaction") == "post-visit-satisfaction/split@survey-2026"


def test_an_effect_against_a_global_holdout_without_one_names_the_journey() -> None:
    behaviour = Behaviour({"diabetes-care": EFFECTS["diabetes-care"]}, holdout=None)

    with pytest.raises(ValueError, match="diabetes-care's effect is measured against a global holdout"):
        experiment_id(behaviour, "diabetes-care")
    assert catalog().outreach.global_holdout is None  # the shipped journeys hold no one out
