"""reminder_queue: planned reminders appear 'scheduled' at the wait's due time, become 'due' when requested, and
are closed by skips, journey endings and outreach results."""

from __future__ import annotations

from events import journey as jo
from events import outreach as ou
from projections.ops import Update, Upsert
from projections.reminder_queue.projection import changes
from tests.builders import (
    at,
    booked,
    cancelled,
    discharge,
    event,
    local,
    recorded,
    rescheduled,
    simulation,
)
from tests.unit.projections.fold import column, fold_sim

P = "P-reminders"
APPOINTMENT = at("2026-03-20 09:30")


def reminders(sim, patient=P):
    rows = fold_sim(sim, patient).rows("reminder_queue")
    return sorted((r["template"], local(r["due_at"]), r["status"]) for r in rows)


def test_a_wait_that_announces_its_message_schedules_the_reminder_at_the_waits_due_time():
    sim = simulation(discharge(P, at("2026-03-02 10:00")))
    wait = recorded(sim, P, jo.WaitScheduled)[0]

    (op,) = changes(wait)

    assert isinstance(op, Upsert)
    assert op.key == ("message_id",)
    assert op.values["message_id"] == wait.planned_message.message_id
    assert (op.values["template"], op.values["channels"]) == ("postop-day3-care", ["wechat", "sms"])
    assert (op.values["due_at"], op.values["status"]) == (wait.due_at, "scheduled")


def test_a_post_op_discharge_queues_day_3_care_and_then_day_7_rehab_at_10_00():
    sim = simulation(discharge(P, at("2026-03-02 10:00")))
    assert reminders(sim) == [("postop-day3-care", "2026-03-05 10:00+08:00", "scheduled")]

    sim.run_until(at("2026-03-06 00:00"))
    assert reminders(sim) == [
        ("postop-day3-care", "2026-03-05 10:00+08:00", "due"),
        ("postop-day7-rehab", "2026-03-09 10:00+08:00", "scheduled"),
    ]


def test_the_message_request_makes_the_same_row_due_with_its_category():
    sim = simulation(discharge(P, at("2026-03-02 10:00")))
    sim.run_until(at("2026-03-06 00:00"))
    request = recorded(sim, P, jo.MessageRequested)[0]

    (op,) = changes(request)

    assert op.values["message_id"] == recorded(sim, P, jo.WaitScheduled)[0].planned_message.message_id
    assert (op.values["status"], op.values["category"], op.values["due_at"]) == ("due", "care", request.due_at)


def test_a_cancelled_appointment_cancels_its_scheduled_reminder():
    sim = simulation(booked(P, at("2026-03-10 14:00"), APPOINTMENT), cancelled(P, at("2026-03-12 16:00"), APPOINTMENT))

    rows = fold_sim(sim, P).rows("reminder_queue")

    assert column(rows, "template", "status") == [("appointment-reminder-3d", "cancelled")]
    assert rows[0]["reason"] == "journey exited: cancelled"


def test_a_rescheduled_appointment_moves_the_same_reminder_to_the_new_time():
    sim = simulation(
        booked(P, at("2026-03-10 14:00"), APPOINTMENT), rescheduled(P, at("2026-03-12 10:00"), at("2026-03-25 09:30"))
    )

    assert reminders(sim) == [("appointment-reminder-3d", "2026-03-22 09:00+08:00", "scheduled")]


def test_a_reminder_whose_time_has_passed_when_rescheduled_is_marked_skipped():
    # Moved on the 16th to the 18th: the 3-day reminder would have been due on the 15th, too stale to send.
    sim = simulation(
        booked(P, at("2026-03-10 14:00"), APPOINTMENT), rescheduled(P, at("2026-03-16 10:00"), at("2026-03-18 10:00"))
    )

    assert reminders(sim) == [
        ("appointment-reminder-1d", "2026-03-17 09:00+08:00", "scheduled"),
        ("appointment-reminder-3d", "2026-03-17 09:00+08:00", "skipped"),
    ]


def test_delivery_marks_a_reminder_sent_and_a_later_failure_on_another_channel_does_not_undo_it():
    delivered = event(ou.OutreachDelivered, P, at("2026-03-05 10:01"), message_id="m-1", channel="wechat")
    failed = event(ou.OutreachFailed, P, at("2026-03-05 10:02"), message_id="m-1", channel="sms", reason="no signal")

    assert changes(delivered) == [
        Update(
            "reminder_queue",
            {"status": "sent", "reason": "delivered via wechat", "updated_at": delivered.occurred_at},
            {"message_id": "m-1"},
        )
    ]
    (fail,) = changes(failed)
    assert (fail.values["status"], fail.values["reason"], fail.unless) == (
        "failed",
        "sms: no signal",
        {"status": "sent"},
    )


def test_events_that_touch_no_reminder_map_to_nothing():
    sim = simulation(discharge(P, at("2026-03-02 10:00")))
    discharged, started = sim.recorded[P][:2]

    assert changes(discharged) == []
    assert changes(started) == []
