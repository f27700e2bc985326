"""What the dispatcher tells the engine: outreach.sent / outreach.failed with ids fixed by the approval."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from engine.dispatch import outcomes
from engine.dispatch.errors import PermanentSendError
from engine.dispatch.outcomes import Approval
from engine.dispatch.rendering import Contact, context
from engine.dispatch.sender import Retries, address
from engine.journeys.policy import Hospital, OutreachPolicy
from events import outreach as ou
from events import parse_event

NOW = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
A = Approval("m-1", 2, "P-1", "i-1", "e-approved", "t", "sms", "zh-CN", {}, "sending", 1, False)


def test_the_same_outcome_published_twice_is_one_event_for_the_engine() -> None:
    first = outcomes.sent(A, "gw", "ref-1", NOW)
    again = outcomes.sent(A, "gw", "ref-1", NOW + timedelta(seconds=30))  # re-sent after a crash
    assert first.event_id == again.event_id
    assert first.event_id != outcomes.failed(A, "busy", NOW).event_id
    assert first.event_id != outcomes.sent(replace(A, attempt=3), "gw", "ref-1", NOW).event_id  # the fallback


def test_outcomes_carry_the_attempt_the_cause_and_round_trip() -> None:
    failed = outcomes.failed(A, "gateway gw answered HTTP 400", NOW)
    assert isinstance(failed, ou.OutreachFailed)
    assert (failed.attempt, failed.final, failed.causation_id, failed.instance_id) == (2, True, "e-approved", "i-1")
    assert failed.source.system == "careloop-dispatcher" and failed.source.message_id == "m-1:2"
    assert parse_event(failed.model_dump(mode="json")) == failed


def test_backoff_doubles_up_to_its_ceiling() -> None:
    retries = Retries(max_tries=9, backoff=2.0, backoff_max=10.0)
    assert [retries.delay(n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 10.0]


def test_each_channel_needs_its_own_address_and_says_which_is_missing() -> None:
    contact = Contact(phone="+8613800000000")
    assert address("sms", contact, "P-1") == "+8613800000000"
    assert address("app", contact, "P-1") == "P-1"
    with pytest.raises(PermanentSendError, match="the patient has no email address for the email channel"):
        address("email", contact, "P-1")
    with pytest.raises(PermanentSendError, match="no WeChat openid"):
        address("wechat", contact, "P-1")


def test_the_context_names_the_hospital_in_the_messages_locale_or_else_the_default_one() -> None:
    policy = OutreachPolicy(hospital=Hospital(name={"zh-CN": "协和医院", "en": "Union Hospital"}, phone="010"))
    contact = Contact(name="Alice", timezone="Europe/London")
    en = context({"visit": {"on": "5 March"}}, contact, "en", policy, "m-1")
    assert en == {
        "visit": {"on": "5 March"},
        "patient": {"name": "Alice", "timezone": "Europe/London", "locale": "en"},
        "hospital": {"name": "Union Hospital", "phone": "010"},
        "message": {"id": "m-1"},
    }
    assert context({}, contact, "fr", policy, "m-1")["hospital"]["name"] == "协和医院"
    nowhere = context({}, Contact(name="Bo"), "en", policy, "m-1", hospital_timezone="Asia/Shanghai")
    assert nowhere["patient"]["timezone"] == "Asia/Shanghai"  # the hospital's zone when the patient gave none
