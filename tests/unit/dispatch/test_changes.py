"""The follower's mapping of the log to statements: what each event does to the dispatcher's tables."""

from __future__ import annotations

import json

from engine.dispatch.changes import EVERY_ATTEMPT, changes
from events import journey as jo
from events import outreach as ou
from events import patient as pa
from events import relationships as rl
from tests.builders import at, event

P = "P-map"
MESSAGE = {"instance_id": "i-1", "journey_id": "recheck", "step_id": "remind", "template": "t"}


def approved(channel: str = "sms", attempt: int = 1) -> jo.MessageApproved:
    fields = {"category": "care", "priority": 60, "locale": "en", "variables": {"visit": {"on": "2026-03-05"}}}
    return event(
        jo.MessageApproved,
        P,
        at("2026-03-05 10:00"),
        message_id="m-1",
        channel=channel,
        attempt=attempt,
        **MESSAGE,
        **fields,
    )


def test_an_approval_becomes_a_pending_send_keyed_by_message_and_attempt_at_its_place_in_the_log() -> None:
    e = approved(attempt=2)
    superseding, statement = changes(e, 41)
    assert superseding.params == ("m-1", 2)  # earlier attempts not yet sent are taken back
    assert "ON CONFLICT (message_id, attempt) DO NOTHING" in statement.sql
    assert statement.params[:3] == ("m-1", 2, P)
    assert statement.params[6] == e.event_id
    assert json.loads(statement.params[12]) == {"visit": {"on": "2026-03-05"}}
    assert statement.params[13:] == ("pending", 41, None, None, None)  # no stale time; for the patient


def test_a_phone_approval_is_recorded_for_staff_and_never_pending() -> None:
    _, statement = changes(approved("phone"), 1)
    assert statement.params[13] == "staff"


def test_any_later_decision_about_the_message_takes_back_every_unsent_attempt() -> None:
    at_ = at("2026-03-05 10:05")
    taken_back = event(jo.MessageSuppressed, P, at_, message_id="m-1", rule="consent", withdrawn=True, **MESSAGE)
    until = at("2026-03-06 08:00")
    deferred = event(
        jo.MessageDeferred, P, at_, message_id="m-1", rule="quiet_hours", until=until, timer_id="t", **MESSAGE
    )
    for decision in (taken_back, deferred):
        (statement,) = changes(decision, 2)
        assert "withdrawn = true" in statement.sql and statement.params == ("m-1", EVERY_ATTEMPT)
    failed = event(jo.MessageFailed, P, at_, message_id="m-1", channels_tried=("sms",), **MESSAGE)
    assert changes(failed, 3) == []


def test_outcomes_already_in_the_log_settle_the_send_and_only_final_failures_count() -> None:
    at_ = at("2026-03-05 10:05")
    sent = event(ou.OutreachSent, P, at_, message_id="m-1", channel="sms", attempt=2, gateway="gw")
    final = event(ou.OutreachFailed, P, at_, message_id="m-1", channel="sms", attempt=1, reason="busy")
    passing = event(ou.OutreachFailed, P, at_, message_id="m-1", channel="sms", reason="busy", final=False)
    assert [s.params for s in changes(sent, 5)] == [("sent", "m-1", 2)]
    assert [s.params for s in changes(final, 6)] == [("failed", "m-1", 1)]
    assert changes(passing, 7) == []


def test_registrations_and_updates_merge_the_contact_leaving_unknown_fields_as_they_were() -> None:
    at_ = at("2026-03-01 09:00")
    contact = pa.Contact(phone="+8613800000000", wechat_openid="o-1")
    registered = event(pa.PatientRegistered, P, at_, name="王芳", language="zh-CN", contact=contact)
    updated = event(pa.PatientUpdated, P, at_, timezone="Asia/Shanghai")
    (first,) = changes(registered, 1)
    (second,) = changes(updated, 2)
    assert first.params == (P, "王芳", "+8613800000000", None, "o-1", "zh-CN", None)
    assert second.params == (P, None, None, None, None, None, "Asia/Shanghai")
    assert "coalesce(EXCLUDED.phone, dispatch_contacts.phone)" in second.sql


def test_an_erasure_deletes_the_contact_and_takes_back_every_unsent_message_of_the_patient() -> None:
    erased = event(pa.PatientErased, P, at("2026-03-02 09:00"), reason="request", requested_by="dpo", key_epoch=1)

    forget, forget_relatives, withdraw = changes(erased, 9)

    assert (forget.sql, forget.params) == ("DELETE FROM dispatch_contacts WHERE patient_id = %s", (P,))
    assert forget_relatives.sql == "DELETE FROM dispatch_relative_contacts WHERE patient_id = %s"
    assert withdraw.params == (P,)
    assert withdraw.sql.startswith("UPDATE dispatch_messages SET withdrawn = true")
    assert "WHERE patient_id = %s AND NOT withdrawn" in withdraw.sql


def test_clinical_events_are_not_the_dispatchers_business() -> None:
    assert changes(event(pa.PatientDeceased, P, at("2026-03-01 09:00")), 1) == []


MOTHER = "rel-3f2a9c1d"


def test_a_message_to_a_relative_records_the_link_and_role_it_goes_to() -> None:
    to_guardian = approved().model_copy(update={"recipient": rl.Recipient(relation_id=MOTHER, role="guardian")})
    _, statement = changes(to_guardian, 7)

    assert statement.params[-2:] == (MOTHER, "guardian")


def test_a_recorded_relative_is_merged_into_the_relatives_contacts_under_the_patient_and_link() -> None:
    recorded = event(
        rl.RelationshipRecorded,
        P,
        at("2026-03-01 09:00"),
        relation_id=MOTHER,
        role="guardian",
        legal_guardian=True,
        person=rl.Person(name="enc1:name", contact=pa.Contact(phone="enc1:phone"), language="zh-CN"),
    )
    (statement,) = changes(recorded, 3)

    assert "ON CONFLICT (patient_id, relation_id) DO UPDATE" in statement.sql
    assert "coalesce(EXCLUDED.phone, dispatch_relative_contacts.phone)" in statement.sql
    assert statement.params == (P, MOTHER, "enc1:name", "enc1:phone", None, None, "zh-CN", None, None)


def test_an_ended_or_erased_link_forgets_the_relatives_contact_and_takes_back_what_is_unsent_to_them() -> None:
    ended = event(rl.RelationshipEnded, P, at("2026-03-02 09:00"), relation_id=MOTHER, reason="source_ended")
    erased = event(rl.RelationshipErased, P, at("2026-03-02 09:00"), relation_id=MOTHER, reason="request", key_epoch=1)
    for gone in (ended, erased):
        forget, withdraw = changes(gone, 4)
        assert forget.sql == "DELETE FROM dispatch_relative_contacts WHERE patient_id = %s AND relation_id = %s"
        assert forget.params == withdraw.params == (P, MOTHER)
        assert "recipient_relation_id = %s AND NOT withdrawn" in withdraw.sql
