"""appointment-reminders: reminders 3 days and 1 day before the appointment at 09:00; a reschedule starts them
over for the new time, a cancellation stops them, a no-show leads to rebooking outreach."""

from tests.builders import (
    at,
    attended,
    booked,
    cancelled,
    endings,
    messages,
    no_show,
    rescheduled,
    sent,
    simulation,
    skipped,
    tasks,
)

P = "P-appointment"
JOURNEY = "appointment-reminders"
START = at("2026-03-20 09:30")  # a Friday morning appointment
REMINDERS = [
    ("appointment-reminder-3d", "2026-03-17 09:00+08:00"),
    ("appointment-reminder-1d", "2026-03-19 09:00+08:00"),
]


def test_reminders_go_out_3_days_and_1_day_before_at_09_00():
    sim = simulation(booked(P, at("2026-03-10 14:00"), START))

    sim.run_until(at("2026-04-01 00:00"))

    assert sent(sim, P) == REMINDERS
    assert all(m.category == "transactional" and m.channels == ("wechat", "sms") for m in messages(sim, P))
    # with no attendance or no-show reported within 3 days of the last reminder, the journey just ends
    assert endings(sim, P) == [(JOURNEY, "completed", "completed")]
    assert tasks(sim, P) == []


def test_attending_completes_the_journey_as_attended():
    sim = simulation(booked(P, at("2026-03-10 14:00"), START), attended(P, at("2026-03-20 09:40"), start_at=START))

    sim.run_until(at("2026-04-01 00:00"))

    assert endings(sim, P) == [(JOURNEY, "completed", "attended")]
    assert sent(sim, P) == REMINDERS


def test_cancellation_stops_the_remaining_reminders():
    # Given the 3-day reminder went out on the 17th, and the patient cancels that afternoon
    sim = simulation(booked(P, at("2026-03-10 14:00"), START), cancelled(P, at("2026-03-17 16:00"), START))

    sim.run_until(at("2026-04-01 00:00"))

    # Then no reminder follows the cancellation
    assert sent(sim, P) == REMINDERS[:1]
    assert all(m.occurred_at < at("2026-03-17 16:00") for m in messages(sim, P))
    assert endings(sim, P) == [(JOURNEY, "exited", "cancelled")]


def test_cancellation_before_any_reminder_means_no_reminders():
    sim = simulation(booked(P, at("2026-03-10 14:00"), START), cancelled(P, at("2026-03-12 11:00"), START))

    sim.run_until(at("2026-04-01 00:00"))

    assert messages(sim, P) == []


def test_cancelling_another_appointment_leaves_these_reminders_alone():
    sim = simulation(
        booked(P, at("2026-03-10 14:00"), START, appointment_id="A1"),
        booked(P, at("2026-03-10 14:05"), at("2026-03-27 09:30"), appointment_id="A2"),
        cancelled(P, at("2026-03-12 11:00"), at("2026-03-27 09:30"), appointment_id="A2"),
    )

    sim.run_until(at("2026-04-01 00:00"))

    assert sent(sim, P) == REMINDERS
    assert endings(sim, P) == [(JOURNEY, "exited", "cancelled"), (JOURNEY, "completed", "completed")]


def test_reschedule_restarts_the_reminders_for_the_new_time():
    # Given the appointment is moved on the 16th from Friday 20th to Wednesday 25th at 15:00
    sim = simulation(
        booked(P, at("2026-03-10 14:00"), START),
        rescheduled(P, at("2026-03-16 10:00"), at("2026-03-25 15:00")),
    )

    sim.run_until(at("2026-04-01 00:00"))

    # Then the reminders follow the new time only
    assert sent(sim, P) == [
        ("appointment-reminder-3d", "2026-03-22 09:00+08:00"),
        ("appointment-reminder-1d", "2026-03-24 09:00+08:00"),
    ]


def test_reschedule_after_the_first_reminder_sends_both_reminders_again_for_the_new_time():
    sim = simulation(
        booked(P, at("2026-03-10 14:00"), START),
        rescheduled(P, at("2026-03-18 10:00"), at("2026-03-27 10:00")),
    )

    sim.run_until(at("2026-04-05 00:00"))

    assert sent(sim, P) == [
        ("appointment-reminder-3d", "2026-03-17 09:00+08:00"),
        ("appointment-reminder-3d", "2026-03-24 09:00+08:00"),
        ("appointment-reminder-1d", "2026-03-26 09:00+08:00"),
    ]


def test_missed_appointment_sends_a_rebook_message_and_schedules_a_rebooking_task():
    start = at("2026-03-23 08:30")
    sim = simulation(booked(P, at("2026-03-12 09:00"), start), no_show(P, at("2026-03-23 12:00"), start))

    sim.run_until(at("2026-04-01 00:00"))

    assert sent(sim, P) == [
        ("appointment-reminder-3d", "2026-03-20 09:00+08:00"),
        ("appointment-reminder-1d", "2026-03-22 09:00+08:00"),
        ("appointment-rebook", "2026-03-23 12:00+08:00"),
    ]
    rebook = messages(sim, P)[-1]
    assert (rebook.channels, rebook.priority, rebook.category) == (("sms", "wechat"), 60, "care")
    (task,) = tasks(sim, P)
    assert (task.queue, task.role, task.priority) == ("scheduling", None, "normal")
    assert task.title == "Missed appointment; offer a new slot"
    assert task.sla_due_at == at("2026-03-25 12:00")
    assert endings(sim, P) == [(JOURNEY, "completed", "no-show")]


def test_no_show_of_another_appointment_does_not_trigger_rebooking_for_this_one():
    sim = simulation(
        booked(P, at("2026-03-10 14:00"), START, appointment_id="A1"),
        booked(P, at("2026-03-10 14:05"), at("2026-03-20 14:00"), appointment_id="A2"),
        no_show(P, at("2026-03-20 16:00"), at("2026-03-20 14:00"), appointment_id="A2"),
    )

    sim.run_until(at("2026-04-01 00:00"))

    assert len(tasks(sim, P)) == 1
    assert sorted(endings(sim, P)) == [(JOURNEY, "completed", "completed"), (JOURNEY, "completed", "no-show")]


def test_booking_less_than_3_days_ahead_skips_the_stale_3_day_reminder_but_sends_the_1_day_one():
    # Given a booking on the 18th at 15:00 for the 20th: the 3-day reminder was due on the 17th at 09:00
    sim = simulation(booked(P, at("2026-03-18 15:00"), START))

    sim.run_until(at("2026-04-01 00:00"))

    # Then it is recorded as skipped (stale after 12h), and only the 1-day reminder goes out
    (skip,) = skipped(sim, P, JOURNEY)
    assert skip.step_id == "remind-3-days"
    assert skip.occurred_at == at("2026-03-18 15:00")
    assert "stale" in skip.reason
    assert sent(sim, P) == REMINDERS[1:]


def test_a_modification_that_keeps_the_time_does_not_restart_the_reminders():
    # An SIU S14 that only changed the room arrives as a reschedule with the same start time.
    sim = simulation(booked("P-room", at("2026-03-10 14:00"), at("2026-03-20 09:30"), appointment_id="A-room"))
    sim.feed([rescheduled("P-room", at("2026-03-12 09:00"), at("2026-03-20 09:30"), appointment_id="A-room")])
    sim.run_until(at("2026-03-21 00:00"))
    assert [t for t, _ in sent(sim, "P-room")] == ["appointment-reminder-3d", "appointment-reminder-1d"]
    assert not [e for e in sim.recorded["P-room"] if e.type == "journey.replanned"]
