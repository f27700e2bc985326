"""Churn signals watched across journeys (journeys.yaml `churn:`): each is a weighted flag that lists the events
behind it, and clears when it no longer holds."""

from __future__ import annotations

from engine.journeys.churn import SIGNALS
from engine.journeys.effects import ScheduleTimer
from engine.journeys.machine import decide
from tests.builders import (
    at,
    catalog,
    cleared,
    diagnosed,
    flags,
    no_show,
    questionnaire,
    replied,
    simulation,
    visit,
)

P = "P-signals"


def signals(sim):
    return [(f.step_id, f.weight, f.score, f.level, f.evidence) for f in flags(sim, P, SIGNALS)]


def test_a_chronic_patient_is_flagged_overdue_by_time_alone_and_a_visit_clears_it():
    seen = visit(P, at("2026-01-10 10:00"))
    sim = simulation(diagnosed(P, at("2026-01-05 10:00"), "I10"), seen)

    # The check is a timer of its own, due 135 days (1.5 x 90) after the last visit
    state = sim.state(P)
    decision = decide(state, visit(P, at("2026-01-12 10:00")), catalog(), at("2026-01-12 10:00"))
    scheduled = [e for e in decision.effects if isinstance(e, ScheduleTimer) and e.instance_id == SIGNALS]
    assert [e.due_at for e in scheduled] == [at("2026-05-27 10:00")]

    sim.run_until(at("2026-05-25 00:00"))
    assert signals(sim) == []
    sim.run_until(at("2026-05-26 12:00"))
    ((name, weight, score, level, evidence),) = signals(sim)
    assert (name, weight, score, level) == ("overdue-visit", 30, 30, "low")
    assert evidence == (seen.event_id,)
    assert flags(sim, P, SIGNALS)[0].occurred_at == at("2026-05-25 10:00")

    sim.feed([visit(P, at("2026-06-01 10:00"))])
    (clear,) = cleared(sim, P, SIGNALS)
    assert (clear.step_id, clear.score, clear.level) == ("overdue-visit", 0, "none")


def test_two_missed_appointments_in_180_days_raise_a_flag_listing_both():
    first = no_show(P, at("2026-02-01 10:00"), at("2026-02-01 09:00"), appointment_id="A1")
    second = no_show(P, at("2026-05-01 10:00"), at("2026-05-01 09:00"), appointment_id="A2")
    sim = simulation(first)
    assert signals(sim) == []
    sim.feed([second])
    ((name, weight, _, _, evidence),) = signals(sim)
    assert (name, weight, evidence) == ("missed-appointments", 25, (first.event_id, second.event_id))

    # The window passes: at the patient's next decision, the first no-show is older than 180 days
    sim.feed([visit(P, at("2026-08-05 10:00"))])
    assert [c.step_id for c in cleared(sim, P, SIGNALS)] == ["missed-appointments"]


def test_three_messages_in_a_row_without_a_reply_raise_a_flag_and_a_reply_clears_it():
    # A hypertensive patient gets a follow-up every 90 days; the fourth one finds three before it unanswered
    sim = simulation(diagnosed(P, at("2026-01-05 10:00"), "I10"))
    sim.run_until(at("2026-12-01 00:00"))
    assert signals(sim) == []
    sim.run_until(at("2027-03-01 00:00"))
    ((name, weight, _, _, evidence),) = signals(sim)
    assert (name, weight, len(evidence)) == ("unanswered-outreach", 20, 3)

    sim.feed([replied(P, at("2027-03-02 12:00"))])
    assert [c.step_id for c in cleared(sim, P, SIGNALS)] == ["unanswered-outreach"]
    assert sim.state(P).unanswered == ()


def test_a_low_satisfaction_score_raises_a_flag_naming_the_response():
    answer = questionnaire(P, at("2026-03-02 20:00"), "satisfaction", score=3)
    sim = simulation(questionnaire(P, at("2026-03-01 20:00"), "satisfaction", score=9), answer)
    ((name, weight, _, _, evidence),) = signals(sim)
    assert (name, weight, evidence) == ("negative-feedback", 25, (answer.event_id,))


def test_signals_and_journey_flags_add_up_to_one_level():
    late = no_show(P, at("2026-02-01 10:00"), at("2026-02-01 09:00"), appointment_id="A1")
    again = no_show(P, at("2026-02-08 10:00"), at("2026-02-08 09:00"), appointment_id="A2")
    unhappy = questionnaire(P, at("2026-02-09 20:00"), "satisfaction", score=2)
    sim = simulation(late, again, unhappy)
    assert [(s[0], s[2], s[3]) for s in signals(sim)] == [
        ("missed-appointments", 25, "low"),
        ("negative-feedback", 50, "medium"),
    ]
    assert sim.state(P).churn_score == 50
