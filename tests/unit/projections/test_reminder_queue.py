"""reminder_queue: planned reminders appear 'scheduled' at the wait's due time, become 'due' when requested, follow
the outreach policy's decisions and the outreach results, and are closed by skips and journey endings."""

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
from tests.unit.projections.fold import column, engine_event, fold, fold_sim

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

    # Requested at 10:00 on day 3 and approved by the outreach policy at once (not in quiet hours, no cap hit)
    sim.run_until(at("2026-03-06 00:00"))
    assert reminders(sim) == [
        ("postop-day3-care", "2026-03-05 10:00+08:00", "approved"),
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


def outreach(cls, minute, **fields):
    return engine_or_outreach(cls, minute, **fields)


def engine_or_outreach(cls, minute, **fields):
    when = at(f"2026-03-05 10:{minute:02d}")
    if cls.model_fields["type"].default.startswith("message."):
        base = {"instance_id": "i-1", "journey_id": "post-op-follow-up", "template": "postop-day3-care"}
        return engine_event(cls, P, when, n=minute, **base, **fields)
    return event(cls, P, when, **fields)


def requested_row(**fields):
    """A requested day-3 message (fields: what a case changes), folded into a fresh table (built by hand: these
    cases follow the request)."""
    day3 = {
        "message_id": "m-day3",
        "step_id": "day-3-care",
        "next_step_id": "wait-day-7",
        "channels": ("wechat", "sms"),
        "due_at": at("2026-03-05 10:00"),
        "journey_version": 1,
    }
    request = engine_or_outreach(jo.MessageRequested, 0, **(day3 | fields))
    return request, fold([request])


def test_a_requested_message_follows_the_policy_and_the_outreach_results_to_the_patients_reply():
    request, tables = requested_row()
    m = request.message_id
    status = lambda: column(tables.rows("reminder_queue"), "status", "channel", "policy_rule")[0]  # noqa: E731

    # Held back by quiet hours, then approved on WeChat
    until = at("2026-03-05 20:00")
    tables.apply(changes(outreach(jo.MessageDeferred, 1, message_id=m, rule="quiet_hours", until=until, timer_id="t")))
    assert status() == ("deferred", None, "quiet_hours")
    assert tables.rows("reminder_queue")[0]["deferred_until"] == until
    tables.apply(
        changes(
            outreach(
                jo.MessageApproved, 2, message_id=m, channel="wechat", locale="zh-CN", category="care", priority=50
            )
        )
    )
    assert status() == ("approved", "wechat", "quiet_hours")

    # Sent, delivered, answered
    tables.apply(changes(outreach(ou.OutreachSent, 3, message_id=m, channel="wechat", gateway="wechat-main")))
    assert status()[0] == "sent"
    tables.apply(changes(outreach(ou.OutreachReplied, 5, message_id=m, channel="wechat", text="fine")))
    # The delivery receipt comes after the reply: it records the delivery time but the row stays replied
    tables.apply(changes(outreach(ou.OutreachDelivered, 6, message_id=m, channel="wechat")))
    (row,) = tables.rows("reminder_queue")
    assert (row["status"], row["reason"]) == ("replied", "replied via wechat")
    assert (row["sent_at"], row["delivered_at"], row["replied_at"]) == (
        at("2026-03-05 10:03"),
        at("2026-03-05 10:06"),
        at("2026-03-05 10:05"),
    )


def test_a_failure_on_another_channel_never_undoes_a_delivery():
    request, tables = requested_row()
    m = request.message_id
    tables.apply(changes(outreach(ou.OutreachDelivered, 1, message_id=m, channel="wechat")))
    tables.apply(changes(outreach(ou.OutreachFailed, 2, message_id=m, channel="sms", reason="no signal")))

    assert column(tables.rows("reminder_queue"), "status", "channel", "reason") == [
        ("delivered", "wechat", "delivered via wechat")
    ]


def test_a_failed_channel_falls_back_and_a_message_that_fails_everywhere_ends_failed():
    request, tables = requested_row()
    m = request.message_id
    tables.apply(changes(outreach(ou.OutreachFailed, 1, message_id=m, channel="wechat", reason="not following")))
    assert column(tables.rows("reminder_queue"), "status", "reason") == [("failed", "wechat: not following")]
    approved = outreach(
        jo.MessageApproved, 2, message_id=m, channel="sms", attempt=2, locale="zh-CN", category="care", priority=50
    )
    tables.apply(changes(approved))
    assert column(tables.rows("reminder_queue"), "status", "channel", "attempt") == [("approved", "sms", 2)]
    tables.apply(changes(outreach(jo.MessageFailed, 3, message_id=m, channels_tried=("wechat", "sms"))))

    assert column(tables.rows("reminder_queue"), "status", "reason") == [
        ("failed", "every channel failed (wechat, sms)")
    ]


def test_a_suppressed_message_records_the_rule_and_changes_map_to_one_guarded_update_per_prior_status():
    request, tables = requested_row()
    suppressed = outreach(jo.MessageSuppressed, 1, message_id=request.message_id, rule="consent")
    ops = changes(suppressed)
    tables.apply(ops)

    assert column(tables.rows("reminder_queue"), "status", "policy_rule", "reason") == [
        ("suppressed", "consent", "suppressed by consent")
    ]
    assert [op.where for op in ops] == [
        {"message_id": request.message_id, "status": before} for before in ("due", "deferred", "approved")
    ]
    assert all(isinstance(op, Update) for op in ops)


def test_events_that_touch_no_reminder_map_to_nothing():
    sim = simulation(discharge(P, at("2026-03-02 10:00")))
    discharged, started = sim.recorded[P][:2]

    assert changes(discharged) == []
    assert changes(started) == []


def test_a_request_records_when_it_was_requested_and_the_first_approval_when_policy_first_allowed_it():
    request, tables = requested_row()
    m = request.message_id
    deferred = outreach(
        jo.MessageDeferred, 1, message_id=m, rule="quiet_hours", until=at("2026-03-05 20:00"), timer_id="t"
    )
    first = outreach(
        jo.MessageApproved, 2, message_id=m, channel="wechat", locale="zh-CN", category="care", priority=50
    )
    failed = outreach(ou.OutreachFailed, 3, message_id=m, channel="wechat", reason="not following")
    fallback = outreach(
        jo.MessageApproved, 4, message_id=m, channel="sms", attempt=2, locale="zh-CN", category="care", priority=50
    )

    tables.apply(changes(deferred))
    assert column(tables.rows("reminder_queue"), "requested_at", "approved_at") == [(at("2026-03-05 10:00"), None)]
    for e in (first, failed, fallback):
        tables.apply(changes(e))

    # The fallback channel's approval (attempt 2) moves the row but keeps the first approval's time
    assert column(tables.rows("reminder_queue"), "status", "channel", "requested_at", "approved_at") == [
        ("approved", "sms", at("2026-03-05 10:00"), at("2026-03-05 10:02"))
    ]


def test_a_scheduled_reminder_has_no_request_time_until_the_engine_requests_it():
    sim = simulation(discharge(P, at("2026-03-02 10:00")))
    (row,) = fold_sim(sim, P).rows("reminder_queue")
    assert row["status"] == "scheduled" and row.get("requested_at") is None

    sim.run_until(at("2026-03-06 00:00"))
    day3 = next(r for r in fold_sim(sim, P).rows("reminder_queue") if r["template"] == "postop-day3-care")
    assert (day3["status"], day3["requested_at"], day3["approved_at"]) == (
        "approved",
        at("2026-03-05 10:00"),
        at("2026-03-05 10:00"),
    )


def test_the_row_carries_the_priority_the_engine_requested_the_message_with():
    _, tables = requested_row(message_id="m-urgent", channels=("sms",), priority=90)

    assert column(tables.rows("reminder_queue"), "message_id", "priority") == [("m-urgent", 90)]


def sent_row():
    request, tables = requested_row()
    tables.apply(changes(outreach(ou.OutreachSent, 1, message_id=request.message_id, channel="wechat", gateway="wx")))
    return request.message_id, tables


def read_columns(tables):
    return column(tables.rows("reminder_queue"), "status", "channel", "delivered_at", "read_at", "replied_at")


def test_a_read_receipt_moves_a_delivered_message_to_read_and_a_later_one_keeps_the_first_read_time():
    m, tables = sent_row()
    tables.apply(changes(outreach(ou.OutreachDelivered, 2, message_id=m, channel="wechat")))
    tables.apply(changes(outreach(ou.OutreachRead, 7, message_id=m, channel="wechat")))
    assert read_columns(tables) == [("read", "wechat", at("2026-03-05 10:02"), at("2026-03-05 10:07"), None)]
    assert tables.rows("reminder_queue")[0]["reason"] == "read via wechat"

    # Opened again later (an email gateway reports every open): the row keeps the first read's time
    tables.apply(changes(outreach(ou.OutreachRead, 30, message_id=m, channel="wechat")))
    assert read_columns(tables) == [("read", "wechat", at("2026-03-05 10:02"), at("2026-03-05 10:07"), None)]

    # The reply moves it on and keeps when it was read
    tables.apply(changes(outreach(ou.OutreachReplied, 40, message_id=m, channel="wechat", text="fine")))
    assert read_columns(tables) == [
        ("replied", "wechat", at("2026-03-05 10:02"), at("2026-03-05 10:07"), at("2026-03-05 10:40"))
    ]


def test_a_read_receipt_without_a_delivery_receipt_still_moves_the_sent_message_forward_and_is_no_reply():
    m, tables = sent_row()
    tables.apply(changes(outreach(ou.OutreachRead, 5, message_id=m, channel="wechat")))
    # Read implies delivered, but when it arrived is unknown: delivered_at stays empty rather than guessed
    assert read_columns(tables) == [("read", "wechat", None, at("2026-03-05 10:05"), None)]

    # The delivery receipt that comes late records its time and leaves the row read; a failure elsewhere undoes nothing
    tables.apply(changes(outreach(ou.OutreachDelivered, 9, message_id=m, channel="wechat")))
    tables.apply(changes(outreach(ou.OutreachFailed, 11, message_id=m, channel="sms", reason="no signal")))
    assert read_columns(tables) == [("read", "wechat", at("2026-03-05 10:09"), at("2026-03-05 10:05"), None)]


def test_a_read_receipt_after_the_reply_records_its_time_and_leaves_the_row_replied():
    m, tables = sent_row()
    tables.apply(changes(outreach(ou.OutreachReplied, 4, message_id=m, channel="sms", text="fine")))
    tables.apply(changes(outreach(ou.OutreachRead, 6, message_id=m, channel="wechat")))

    assert read_columns(tables) == [("replied", "sms", None, at("2026-03-05 10:06"), at("2026-03-05 10:04"))]


def test_a_read_receipt_applied_twice_changes_nothing_more():
    m, tables = sent_row()
    read = changes(outreach(ou.OutreachRead, 5, message_id=m, channel="wechat"))
    tables.apply(read)
    once = [dict(r) for r in tables.rows("reminder_queue")]
    tables.apply(read)

    assert [dict(r) for r in tables.rows("reminder_queue")] == once
