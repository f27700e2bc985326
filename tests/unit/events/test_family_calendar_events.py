"""Issue 18's events: relatives, contracts, calendar schedules and check-ins, and the versions older events gained
(a relative's own channel consent, a message's recipient and information, a task's evidence) upcast from version 1."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from events import EventValidationError, UpcastError, parse_event
from events import checkins as ci
from events import journey as jo
from events import outreach as ou
from events import relationships as rs
from events.catalog import CLINICAL_TYPES, ENGINE_TYPES, parse_clinical
from tests.unit.events.family_calendar_samples import FAMILY_CALENDAR_PAYLOADS, RELATION

CST = timezone(timedelta(hours=8))
T = datetime(2027, 3, 2, 10, 0, tzinfo=CST)


def envelope(type_: str, version: int = 1) -> dict[str, Any]:
    return {
        "event_id": f"id-{type_}",
        "type": type_,
        "schema_version": version,
        "patient_id": "P1",
        "occurred_at": T.isoformat(),
        "recorded_at": T.isoformat(),
        "source": {"system": "his", "message_id": "m1"},
    }


def sample(type_: str, **changes: Any) -> dict[str, Any]:
    return {**envelope(type_), **FAMILY_CALENDAR_PAYLOADS[type_], **changes}


REQUESTED = {
    "instance_id": "I1",
    "journey_id": "j",
    "next_step_id": None,
    "message_id": "M1",
    "template": "t",
    "channels": ["sms"],
    "due_at": T.isoformat(),
    "journey_version": 1,
}
APPROVED = {
    "instance_id": "I1",
    "journey_id": "j",
    "message_id": "M1",
    "template": "t",
    "channel": "sms",
    "locale": "zh-CN",
    "category": "marketing",
    "priority": 20,
}
TASK = {
    "instance_id": "I1",
    "journey_id": "j",
    "next_step_id": None,
    "task_id": "T1",
    "queue": "q",
    "title": "call",
    "sla_due_at": T.isoformat(),
}


def test_relatives_and_contracts_are_clinical_inputs_and_the_engines_decisions_are_not() -> None:
    inputs = {
        "relationship.recorded",
        "relationship.ended",
        "relationship.consent_granted",
        "relationship.consent_withdrawn",
        "relationship.linked",
        "relationship.erased",
        "family_contract.signed",
        "family_contract.ended",
    }
    assert inputs <= set(CLINICAL_TYPES)
    decisions = {"relationship.refused", "message.routed", "calendar.scheduled", "calendar.reached"}
    decisions |= {"campaign.attended", "checkin.recorded", "checkin.missed", "checkin.alerted"}
    assert decisions <= set(ENGINE_TYPES)
    assert not decisions & set(CLINICAL_TYPES)


def test_a_relatives_role_must_be_one_of_the_known_roles() -> None:
    with pytest.raises(EventValidationError, match="role"):
        parse_clinical(sample("relationship.recorded", role="neighbour"))


def test_a_relatives_time_zone_must_be_a_real_zone_named_by_its_field() -> None:
    person = {**FAMILY_CALENDAR_PAYLOADS["relationship.recorded"]["person"], "timezone": "Asia/Beijing"}
    with pytest.raises(EventValidationError, match=r"person\.timezone.*unknown IANA time zone 'Asia/Beijing'"):
        parse_clinical(sample("relationship.recorded", person=person))


def test_a_relative_consent_names_at_least_one_purpose_and_known_information() -> None:
    with pytest.raises(EventValidationError, match="purposes"):
        parse_clinical(sample("relationship.consent_granted", purposes=[]))
    with pytest.raises(EventValidationError, match="information"):
        parse_clinical(sample("relationship.consent_granted", information=["diagnoses"]))
    with pytest.raises(EventValidationError, match="information"):
        parse_clinical(sample("relationship.consent_granted", information=[]))


def test_withdrawing_a_relatives_consent_without_information_withdraws_all_of_it() -> None:
    withdrawn = parse_clinical(sample("relationship.consent_withdrawn"))
    assert withdrawn.information == ()  # type: ignore[attr-defined]


def test_a_contract_cannot_end_before_it_starts() -> None:
    with pytest.raises(EventValidationError, match="ends_on must not be before starts_on"):
        parse_clinical(sample("family_contract.signed", starts_on="2027-03-01", ends_on="2027-02-28"))


def test_a_routed_recipient_is_the_patient_or_a_relative_with_a_role() -> None:
    half = [{"relation_id": RELATION, "message_id": "M1"}]
    with pytest.raises(EventValidationError, match="relation_id and role are given together"):
        parse_event(sample("message.routed", recipients=half))
    patient = parse_event(sample("message.routed", recipients=[{"message_id": "M1"}]))
    assert patient.recipients[0].relation_id is None  # type: ignore[attr-defined]


def test_the_new_policy_rules_name_why_a_relative_or_a_child_was_skipped() -> None:
    suppressed = {"instance_id": "I1", "journey_id": "j", "message_id": "M1", "template": "t"}
    for rule in ("minor", "relative_consent", "relation_ended"):
        event = parse_event({**envelope("message.suppressed"), **suppressed, "rule": rule})
        assert event.rule == rule  # type: ignore[attr-defined]


def test_an_alert_keeps_the_statistic_of_its_kind() -> None:
    alerted = parse_event(sample("checkin.alerted"))
    assert isinstance(alerted.statistic, ci.TrendStatistic)  # type: ignore[attr-defined]
    mean = {"mean": 7.4, "count": 5, "within": "7d"}
    assert isinstance(parse_event(sample("checkin.alerted", statistic=mean)).statistic, ci.MeanStatistic)  # type: ignore[attr-defined]
    with pytest.raises(EventValidationError, match="statistic"):
        parse_event(sample("checkin.alerted", statistic={"tau": 0.9}))


# --- upcasting from version 1 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("type_", ["consent.granted", "consent.withdrawn"])
def test_a_version_1_consent_is_the_patients_own(type_: str) -> None:
    event = parse_clinical({**envelope(type_), "channel": "sms", "purpose": "marketing"})
    assert isinstance(event, ou.ConsentGranted | ou.ConsentWithdrawn)
    assert event.relation_id is None and event.schema_version == 2


def test_a_version_2_consent_may_name_the_relatives_channel() -> None:
    event = parse_clinical({**envelope("consent.withdrawn", 2), "channel": "sms", "relation_id": RELATION})
    assert isinstance(event, ou.ConsentWithdrawn) and event.relation_id == RELATION


def test_a_version_1_payload_naming_a_later_field_is_refused_not_dropped() -> None:
    with pytest.raises(UpcastError, match="schema_version 1 has no field 'relation_id'"):
        parse_clinical({**envelope("consent.granted"), "channel": "sms", "relation_id": RELATION})
    with pytest.raises(UpcastError, match="schema_version 1 has no field 'evidence'"):
        parse_event({**envelope("task.created"), **TASK, "evidence": ["E1"]})
    recipient = {"relation_id": RELATION, "role": "guardian"}
    with pytest.raises(UpcastError, match="schema_version 1 has no field 'recipient'"):
        parse_event({**envelope("message.requested"), **REQUESTED, "recipient": recipient})


@pytest.mark.parametrize(
    ("category", "information"),
    [("transactional", "appointments"), ("care", "reminders"), ("marketing", "campaigns")],
)
def test_a_version_1_message_went_to_the_patient_about_its_categorys_default(category: str, information: str) -> None:
    requested = parse_event({**envelope("message.requested"), **REQUESTED, "category": category})
    approved = parse_event({**envelope("message.approved"), **APPROVED, "category": category})
    for event in (requested, approved):
        assert isinstance(event, jo.MessageRequested | jo.MessageApproved)
        assert event.recipient is None and event.information == information and event.schema_version == 2


def test_a_version_1_request_without_a_category_was_a_care_reminder() -> None:
    event = parse_event({**envelope("message.requested"), **REQUESTED})
    assert isinstance(event, jo.MessageRequested) and event.information == "reminders"


def test_a_version_2_message_to_a_relative_keeps_its_recipient() -> None:
    recipient = {"relation_id": RELATION, "role": "guardian"}
    data = {**envelope("message.requested", 2), **REQUESTED, "recipient": recipient, "information": "vaccinations"}
    event = parse_event(data)
    assert isinstance(event, jo.MessageRequested)
    assert event.recipient == rs.Recipient(relation_id=RELATION, role="guardian")
    assert parse_event(event.model_dump_json()) == event


def test_a_version_1_task_has_no_evidence_and_a_version_2_task_keeps_its_own() -> None:
    old = parse_event({**envelope("task.created"), **TASK})
    assert isinstance(old, jo.TaskCreated) and (old.evidence, old.facts, old.schema_version) == ((), (), 2)
    facts = ["symptom-diary score 3, 4, 4, 6, 7 on 03-01…03-05"]
    new = parse_event({**envelope("task.created", 2), **TASK, "evidence": ["E-alert", "E-qr"], "facts": facts})
    assert isinstance(new, jo.TaskCreated) and new.evidence == ("E-alert", "E-qr") and new.facts == tuple(facts)


def test_a_version_1_upcast_is_the_same_event_as_the_version_2_it_becomes() -> None:
    upcast = parse_event({**envelope("message.approved"), **APPROVED})
    written = parse_event(
        {**envelope("message.approved", 2), **APPROVED, "recipient": None, "information": "campaigns"}
    )
    assert upcast == written
