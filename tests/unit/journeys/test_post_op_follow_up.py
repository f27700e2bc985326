"""post-op-follow-up: day-3 care and day-7 rehab messages after a surgical discharge; a follow-up visit
within 30 days completes the journey, otherwise the patient is flagged and the care team calls."""

from datetime import UTC, datetime

from tests.builders import (
    admitted,
    at,
    attended,
    discharge,
    endings,
    flags,
    journey_score,
    messages,
    sent,
    simulation,
    started,
    tasks,
    visit,
)

P = "P-postop"
JOURNEY = "post-op-follow-up"
DAY_3_AND_7 = [("postop-day3-care", "2026-03-05 10:00+08:00"), ("postop-day7-rehab", "2026-03-09 10:00+08:00")]


def test_surgical_discharge_gets_day_3_care_and_day_7_rehab_messages_at_10_local():
    # Given an orthopedic discharge on 2 March at 10:00
    sim = simulation(discharge(P, at("2026-03-02 10:00"), department="orthopedics"))

    # When ten days pass
    sim.run_until(at("2026-03-12 00:00"))

    # Then the day-3 and day-7 messages went out at 10:00 local time, nothing else yet
    assert sent(sim, P) == DAY_3_AND_7
    day3, day7 = messages(sim, P)
    assert day3.occurred_at == at("2026-03-05 10:00")
    assert (day3.channels, day3.priority, day3.category) == (("wechat", "sms"), 70, "care")
    assert (day7.channels, day7.priority) == (("wechat", "sms", "email"), 60)
    assert flags(sim, P) == []
    assert tasks(sim, P) == []


def test_no_follow_up_within_30_days_flags_the_patient_and_asks_the_care_team_to_call():
    discharged = discharge(P, at("2026-03-02 10:00"))
    sim = simulation(discharged)

    # When a month and more passes without any visit
    sim.run_until(at("2026-05-01 00:00"))

    # Then on day 30 at 10:00 the patient is flagged and a nurse gets a high-priority call task
    (flag,) = flags(sim, P)
    assert flag.occurred_at == at("2026-04-01 10:00")
    assert flag.flag_reason == "no follow-up visit within 30 days of surgery"
    assert (flag.weight, flag.score, flag.level) == (40, 40, "medium")
    assert flag.evidence == (discharged.event_id,)
    (task,) = tasks(sim, P)
    assert (task.queue, task.role, task.priority) == ("care-team", "nurse", "high")
    assert task.title == "Post-op patient has not come back for follow-up; call and rebook"
    assert task.sla_due_at == at("2026-04-03 10:00")
    assert sent(sim, P) == DAY_3_AND_7
    assert endings(sim, P) == [(JOURNEY, "completed", "completed")]


def test_follow_up_visit_completes_the_journey_with_no_flag():
    # Given a discharge, and the patient attends the follow-up appointment on day 18
    sim = simulation(
        discharge(P, at("2026-03-02 10:00")),
        attended(P, at("2026-03-20 09:30")),
    )

    # When well past day 30
    sim.run_until(at("2026-05-01 00:00"))

    # Then the journey completed as followed-up: both messages, but no flag and no call
    assert endings(sim, P) == [(JOURNEY, "completed", "followed-up")]
    assert sent(sim, P) == DAY_3_AND_7
    assert flags(sim, P) == []
    assert tasks(sim, P) == []
    assert journey_score(sim, P) == 0


def test_follow_up_before_day_3_means_no_messages_at_all():
    sim = simulation(discharge(P, at("2026-03-02 10:00")), visit(P, at("2026-03-04 15:00"), department="orthopedics"))

    sim.run_until(at("2026-05-01 00:00"))

    assert endings(sim, P, JOURNEY) == [(JOURNEY, "completed", "followed-up")]
    assert messages(sim, P, JOURNEY) == []
    assert flags(sim, P) == []


def test_corrected_discharge_time_moves_the_day_3_and_day_7_messages():
    # Given a discharge at 2 March 10:00, corrected two days later (same encounter, later message) to 4 March 09:00
    sim = simulation(
        discharge(P, at("2026-03-02 10:00"), encounter_id="E1", msg="adt-a03-1"),
        discharge(P, at("2026-03-04 09:00"), encounter_id="E1", msg="adt-a08-1", recorded=at("2026-03-04 12:00")),
    )

    sim.run_until(at("2026-05-01 00:00"))

    # Then every wait is measured from the corrected time, and there is still a single instance
    assert sent(sim, P) == [
        ("postop-day3-care", "2026-03-07 10:00+08:00"),
        ("postop-day7-rehab", "2026-03-11 10:00+08:00"),
    ]
    assert flags(sim, P)[0].occurred_at == at("2026-04-03 10:00")
    assert len(started(sim, P, JOURNEY)) == 1


def test_correction_after_the_day_3_message_moves_only_what_is_still_pending():
    # Given the day-3 message already went out when the discharge is corrected one day later
    sim = simulation(
        discharge(P, at("2026-03-02 10:00"), encounter_id="E1"),
        discharge(P, at("2026-03-03 10:00"), encounter_id="E1", recorded=at("2026-03-06 08:00")),
    )

    sim.run_until(at("2026-05-01 00:00"))

    # Then what was sent stays sent, and day 7 and day 30 follow the corrected time
    assert sent(sim, P) == [
        ("postop-day3-care", "2026-03-05 10:00+08:00"),
        ("postop-day7-rehab", "2026-03-10 10:00+08:00"),
    ]
    assert flags(sim, P)[0].occurred_at == at("2026-04-02 10:00")


def test_readmission_exits_the_journey_and_stops_the_remaining_steps():
    # Given a discharge, and the patient is readmitted on day 4 (after the day-3 message)
    sim = simulation(
        discharge(P, at("2026-03-02 10:00")),
        admitted(P, at("2026-03-06 10:00"), encounter_id="E2"),
    )

    sim.run_until(at("2026-05-01 00:00"))

    # Then the journey exited as readmitted: no day-7 message, no flag, no task
    assert endings(sim, P) == [(JOURNEY, "exited", "readmitted")]
    assert sent(sim, P) == DAY_3_AND_7[:1]
    assert flags(sim, P) == []
    assert tasks(sim, P) == []


def test_day_surgery_enters_whatever_the_department():
    sim = simulation(discharge(P, at("2026-03-02 10:00"), department="ophthalmology", encounter_class="day_surgery"))

    sim.run_until(at("2026-03-12 00:00"))

    assert sent(sim, P) == DAY_3_AND_7


def test_medical_discharge_starts_no_post_op_journey():
    sim = simulation(discharge(P, at("2026-03-02 10:00"), department="cardiology"))

    sim.run_until(at("2026-05-01 00:00"))

    assert started(sim, P) == []
    assert messages(sim, P) == []


def test_discharge_reported_more_than_30_days_late_starts_nothing():
    sim = simulation(discharge(P, at("2026-03-02 10:00"), recorded=at("2026-04-02 10:00")))

    sim.run_until(at("2026-05-01 00:00"))

    assert started(sim, P) == []


def test_discharge_stamped_in_utc_is_planned_on_the_hospital_calendar():
    # 1 March 18:00 UTC is 2 March 02:00 in Shanghai: day 3 is 5 March, not 4 March
    utc = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)
    sim = simulation(discharge(P, utc))

    sim.run_until(at("2026-03-06 00:00"))

    assert sent(sim, P) == [("postop-day3-care", "2026-03-05 10:00+08:00")]
