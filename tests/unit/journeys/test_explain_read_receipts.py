"""`careloop explain` tells a message's read receipt: read once opened, still read when the delivery receipt comes
late, replied once answered, whatever receipt comes after."""

from __future__ import annotations

from datetime import timedelta

from engine.journeys.explain import explain
from events import journey as jo
from events import outreach as ou
from tests.builders import at, discharge, event, recorded, simulation

P = "P-explain-read"


def day3_story(*reports):
    """The post-op day-3 message, approved on WeChat, and what the gateways and the patient reported about it."""
    sim = simulation(discharge(P, at("2026-03-02 10:00")))
    sim.run_until(at("2026-03-06 00:00"))
    approved = recorded(sim, P, jo.MessageApproved)[0]
    results = [
        event(cls, P, approved.occurred_at + timedelta(minutes=minutes), message_id=approved.message_id, **fields)
        for cls, minutes, fields in reports
    ]
    story = explain(P, [*sim.recorded[P], *results])
    (message,) = (m for i in story.instances.values() for m in i.messages.values() if m.step_id == "day-3-care")
    return message


SENT = (ou.OutreachSent, 1, {"channel": "wechat", "gateway": "wechat-main"})


def test_a_read_receipt_before_the_late_delivery_receipt_leaves_the_message_read():
    message = day3_story(
        SENT, (ou.OutreachRead, 9, {"channel": "wechat"}), (ou.OutreachDelivered, 30, {"channel": "wechat"})
    )

    assert message.outcome == "read"
    assert [text for _, text in message.lines[-3:]] == [
        "sent on wechat through wechat-main (attempt 1)",
        "read on wechat",
        "delivered on wechat",
    ]


def test_a_read_receipt_after_the_reply_leaves_the_message_replied():
    reply = (ou.OutreachReplied, 20, {"channel": "wechat", "text": "ok"})
    message = day3_story(SENT, reply, (ou.OutreachRead, 40, {"channel": "wechat"}))

    assert message.outcome == "replied"
    assert message.lines[-1][1] == "read on wechat"
