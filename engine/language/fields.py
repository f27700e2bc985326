"""What a condition or wait may refer to: event fields by type (clinical events and loyalty notices), and patient
attributes."""

from __future__ import annotations

import types
import typing
from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel

from engine.journeys.notices import FIELD_TYPES

PATIENT_FIELDS: dict[str, str] = {
    "age": "whole years at the time of the decision",
    "sex": "female, male, other or unknown",
    "birth_date": "date of birth",
    "timezone": "IANA zone (falls back to the hospital's)",
    "language": "BCP 47 locale",
    "conditions": "codings of every diagnosed condition",
    "last_visit_at": "time of the last completed encounter, discharge or attended appointment",
    "deceased": "true once patient.deceased was received",
    "consents": "channels with consent (care purpose)",
    "churn_score": "sum of the weights of open churn flags",
    "churn_level": "none, low, medium or high",
    "attributes": "free attributes from registration, e.g. patient.attributes.tier",
    "loyalty": "the loyalty programme's view of the patient: patient.loyalty.member, .tier, .privileges, ...",
    "campaigns": "attendance of calendar campaigns by journey id: patient.campaigns.sanfu-tie.last_attended_at, ...",
}
# What patient.campaigns.<journey id>.* reads (engine/journeys/evaluate.py campaigns_view).
CAMPAIGN_FIELDS: dict[str, str] = {
    "last_attended_at": "when a visit of the campaign was last attended",
    "last_season": "the season (year) last attended",
    "seasons": "every season attended (the latest ten)",
    "visits_last_season": "the visits attended in the last season attended, e.g. 初伏",
}
# What patient.loyalty.* reads (engine/journeys/loyalty_view.py; a non-member has only ``member``: false).
LOYALTY_FIELDS: dict[str, str] = {
    "member": "true once enrolled in the loyalty programme",
    "tier": "the id of the member's level, e.g. silver",
    "tier_since": "when the member reached the level",
    "requalify_at": "when the level is next requalified (none on the base level)",
    "privileges": "the privileges of the member's level, e.g. personal-call",
    "points": "redeemable points available now",
    "pending": "points earned but not yet spendable",
    "qualifying": "qualifying points over the tier period",
    "badges": "ids of the badges awarded",
}


def _members(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _members(a)]
    return [annotation]


def event_fields(event_type: str) -> dict[str, Any]:
    return dict(FIELD_TYPES[event_type].model_fields.items())


def is_datetime_field(event_type: str, name: str) -> bool:
    info = FIELD_TYPES[event_type].model_fields.get(name)
    if info is None:
        return False
    # pydantic's AwareDatetime is a marker class, not a datetime subclass.
    return any(
        m is AwareDatetime or (isinstance(m, type) and issubclass(m, datetime | date))
        for m in _members(info.annotation)
    )


def datetime_fields(event_type: str) -> list[str]:
    return [n for n in FIELD_TYPES[event_type].model_fields if is_datetime_field(event_type, n)]


def nested_model(event_type: str, name: str) -> type[BaseModel] | None:
    info = FIELD_TYPES[event_type].model_fields.get(name)
    if info is None:
        return None
    for m in _members(info.annotation):
        if isinstance(m, type) and issubclass(m, BaseModel):
            return m
    return None
