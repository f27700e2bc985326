"""Every event type by name, the discriminated unions, and parsing with upcasting."""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeAlias

from pydantic import Field, TypeAdapter, ValidationError

from events import appointments as ap
from events import calendar as ca
from events import checkins as ci
from events import encounters as en
from events import experiments as ex
from events import findings as fi
from events import households as hh
from events import journey as jo
from events import loyalty as lo
from events import outreach as ou
from events import patient as pa
from events import referrals as rf
from events import relationships as rs
from events import tasks as ta
from events.base import Event
from events.errors import EventDecodeError, EventValidationError
from events.upcasting import UPCASTERS, Upcasters

ClinicalEvent: TypeAlias = Annotated[
    pa.PatientRegistered
    | pa.PatientUpdated
    | pa.PatientMerged
    | pa.PatientDeceased
    | pa.PatientErased
    | en.EncounterAdmitted
    | en.EncounterDischarged
    | en.EncounterCompleted
    | en.EncounterCancelled
    | en.ProcedureCompleted
    | ap.AppointmentBooked
    | ap.AppointmentRescheduled
    | ap.AppointmentCancelled
    | ap.AppointmentNoShow
    | ap.AppointmentAttended
    | fi.ObservationRecorded
    | fi.ConditionDiagnosed
    | fi.QuestionnaireCompleted
    | ou.ConsentGranted
    | ou.ConsentWithdrawn
    | ou.OutreachPaused
    | ou.OutreachResumed
    | ou.OutreachSent
    | ou.OutreachDelivered
    | ou.OutreachRead
    | ou.OutreachFailed
    | ou.OutreachReplied
    | ta.TaskClaimed
    | ta.TaskReleased
    | ta.TaskClosed
    | lo.PointsRedemptionRequested
    | lo.PointsAdjustmentRequested
    | rf.ReferralSubmitted
    | rf.ReferralReceived
    | rf.ReferralAnswered
    | rf.ReferralConverted
    | rs.RelationshipRecorded
    | rs.RelationshipEnded
    | rs.RelationshipConsentGranted
    | rs.RelationshipConsentWithdrawn
    | rs.RelationshipLinked
    | rs.RelationshipErased
    | hh.FamilyContractSigned
    | hh.FamilyContractEnded,
    Field(discriminator="type"),
]

EngineEvent: TypeAlias = Annotated[
    jo.JourneyStarted
    | jo.JourneyReplanned
    | jo.WaitScheduled
    | jo.StepDue
    | jo.EventMatched
    | jo.BranchTaken
    | jo.StepSkipped
    | jo.StepCompleted
    | jo.CounterChanged
    | jo.MessageRequested
    | jo.TaskCreated
    | jo.ChurnFlagged
    | jo.ChurnCleared
    | jo.MessageApproved
    | jo.MessageDeferred
    | jo.MessageSuppressed
    | jo.MessageFailed
    | jo.TaskEscalated
    | jo.ConsentWithdrawnByReply
    | jo.ConsentGrantedByReply
    | jo.JourneyCompleted
    | jo.JourneyExited
    | jo.JourneyMigrated
    | jo.JourneyVersionKept
    | ex.ExperimentAssigned
    | lo.LoyaltyEnrolled
    | lo.PointsEarned
    | lo.PointsReleased
    | lo.PointsExpired
    | lo.PointsExpiring
    | lo.PointsSpent
    | lo.PointsRedemptionRefused
    | lo.PointsAdjusted
    | lo.PointsAdjustmentRepeated
    | lo.PointsAdjustmentRefused
    | lo.PointsReversed
    | lo.PointsReversalSkipped
    | lo.TierChanged
    | lo.TierKept
    | lo.TierAtRisk
    | lo.BadgeAwarded
    | lo.BadgeProgressed
    | rf.ReferralClaimed
    | rf.ReferralAccepted
    | rf.ReferralAttributed
    | rf.ReferralRefused
    | rs.RelationshipRefused
    | jo.MessageRouted
    | ca.CalendarScheduled
    | ca.CalendarReached
    | ca.CampaignAttended
    | ci.CheckinRecorded
    | ci.CheckinMissed
    | ci.CheckinAlerted,
    Field(discriminator="type"),
]

AnyEvent: TypeAlias = Annotated[ClinicalEvent | EngineEvent, Field(discriminator="type")]


def _classes(union: Any) -> dict[str, type[Event]]:
    members = union.__origin__.__args__ if hasattr(union, "__origin__") else ()
    return {cls.model_fields["type"].default: cls for cls in members}


CLINICAL_TYPES: dict[str, type[Event]] = _classes(ClinicalEvent)
ENGINE_TYPES: dict[str, type[Event]] = _classes(EngineEvent)
EVENT_TYPES: dict[str, type[Event]] = {**CLINICAL_TYPES, **ENGINE_TYPES}

_clinical_adapter: TypeAdapter[Any] = TypeAdapter(ClinicalEvent)
_any_adapter: TypeAdapter[Any] = TypeAdapter(AnyEvent)


def parse_clinical(raw: bytes | str | dict[str, Any], upcasters: Upcasters = UPCASTERS) -> Event:
    """Decode and validate one inbound clinical event, upcasting an older schema_version first."""
    return _parse(raw, _clinical_adapter, CLINICAL_TYPES, upcasters)


def parse_event(raw: bytes | str | dict[str, Any], upcasters: Upcasters = UPCASTERS) -> Event:
    """Decode and validate any careloop event, clinical or engine-emitted."""
    return _parse(raw, _any_adapter, EVENT_TYPES, upcasters)


def _parse(
    raw: bytes | str | dict[str, Any],
    adapter: TypeAdapter[Any],
    known: dict[str, type[Event]],
    upcasters: Upcasters,
) -> Event:
    data = _decode(raw)
    type_ = data.get("type")
    if type_ not in known:
        raise EventValidationError.unknown_type(type_, sorted(known))
    data = upcasters.upcast(data, current=known[type_].SCHEMA_VERSION)
    try:
        event: Event = adapter.validate_python(data)
    except ValidationError as exc:
        raise EventValidationError.from_pydantic(str(type_), exc) from exc
    return event


def _decode(raw: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventDecodeError(f"not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EventDecodeError(f"expected a JSON object, got {type(data).__name__}")
    return data
