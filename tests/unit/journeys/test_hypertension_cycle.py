"""hypertension-cycle: a follow-up every 90 days at 09:30; two unanswered follow-ups in a row with no visit in
90 days raise a high churn flag and a call task; an answer or a visit resets the count and clears the flag."""

from events import journey as jo
from events import outreach as ou
from tests.builders import (
    at,
    attended,
    cleared,
    diagnosed,
    event,
    flags,
    instances,
    journey_score,
    recorded,
    replied,
    sent,
    simulation,
    tasks,
    visit,
)

P = "P-hypertension"
JOURNEY = "hypertension-cycle"
FOLLOW_UP = "hypertension-follow-up"


def hypertensive():
    # Diagnosed on 5 January 2026: follow-ups on 5 April, 18 July, 30 October (each 90 days after the last step)
    return simulation(diagnosed(P, at("2026-01-05 10:00"), "I10"))


def counter(sim) -> int:
    return instances(sim, P, JOURNEY)[0].counters.get("unanswered", 0)


def test_follow_up_every_90_days_at_09_30_and_one_silence_is_not_yet_a_risk():
    sim = hypertensive()

    sim.run_until(at("2026-07-20 00:00"))

    assert sent(sim, P, JOURNEY) == [(FOLLOW_UP, "2026-04-05 09:30+08:00"), (FOLLOW_UP, "2026-07-18 09:30+08:00")]
    assert counter(sim) == 1
    assert flags(sim, P) == []


def test_two_unanswered_follow_ups_and_no_visit_in_90_days_raise_a_high_churn_flag_and_a_call_task():
    sim = hypertensive()

    # When neither the April nor the July follow-up is answered
    sim.run_until(at("2026-08-05 00:00"))

    # Then when the July answer window closes (14 days later at 09:30) the patient is high risk and a nurse calls
    (flag,) = flags(sim, P)
    assert flag.occurred_at == at("2026-08-01 09:30")
    assert flag.flag_reason == "two unanswered hypertension follow-ups and no visit in 90 days"
    assert (flag.weight, flag.score, flag.level) == (70, 70, "high")
    (task,) = tasks(sim, P)
    assert (task.queue, task.role, task.priority) == ("chronic-care", "nurse", "high")
    assert task.title == "Hypertensive patient stopped answering; call"
    assert task.sla_due_at == at("2026-08-02 09:30")


def test_a_third_silence_raises_the_same_flag_again_without_doubling_the_score():
    sim = hypertensive()

    sim.run_until(at("2026-12-01 00:00"))

    assert [(f.occurred_at, f.score, f.level) for f in flags(sim, P)] == [
        (at("2026-08-01 09:30"), 70, "high"),
        (at("2026-11-13 09:30"), 70, "high"),
    ]
    assert len(tasks(sim, P)) == 2
    assert journey_score(sim, P) == 70


def test_reply_to_a_follow_up_clears_the_flag_and_resets_the_count():
    # Given the patient is flagged high risk after two silences
    sim = hypertensive()
    sim.run_until(at("2026-10-31 00:00"))
    assert journey_score(sim, P) == 70

    # When the patient replies to the October follow-up
    sim.feed([replied(P, at("2026-11-02 12:00"))])
    sim.run_until(at("2027-02-01 00:00"))

    # Then the flag is cleared, the count is zero, and the next follow-up is 90 days after the reply
    (clear,) = cleared(sim, P)
    assert clear.occurred_at == at("2026-11-02 12:00")
    assert (clear.score, clear.level) == (0, "none")
    assert sim.state(P).flags == {}
    assert counter(sim) == 0
    assert sent(sim, P, JOURNEY)[-1] == (FOLLOW_UP, "2027-01-31 09:30+08:00")
    assert len(tasks(sim, P)) == 1


def test_visit_in_the_answer_window_counts_as_an_answer():
    sim = hypertensive()
    sim.feed([visit(P, at("2026-04-10 10:00"), department="cardiology")])

    sim.run_until(at("2026-08-05 00:00"))

    assert counter(sim) == 1  # only the July follow-up went unanswered
    assert sent(sim, P, JOURNEY) == [(FOLLOW_UP, "2026-04-05 09:30+08:00"), (FOLLOW_UP, "2026-07-09 09:30+08:00")]
    assert flags(sim, P) == []


def test_recent_visit_keeps_the_patient_out_of_high_risk_despite_two_silences():
    # Given the patient ignores both follow-ups but attends a clinic on 1 June, between them
    sim = hypertensive()
    sim.run_until(at("2026-05-01 00:00"))
    sim.feed([attended(P, at("2026-06-01 10:00"))])

    sim.run_until(at("2026-08-05 00:00"))

    # Then two silences alone are not enough: the last visit is only 61 days old
    assert counter(sim) == 2
    assert flags(sim, P) == []
    assert tasks(sim, P) == []


def test_a_read_receipt_is_no_answer_and_the_follow_up_still_counts_as_unanswered():
    sim = hypertensive()
    sim.run_until(at("2026-04-06 00:00"))
    (april,) = recorded(sim, P, jo.MessageRequested, JOURNEY)

    # The patient opens the April follow-up on WeChat and never answers it
    sim.feed([event(ou.OutreachRead, P, at("2026-04-05 20:00"), message_id=april.message_id, channel="wechat")])
    sim.run_until(at("2026-04-20 00:00"))

    assert counter(sim) == 1
