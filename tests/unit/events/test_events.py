"""Every event type round-trips, rejects what it must, and keeps its id deterministic."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from events import CLINICAL_TYPES, ENGINE_TYPES, EVENT_TYPES, EventValidationError, UpcastError, parse_event
from events.base import Coding, Source
from events.catalog import parse_clinical
from events.encounters import EncounterDischarged
from events.schema import clinical_event_schema, engine_event_schema
from events.upcasting import Upcasters
from tests.unit.events.family_calendar_samples import FAMILY_CALENDAR_PAYLOADS
from tests.unit.events.loyalty_samples import LOYALTY_PAYLOADS
from tests.unit.events.referral_samples import REFERRAL_PAYLOADS

CST = timezone(timedelta(hours=8))
T = datetime(2026, 3, 2, 10, 0, tzinfo=CST)
CODE = {"system": "icd-10", "code": "E11.9"}

# Minimal payload fields per type, beyond the envelope.
PAYLOADS: dict[str, dict[str, Any]] = {
    "patient.registered": {"birth_date": "1960-01-01", "sex": "female", "timezone": "Asia/Shanghai"},
    "patient.updated": {"language": "en"},
    "patient.merged": {"into_patient_id": "P2"},
    "patient.deceased": {},
    "patient.erased": {"reason": "request", "requested_by": "staff-7f3a", "key_epoch": 1},
    "encounter.admitted": {"encounter_id": "E1", "encounter_class": "inpatient", "diagnoses": [CODE]},
    "encounter.discharged": {"encounter_id": "E1", "department": "surgery"},
    "encounter.completed": {"encounter_id": "E2", "encounter_class": "outpatient"},
    "encounter.cancelled": {"encounter_id": "E1", "cancelled": "admission", "reason": "entered in error"},
    "procedure.completed": {"procedure_id": "PR1", "code": CODE, "category": "surgical"},
    "appointment.booked": {"appointment_id": "A1", "start_at": T.isoformat()},
    "appointment.rescheduled": {"appointment_id": "A1", "start_at": T.isoformat(), "previous_start_at": T.isoformat()},
    "appointment.cancelled": {"appointment_id": "A1", "start_at": T.isoformat(), "reason": "patient"},
    "appointment.no_show": {"appointment_id": "A1", "start_at": T.isoformat()},
    "appointment.attended": {"appointment_id": "A1", "start_at": T.isoformat()},
    "observation.recorded": {
        "observation_id": "O1",
        "code": {"system": "loinc", "code": "4548-4"},
        "value": 8.1,
        "unit": "%",
        "abnormal_flag": "high",
    },
    "condition.diagnosed": {"condition_id": "C1", "code": CODE},
    "questionnaire.completed": {"response_id": "R1", "instrument": "epds", "score": 14, "items": {"q10": 1}},
    "consent.granted": {"channel": "sms"},
    "consent.withdrawn": {"channel": "all"},
    "outreach.delivered": {"message_id": "M1", "channel": "sms"},
    "outreach.read": {"message_id": "M1", "channel": "wechat"},
    "outreach.failed": {"message_id": "M1", "channel": "sms", "reason": "unreachable"},
    "outreach.replied": {"message_id": "M1", "channel": "wechat", "text": "ok"},
    "outreach.sent": {"message_id": "M1", "channel": "sms", "gateway": "sms-main", "gateway_ref": "g1"},
    "outreach.paused": {"reason": "patient in palliative care", "by": "nurse-7"},
    "outreach.resumed": {"by": "nurse-7"},
    "task.claimed": {"task_id": "T1", "assignee": "nurse-7"},
    "task.released": {"task_id": "T1"},
    "task.closed": {"task_id": "T1", "outcome": "reached", "by": "nurse-7"},
    "journey.started": {
        "instance_id": "I1",
        "journey_id": "j",
        "journey_version": 1,
        "content_hash": "h",
        "entry_event_id": "X",
        "entry": {},
        "next_step_id": "a",
    },
    "journey.replanned": {"instance_id": "I1", "journey_id": "j", "entry_event_id": "Y", "entry": {}},
    "journey.waiting": {"instance_id": "I1", "journey_id": "j", "timer_id": "t", "due_at": T.isoformat()},
    "journey.step_due": {
        "instance_id": "I1",
        "journey_id": "j",
        "timer_id": "t",
        "due_at": T.isoformat(),
        "next_step_id": None,
    },
    "journey.event_matched": {
        "instance_id": "I1",
        "journey_id": "j",
        "next_step_id": "b",
        "matched_event_id": "Z",
        "matched_type": "outreach.replied",
        "matched": {},
    },
    "journey.branch_taken": {"instance_id": "I1", "journey_id": "j", "next_step_id": "b", "branch": "case 1"},
    "journey.step_skipped": {"instance_id": "I1", "journey_id": "j", "next_step_id": "b"},
    "journey.step_completed": {"instance_id": "I1", "journey_id": "j", "next_step_id": "b"},
    "journey.counter_changed": {
        "instance_id": "I1",
        "journey_id": "j",
        "next_step_id": "b",
        "counter": "c",
        "value": 2,
    },
    "message.requested": {
        "instance_id": "I1",
        "journey_id": "j",
        "next_step_id": None,
        "message_id": "M1",
        "template": "t",
        "channels": ["sms"],
        "due_at": T.isoformat(),
        "journey_version": 1,
    },
    "task.created": {
        "instance_id": "I1",
        "journey_id": "j",
        "next_step_id": None,
        "task_id": "T1",
        "queue": "q",
        "title": "call",
        "sla_due_at": T.isoformat(),
    },
    "churn.flagged": {
        "instance_id": "I1",
        "journey_id": "j",
        "next_step_id": None,
        "flag_reason": "r",
        "weight": 40,
        "score": 40,
        "level": "medium",
        "evidence": ["X"],
    },
    "churn.cleared": {
        "instance_id": "I1",
        "journey_id": "j",
        "next_step_id": None,
        "flag_reason": None,
        "score": 0,
        "level": "none",
    },
    "message.approved": {
        "instance_id": "I1",
        "journey_id": "j",
        "message_id": "M1",
        "template": "t",
        "channel": "sms",
        "fallbacks": ["email"],
        "locale": "zh-CN",
        "category": "care",
        "priority": 50,
    },
    "message.deferred": {
        "instance_id": "I1",
        "journey_id": "j",
        "message_id": "M1",
        "template": "t",
        "rule": "cap",
        "cap": "weekly",
        "until": T.isoformat(),
        "timer_id": "TM1",
    },
    "message.suppressed": {
        "instance_id": "I1",
        "journey_id": "j",
        "message_id": "M1",
        "template": "t",
        "rule": "consent",
    },
    "message.failed": {
        "instance_id": "I1",
        "journey_id": "j",
        "message_id": "M1",
        "template": "t",
        "channels_tried": ["sms", "wechat"],
    },
    "task.escalated": {
        "instance_id": "I1",
        "journey_id": "j",
        "task_id": "T1",
        "sla_due_at": T.isoformat(),
        "queue": "care-team",
        "escalated_to": "escalations",
    },
    "consent.withdrawn_by_reply": {
        "channel": "sms",
        "purposes": ["marketing", "care"],
        "keyword": "TD",
        "reply_event_id": "R1",
        "message_id": "M1",
        "reason": "stop word",
    },
    "consent.granted_by_reply": {"channel": "sms", "purposes": ["care"], "keyword": "START", "reply_event_id": "R2"},
    "journey.completed": {"instance_id": "I1", "journey_id": "j", "outcome": "completed"},
    "journey.exited": {"instance_id": "I1", "journey_id": "j", "outcome": "cancelled", "exit_event_id": "X"},
    "journey.migrated": {
        "instance_id": "I1",
        "journey_id": "j",
        "step_id": "wait-day-7",
        "from_version": 2,
        "from_hash": "h2",
        "to_version": 3,
        "to_hash": "h3",
        "to_step_id": "wait-day-7",
        "rule": "unchanged",
        "deployment_id": 4,
        "effective_at": T.isoformat(),
        "timer_kept": True,
    },
    "journey.version_kept": {
        "instance_id": "I1",
        "journey_id": "j",
        "step_id": "wait-day-3",
        "version": 2,
        "offered_version": 3,
        "deployment_id": 4,
        "effective_at": T.isoformat(),
        "cause": "step_changed",
        "changes": ["wait.offset: 3d → 2d"],
    },
    "experiment.assigned": {
        "experiment_id": "holdout-2026",
        "kind": "global_holdout",
        "arm": "treated",
        "holdout": False,
        "share_bp": 500,
        "salt": "h1",
    },
    **LOYALTY_PAYLOADS,
    **REFERRAL_PAYLOADS,
    **FAMILY_CALENDAR_PAYLOADS,
}


def envelope(type_: str) -> dict[str, Any]:
    return {
        "event_id": f"id-{type_}",
        "type": type_,
        "schema_version": 1,
        "patient_id": "P1",
        "occurred_at": T.isoformat(),
        "recorded_at": (T + timedelta(minutes=5)).isoformat(),
        "source": {"system": "his", "message_id": "m1"},
        "correlation_id": None,
        "causation_id": None,
    }


def test_every_event_type_has_a_sample_payload() -> None:
    assert set(PAYLOADS) == set(EVENT_TYPES)


@pytest.mark.parametrize("type_", sorted(EVENT_TYPES))
def test_every_event_type_round_trips_through_json(type_: str) -> None:
    event = parse_event({**envelope(type_), **PAYLOADS[type_]})
    assert type(event) is EVENT_TYPES[type_]
    again = parse_event(event.model_dump_json())
    assert again == event
    assert again.model_dump(mode="json") == event.model_dump(mode="json")


@pytest.mark.parametrize("type_", sorted(EVENT_TYPES))
def test_events_are_frozen_and_reject_unknown_fields(type_: str) -> None:
    event = parse_event({**envelope(type_), **PAYLOADS[type_]})
    with pytest.raises(ValidationError):
        event.patient_id = "other"  # type: ignore[misc]
    with pytest.raises(EventValidationError, match="surprise: Extra inputs are not permitted"):
        parse_event({**envelope(type_), **PAYLOADS[type_], "surprise": 1})


def test_naive_clinical_time_is_rejected_with_the_field_named() -> None:
    data = {**envelope("encounter.discharged"), **PAYLOADS["encounter.discharged"], "occurred_at": "2026-03-02T10:00"}
    with pytest.raises(EventValidationError, match="occurred_at: Input should have timezone info"):
        parse_clinical(data)


def test_unknown_type_suggests_the_closest_known_type() -> None:
    with pytest.raises(EventValidationError, match=r"did you mean 'encounter\.discharged'"):
        parse_clinical({**envelope("encounter.discharge")})


def test_engine_events_are_not_accepted_as_clinical_input() -> None:
    with pytest.raises(EventValidationError, match=r"unknown event type 'task\.created'"):
        parse_clinical({**envelope("task.created"), **PAYLOADS["task.created"]})


def test_invalid_timezone_on_registration_is_rejected() -> None:
    data = {**envelope("patient.registered"), "timezone": "Mars/Olympus"}
    with pytest.raises(EventValidationError, match="unknown IANA time zone 'Mars/Olympus'"):
        parse_clinical(data)


def test_event_id_is_deterministic_from_the_source_message() -> None:
    def discharge(message_id: str) -> EncounterDischarged:
        return EncounterDischarged.create(
            source=Source(system="his", message_id=message_id),
            patient_id="P1",
            occurred_at=T,
            recorded_at=T,
            encounter_id="E1",
        )

    assert discharge("m1").event_id == discharge("m1").event_id
    assert discharge("m1").event_id != discharge("m2").event_id


def test_registration_keeps_demographics() -> None:
    event = parse_clinical({**envelope("patient.registered"), **PAYLOADS["patient.registered"]})
    assert event.birth_date == date(1960, 1, 1)  # type: ignore[attr-defined]
    assert event.occurred_at.utcoffset() == timedelta(hours=8)


def test_an_old_schema_version_is_upcast_before_validation() -> None:
    upcasters = Upcasters()

    @upcasters.register("observation.recorded", from_version=1)
    def _rename(payload: dict[str, Any]) -> dict[str, Any]:
        payload["unit"] = payload.pop("units")
        return payload

    class Pretend:  # the current version is 2 in this scenario
        SCHEMA_VERSION = 2

    data = {**envelope("observation.recorded"), **PAYLOADS["observation.recorded"]}
    data.pop("unit")
    data["units"] = "%"
    upcast = upcasters.upcast(data, current=Pretend.SCHEMA_VERSION)
    assert upcast["unit"] == "%" and "units" not in upcast and upcast["schema_version"] == 2


def test_a_missing_upcaster_and_a_future_version_are_clear_errors() -> None:
    upcasters = Upcasters()
    data = {**envelope("observation.recorded"), **PAYLOADS["observation.recorded"]}
    with pytest.raises(UpcastError, match="no upcaster from schema_version 1 to 2"):
        upcasters.upcast(data, current=2)
    with pytest.raises(UpcastError, match="newer than this careloop understands"):
        parse_event({**data, "schema_version": 7})


def test_published_schema_accepts_valid_and_rejects_invalid_clinical_events() -> None:
    schema = clinical_event_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for type_ in CLINICAL_TYPES:
        validator.validate({**envelope(type_), **PAYLOADS[type_]})
    bad = {**envelope("appointment.booked"), **PAYLOADS["appointment.booked"]}
    del bad["start_at"]
    assert list(validator.iter_errors(bad))


def test_engine_event_schema_is_valid_json_schema() -> None:
    schema = engine_event_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["discriminator"]["mapping"]) == set(ENGINE_TYPES)


def test_coding_requires_system_and_code() -> None:
    with pytest.raises(ValidationError):
        Coding(system="", code="E11")
    assert Coding(system="icd-10", code="E11").display is None
