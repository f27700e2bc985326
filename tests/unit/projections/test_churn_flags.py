"""churn_flags: one row per (patient, journey, reason), open until cleared; churn_levels: each patient's latest
score and level."""

from __future__ import annotations

from events import journey as jo
from tests.builders import at, discharge, simulation
from tests.unit.projections.fold import column, engine_event, fold

P = "P-churn"
STEP = {"instance_id": "i-1", "step_id": "flag", "next_step_id": None}


def flagged(when, reason, weight, score, level, journey="diabetes-care", n=0):
    return engine_event(
        jo.ChurnFlagged,
        P,
        at(when),
        n,
        journey_id=journey,
        flag_reason=reason,
        weight=weight,
        score=score,
        level=level,
        evidence=("e-1", "e-2"),
        **STEP,
    )


def cleared(when, reason, score, level, journey="diabetes-care", n=0):
    return engine_event(
        jo.ChurnCleared, P, at(when), n, journey_id=journey, flag_reason=reason, score=score, level=level, **STEP
    )


def test_a_post_op_patient_without_follow_up_is_flagged_at_medium_risk_with_its_evidence():
    sim = simulation(discharge(P, at("2026-03-02 10:00")))
    sim.run_until(at("2026-04-02 00:00"))

    tables = fold(sim.recorded[P])

    (flag,) = tables.rows("churn_flags")
    assert (flag["journey_id"], flag["reason"]) == ("post-op-follow-up", "no follow-up visit within 30 days of surgery")
    assert (flag["weight"], flag["score"], flag["level"], flag["status"]) == (40, 40, "medium", "open")
    assert flag["since"] == at("2026-04-01 10:00")
    assert flag["evidence"] == [sim.recorded[P][0].event_id]
    assert column(tables.rows("churn_levels"), "patient_id", "score", "level") == [(P, 40, "medium")]


def test_raising_an_open_flag_again_keeps_its_since_and_raising_a_cleared_one_starts_afresh():
    events = [
        flagged("2026-03-01 09:00", "missed", 50, 50, "medium", n=1),
        flagged("2026-06-01 09:00", "missed", 50, 50, "medium", n=2),
    ]
    assert fold(events).rows("churn_flags")[0]["since"] == at("2026-03-01 09:00")

    events += [
        cleared("2026-07-01 09:00", "missed", 0, "none", n=3),
        flagged("2026-09-01 09:00", "missed", 50, 50, "medium", n=4),
    ]
    (flag,) = fold(events).rows("churn_flags")
    assert (flag["since"], flag["status"], flag["cleared_at"]) == (at("2026-09-01 09:00"), "open", None)


def test_clearing_with_no_reason_clears_every_open_flag_of_that_journey_and_no_other():
    events = [
        flagged("2026-03-01 09:00", "missed twice", 50, 50, "medium", n=1),
        flagged("2026-03-02 09:00", "no answer", 30, 80, "high", n=2),
        flagged("2026-03-03 09:00", "lapsed", 40, 120, "high", journey="we-miss-you", n=3),
        cleared("2026-03-04 09:00", None, 40, "medium", n=4),
    ]

    tables = fold(events)

    assert column(tables.rows("churn_flags"), "journey_id", "reason", "status", "cleared_at", "level") == [
        ("diabetes-care", "missed twice", "cleared", at("2026-03-04 09:00"), "medium"),
        ("diabetes-care", "no answer", "cleared", at("2026-03-04 09:00"), "medium"),
        ("we-miss-you", "lapsed", "open", None, "high"),
    ]
    assert column(tables.rows("churn_levels"), "score", "level") == [(40, "medium")]


def test_clearing_one_reason_leaves_the_journeys_other_flags_open():
    events = [
        flagged("2026-03-01 09:00", "missed twice", 50, 50, "medium", n=1),
        flagged("2026-03-02 09:00", "no answer", 30, 80, "high", n=2),
        cleared("2026-03-04 09:00", "no answer", 50, "medium", n=3),
    ]

    rows = fold(events).rows("churn_flags")

    assert column(rows, "reason", "status") == [("missed twice", "open"), ("no answer", "cleared")]
