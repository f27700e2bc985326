"""engagement: one journey_steps row per step event of an instance (with its start and end), one churn_history row
per flag raised or cleared, one questionnaires row per response with its score and never its answers."""

from __future__ import annotations

from engine.journeys.churn import SIGNALS
from events import journey as jo
from projections.catalog import select
from projections.engagement.projection import changes
from tests.builders import at, discharge, questionnaire, recorded, simulation, visit
from tests.unit.projections.fold import column, engine_event, fold

P = "P-engagement"
STEP = {"instance_id": "i-1", "step_id": "flag", "next_step_id": None}


def steps(tables):
    return sorted(tables.rows("journey_steps"), key=lambda r: r["seq"])


def test_a_post_op_journey_leaves_its_start_each_step_and_its_end_in_log_order():
    sim = simulation(discharge(P, at("2026-03-02 10:00"), encounter_id="E7"))
    sim.run_until(at("2026-04-02 00:00"))
    (instance,) = recorded(sim, P, jo.JourneyStarted)

    rows = steps(fold(sim.recorded[P]))

    assert column(rows[:3], "kind", "step_id", "at") == [
        ("journey.started", None, at("2026-03-02 10:00")),
        ("journey.step_due", "wait-day-3", at("2026-03-05 10:00")),
        ("message.requested", "day-3-care", at("2026-03-05 10:00")),
    ]
    assert {r["instance_id"] for r in rows} == {instance.instance_id}
    assert {r["journey_id"] for r in rows} == {"post-op-follow-up"}
    assert rows[-1]["kind"] == "journey.completed"
    assert [r["seq"] for r in rows] == sorted({r["seq"] for r in rows})  # one row per event, in the log's order


def test_every_step_event_of_the_instance_is_a_row_and_waits_and_policy_decisions_are_not():
    sim = simulation(
        discharge(P, at("2026-03-02 10:00")), questionnaire(P, at("2026-03-07 10:00"), "satisfaction", score=1)
    )
    sim.run_until(at("2026-04-02 00:00"))
    step_events = [
        e
        for e in sim.recorded[P]
        if isinstance(e, jo._StepEvent | jo.JourneyStarted | jo.JourneyCompleted | jo.JourneyExited)
        and e.journey_id != SIGNALS
    ]
    assert any(isinstance(e, jo.ChurnFlagged) and e.journey_id == SIGNALS for e in sim.recorded[P])

    rows = fold(sim.recorded[P]).rows("journey_steps")

    assert sorted(r["event_id"] for r in rows) == sorted(e.event_id for e in step_events)
    assert "journey.waiting" not in {r["kind"] for r in rows}
    assert "message.approved" not in {r["kind"] for r in rows}


def test_a_split_records_the_arm_the_patient_drew_as_the_branch():
    sim = simulation(visit(P, at("2026-03-02 10:00")))
    sim.run_until(at("2026-03-03 00:00"))
    (drawn,) = recorded(sim, P, jo.BranchTaken, "post-visit-satisfaction")

    rows = [r for r in fold(sim.recorded[P]).rows("journey_steps") if r["kind"] == "journey.branch_taken"]

    assert column(rows, "journey_id", "step_id", "branch") == [("post-visit-satisfaction", "split", drawn.branch)]
    assert drawn.branch in {"survey", "holdout"}


def test_a_churn_signal_s_flag_is_churn_history_and_no_journey_step():
    signal = engine_event(
        jo.ChurnFlagged,
        P,
        at("2026-03-02 13:00"),
        journey_id=SIGNALS,
        flag_reason="negative-feedback",
        weight=2,
        score=2,
        level="low",
        evidence=("e-1",),
        instance_id=SIGNALS,
        step_id="negative-feedback",
        next_step_id=None,
    )

    tables = fold([signal])

    assert tables.rows("journey_steps") == []
    assert column(tables.rows("churn_history"), "journey_id", "reason") == [(SIGNALS, "negative-feedback")]


def test_only_a_branch_taken_has_a_branch():
    sim = simulation(discharge(P, at("2026-03-02 10:00")))
    sim.run_until(at("2026-04-02 00:00"))

    rows = fold(sim.recorded[P]).rows("journey_steps")

    assert {r["branch"] for r in rows if r["kind"] != "journey.branch_taken"} == {None}


def flagged(when, reason, weight, score, level, n=0):
    return engine_event(
        jo.ChurnFlagged,
        P,
        at(when),
        n,
        journey_id="diabetes-care",
        flag_reason=reason,
        weight=weight,
        score=score,
        level=level,
        evidence=("e-1",),
        **STEP,
    )


def cleared(when, reason, score, level, n=0):
    return engine_event(
        jo.ChurnCleared,
        P,
        at(when),
        n,
        journey_id="diabetes-care",
        flag_reason=reason,
        score=score,
        level=level,
        **STEP,
    )


def test_each_churn_flag_and_clear_is_kept_with_the_score_and_level_after_it():
    tables = fold(
        [
            flagged("2026-03-01 10:00", "missed-visit", 3, 3, "low", n=1),
            flagged("2026-03-08 10:00", "no-reply", 4, 7, "medium", n=2),
            cleared("2026-03-20 10:00", "missed-visit", 4, "low", n=3),
            cleared("2026-04-01 10:00", None, 0, "none", n=4),  # every flag of the journey
        ]
    )

    rows = sorted(tables.rows("churn_history"), key=lambda r: r["at"])

    assert column(rows, "change", "reason", "weight", "score", "level", "at") == [
        ("flagged", "missed-visit", 3, 3, "low", at("2026-03-01 10:00")),
        ("flagged", "no-reply", 4, 7, "medium", at("2026-03-08 10:00")),
        ("cleared", "missed-visit", None, 4, "low", at("2026-03-20 10:00")),
        ("cleared", None, None, 0, "none", at("2026-04-01 10:00")),
    ]
    assert {(r["patient_id"], r["journey_id"]) for r in rows} == {(P, "diabetes-care")}


def test_the_same_flag_raised_twice_is_two_rows_of_history():
    tables = fold(
        [
            flagged("2026-03-01 10:00", "missed-visit", 3, 3, "low", n=1),
            flagged("2026-05-01 10:00", "missed-visit", 3, 3, "low", n=2),
        ]
    )

    assert column(tables.rows("churn_history"), "change", "at") == [
        ("flagged", at("2026-03-01 10:00")),
        ("flagged", at("2026-05-01 10:00")),
    ]


def test_a_questionnaire_keeps_its_instrument_and_score_and_never_its_answers():
    answer = "护士态度很差，王医生没来"
    response = questionnaire(P, at("2026-03-07 20:15"), "satisfaction", score=4, response_id="R-77", q1=4)
    with_text = response.model_copy(update={"items": {"q1": 4, "comment": answer}})

    ops = changes(with_text)
    (row,) = fold([with_text]).rows("questionnaires")

    assert (row["patient_id"], row["response_id"], row["instrument"], row["score"]) == (P, "R-77", "satisfaction", 4)
    assert (row["completed_at"], row["message_id"], row["event_id"]) == (
        at("2026-03-07 20:15"),
        None,
        response.event_id,
    )
    assert answer not in repr(ops)
    assert "comment" not in repr(ops) and "items" not in repr(ops)


def test_a_response_sent_again_is_still_one_row():
    first = questionnaire(P, at("2026-03-07 20:15"), "epds", score=9, response_id="R-1")
    again = questionnaire(P, at("2026-03-07 20:15"), "epds", score=9, response_id="R-1")

    assert len(fold([first, again]).rows("questionnaires")) == 1


def test_a_page_applied_again_at_the_same_positions_changes_nothing():
    sim = simulation(
        discharge(P, at("2026-03-02 10:00")), questionnaire(P, at("2026-03-07 20:15"), "satisfaction", score=9)
    )
    sim.run_until(at("2026-04-02 00:00"))  # no follow-up visit: a churn flag on day 30
    once = fold(sim.recorded[P])
    twice = fold(sim.recorded[P])
    for seq, e in enumerate(sim.recorded[P], start=1):  # as a runner does after a crash before its commit
        twice.apply(changes(e, seq))

    for table in ("journey_steps", "churn_history", "questionnaires"):
        assert once.rows(table), f"the story should leave {table} rows"
        assert once.rows(table) == twice.rows(table), table


def test_clinical_events_other_than_questionnaires_give_no_engagement_row():
    assert changes(discharge(P, at("2026-03-02 10:00"))) == []
    assert changes(visit(P, at("2026-03-02 10:00"))) == []


def test_the_projection_is_one_the_runner_follows_with_its_three_tables():
    (projection,) = select("engagement")

    assert projection.tables == ("journey_steps", "churn_history", "questionnaires")
    for table in projection.tables:
        assert f"CREATE TABLE IF NOT EXISTS {table}" in projection.schema_sql()
