"""Outreach policy on the live pipeline: the worker decides, the dispatcher sends through an SMS/WeChat gateway on
loopback (which counts what each patient received), receipts and replies come back through the intake, and
`careloop explain` reads why from the event store. Time is the stepped database clock."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from typer.testing import CliRunner

from connectors.outreach.directory import PostgresDirectory
from connectors.outreach.intake import OutreachIntake
from engine.cli.main import app
from engine.cli.runtime import wait_for_dispatcher
from events import outreach as ou
from events.patient import Contact
from tests.builders import at, catalog, diagnosed, discharge, event, registered
from tests.e2e.conftest import DrivenPublisher, Live
from tests.integration.dispatch.conftest import TestGateway, gateway  # noqa: F401 - the gateway fixture

pytestmark = pytest.mark.e2e
JOURNEY = "hypertension-cycle"


def with_dispatcher(live: Live, gw: TestGateway) -> None:
    gateways = {"gw": {"kind": "http", "url": gw.url, "token": "t"}}
    live.stack.spawn(
        "dispatcher",
        "dispatch",
        env={
            "CARELOOP_DISPATCH__GATEWAYS": json.dumps(gateways),
            "CARELOOP_DISPATCH__CHANNELS": json.dumps({"sms": "gw", "wechat": "gw"}),
            "CARELOOP_DISPATCH__POLL_INTERVAL": "0.1",
        },
    )


def at_clock(live: Live, moment: datetime) -> None:
    """Move the clock, let the dispatcher send what is due and its reports reach the worker and projections."""
    live.advance_clock(moment)
    assert wait_for_dispatcher(live.database_url, live.stack, timeout=60), "the dispatcher did not finish"
    live.driver.wait_all_consumed()
    live.catch_up_projections()


def received(gw: TestGateway, to: str) -> list[str]:
    """Templates the patient at ``to`` received (a repeated idempotency key is one message)."""
    return [body["template"] for body in gw.delivered.values() if body["to"] == to]


def explain(live: Live, patient: str) -> str:
    # the key file reveals what the intakes sealed: explain finds it under the data folder, as every process does
    env = {"CARELOOP_DATABASE_URL": live.database_url, "CARELOOP_DATA_DIR": str(live.settings.data_dir)}
    result = CliRunner().invoke(app, ["explain", patient], env=env)
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_a_patient_who_withdraws_sms_consent_gets_no_further_sms(live: Live, gateway: TestGateway) -> None:  # noqa: F811
    with_dispatcher(live, gateway)
    phone = "+8613800000001"
    live.publish(
        [
            registered("HTN1", at("2026-01-01 09:00"), contact=Contact(phone=phone), name="王芳"),
            diagnosed("HTN1", at("2026-01-05 10:00"), "I10"),
        ]
    )
    # The first 90-day follow-up goes by SMS (she has no WeChat), at 09:30 on 5 April
    at_clock(live, at("2026-04-05 12:00"))
    assert received(gateway, phone) == ["hypertension-follow-up"]
    ((status, channel),) = live.rows("SELECT status, channel FROM reminder_queue WHERE patient_id = 'HTN1'")
    assert (status, channel) == ("sent", "sms")

    # She withdraws SMS consent; the next follow-up (18 July) is not sent, and explain says why
    live.publish([event(ou.ConsentWithdrawn, "HTN1", at("2026-04-20 10:00"), channel="sms")])
    at_clock(live, at("2026-07-20 12:00"))
    assert received(gateway, phone) == ["hypertension-follow-up"]
    statuses = live.rows("SELECT status, policy_rule FROM reminder_queue WHERE patient_id = 'HTN1' ORDER BY due_at")
    assert statuses == [("sent", None), ("suppressed", "consent")]
    why = explain(live, "HTN1")
    assert "consent withdrew: sms for care" in why
    assert "not sent, consent: no channel allowed: wechat: no address; sms: no care consent" in why


def test_a_message_due_at_2am_local_time_is_sent_when_the_allowed_window_opens(
    live: Live,
    gateway: TestGateway,  # noqa: F811
) -> None:
    with_dispatcher(live, gateway)
    openid = "o-postop-2"
    live.publish([registered("POSTOP2", at("2026-03-01 09:00"), contact=Contact(wechat_openid=openid))])
    # A night-time batch from the HIS delivers a discharge four days late, at 02:00: the day-3 message is due
    live.advance_clock(at("2026-03-06 01:59"))
    live.publish([discharge("POSTOP2", at("2026-03-02 10:00"), recorded=at("2026-03-06 02:00"))])
    at_clock(live, at("2026-03-06 02:00"))
    at_clock(live, at("2026-03-06 07:59"))
    assert received(gateway, openid) == []
    (row,) = live.rows(
        "SELECT status, policy_rule, deferred_until FROM reminder_queue WHERE patient_id = 'POSTOP2' "
        "AND template = 'postop-day3-care'"
    )
    assert row[:2] == ("deferred", "quiet_hours")
    assert row[2] == at("2026-03-06 08:00")

    # At 08:00 Shanghai time the quiet hours end and the message goes out on WeChat
    at_clock(live, at("2026-03-06 08:00"))
    assert received(gateway, openid) == ["postop-day3-care"]
    why = explain(live, "POSTOP2")
    assert "deferred by quiet hours until 2026-03-06T08:00:00+08:00" in why
    assert "approved (attempt 1) on wechat" in why


def test_unanswered_follow_ups_raise_a_high_flag_and_a_call_task_and_a_reply_clears_the_count(
    live: Live,
    gateway: TestGateway,  # noqa: F811
) -> None:
    with_dispatcher(live, gateway)
    live.publish(
        [
            registered("HTN3", at("2026-01-01 09:00"), contact=Contact(phone="+8613800000003", wechat_openid="o-3")),
            diagnosed("HTN3", at("2026-01-05 10:00"), "I10"),
        ]
    )
    # The April and July follow-ups go unanswered; 14 days after July's, with no visit in 90 days: high risk
    for moment in ("2026-04-05 12:00", "2026-07-18 12:00", "2026-08-01 12:00"):
        at_clock(live, at(moment))
    assert received(gateway, "o-3") == ["hypertension-follow-up", "hypertension-follow-up"]
    flags = live.rows("SELECT reason, level FROM churn_flags WHERE patient_id = 'HTN3' AND status = 'open'")
    assert flags == [("two unanswered hypertension follow-ups and no visit in 90 days", "high")]
    assert live.rows("SELECT queue, priority, status FROM tasks WHERE patient_id = 'HTN3'") == [
        ("chronic-care", "high", "open")
    ]
    # Nobody closes the call task within its one-day SLA: it escalates
    at_clock(live, at("2026-08-02 12:00"))
    assert live.rows("SELECT queue, origin_queue, status FROM tasks WHERE patient_id = 'HTN3'") == [
        ("escalations", "chronic-care", "escalated")
    ]

    # The October follow-up gets a reply through the webhook's intake (the gateway's callback names the message)
    at_clock(live, at("2026-10-31 12:00"))
    (message_id,) = live.rows(
        "SELECT message_id FROM reminder_queue WHERE patient_id = 'HTN3' AND status = 'sent' ORDER BY due_at DESC "
        "LIMIT 1"
    )[0]
    directory = PostgresDirectory(live.database_url)
    intake = OutreachIntake(
        directory,
        DrivenPublisher(live),
        "careloop-webhook",
        live.protection.sealer,
        catalog().outreach.consent_by_reply.classify,
        clock=lambda: at("2026-10-31 12:05"),
    )
    intake.accept("reply", {"message_id": message_id, "channel": "wechat", "text": "135/85", "reply_id": "r-1"})
    at_clock(live, at("2026-11-01 12:00"))

    # The count is back to zero and the flag cleared
    assert live.rows("SELECT status FROM churn_flags WHERE patient_id = 'HTN3' AND journey_id = %s", JOURNEY) == [
        ("cleared",)
    ]
    assert live.rows("SELECT status FROM reminder_queue WHERE message_id = %s", message_id) == [("replied",)]
