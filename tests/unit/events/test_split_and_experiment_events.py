"""journey.branch_taken v2 records a split's draw, and its v1 upcaster tells splits from branches by the reason
steps._split writes; experiment.assigned keeps its arm and holdout flag in agreement."""

from __future__ import annotations

from typing import Any

import pytest

from events import EventValidationError, parse_event
from events import journey as jo
from events.experiments import ExperimentAssigned
from tests.unit.events.test_events import PAYLOADS, envelope

# What steps._split wrote as the reason of a branch_taken before version 2 (and still writes).
V1_SPLIT_REASON = "sticky split: patient in arm 'holdout' (10/100)"


def branch_taken_v1(reason: str) -> dict[str, Any]:
    return {**envelope("journey.branch_taken"), **PAYLOADS["journey.branch_taken"], "reason": reason}


def test_a_v1_split_is_upcast_to_a_split_whose_draw_is_unknown() -> None:
    event = parse_event(branch_taken_v1(V1_SPLIT_REASON))

    assert isinstance(event, jo.BranchTaken) and event.schema_version == 2
    assert event.split == jo.SplitDraw(salt=None, weights=None, bucket=None)
    assert event.reason == V1_SPLIT_REASON


@pytest.mark.parametrize("reason", ["", "case 1: score <= 6", "default", "split: arm 'a'", " sticky split: arm"])
def test_a_v1_branch_without_the_split_reason_is_upcast_to_no_split(reason: str) -> None:
    event = parse_event(branch_taken_v1(reason))

    assert isinstance(event, jo.BranchTaken) and event.split is None


def test_the_upcaster_matches_the_reason_the_split_step_writes() -> None:
    assert V1_SPLIT_REASON.startswith(jo.SPLIT_REASON_PREFIX)


def test_a_v2_split_draw_round_trips_and_is_not_upcast_again() -> None:
    draw = {"salt": "survey-2026", "weights": {"survey": 90, "holdout": 10}, "bucket": 93}
    data = {**branch_taken_v1(V1_SPLIT_REASON), "schema_version": 2, "split": draw}

    event = parse_event(data)

    assert isinstance(event, jo.BranchTaken)
    assert event.split == jo.SplitDraw(salt="survey-2026", weights={"survey": 90, "holdout": 10}, bucket=93)
    assert parse_event(event.model_dump_json()) == event


def test_a_split_draw_missing_its_fields_is_rejected() -> None:
    with pytest.raises(EventValidationError, match="split"):
        parse_event({**branch_taken_v1(""), "schema_version": 2, "split": {"salt": "s"}})


def experiment(**fields: Any) -> dict[str, Any]:
    return {**envelope("experiment.assigned"), **PAYLOADS["experiment.assigned"], **fields}


def test_experiment_assigned_round_trips_in_both_arms() -> None:
    for arm, holdout in (("holdout", True), ("treated", False)):
        event = parse_event(experiment(arm=arm, holdout=holdout))
        assert isinstance(event, ExperimentAssigned)
        assert (event.arm, event.holdout, event.share_bp, event.kind) == (arm, holdout, 500, "global_holdout")
        assert parse_event(event.model_dump_json()) == event


@pytest.mark.parametrize(("arm", "holdout"), [("holdout", False), ("treated", True)])
def test_experiment_assigned_whose_arm_and_holdout_disagree_is_rejected(arm: str, holdout: bool) -> None:
    with pytest.raises(EventValidationError, match="the two must agree"):
        parse_event(experiment(arm=arm, holdout=holdout))


@pytest.mark.parametrize(
    ("field", "value"), [("share_bp", 10_001), ("share_bp", -1), ("arm", "control"), ("kind", "x")]
)
def test_experiment_assigned_rejects_values_outside_its_range(field: str, value: object) -> None:
    with pytest.raises(EventValidationError, match=field):
        parse_event(experiment(**{field: value}))
