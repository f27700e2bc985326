"""The variables the engine fills for a message from its journey's entry event, as data: what each one means,
where its value comes from, and whether it can be absent (message_variables, kept in message.requested). The
dispatcher adds its own at send time (engine.outreach.variables). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from engine.journeys.locale import choose_locale
from engine.journeys.loyalty_definition import LoyaltyProgramme

Named = Literal["level", "badge"]


@dataclass(frozen=True, slots=True)
class Variable:
    name: str  # dotted, as templates write it: appointment.start_at
    description: str
    source: str  # a dotted field of the entry event, or "dispatcher" for values supplied at send time
    always: bool = True  # False: may be absent for some events; guard it (| default('...') or `is defined`)
    named: Named | None = None  # the source is the id of a loyalty level or badge, printed as its name


def _v(name: str, description: str, source: str, always: bool = True, named: Named | None = None) -> Variable:
    return Variable(name, description, source, always, named)


_CLINICIAN = _v("clinician.name", "The clinician the entry event names.", "clinician", always=False)

# By the family of the journey's entry event type (the part before the dot).
FAMILY_VARIABLES: dict[str, tuple[Variable, ...]] = {
    "appointment": (
        _v("appointment.start_at", "When it starts; print it with the date, time or datetime filter.", "start_at"),
        _v("appointment.end_at", "When it ends.", "end_at", always=False),
        _v("appointment.department", "The department the appointment is with.", "department", always=False),
        _v("appointment.clinician", "The clinician the appointment is with.", "clinician", always=False),
        _v("appointment.service", "The appointment type or reason, e.g. follow-up.", "service", always=False),
        _CLINICIAN,
    ),
    "encounter": (
        _v("encounter.department", "The department of the visit or stay.", "department", always=False),
        _v("encounter.clinician", "The responsible clinician.", "clinician", always=False),
        _CLINICIAN,
    ),
    "procedure": (
        _v("procedure.name", "The procedure's display name.", "code.display", always=False),
        _v("procedure.category", "e.g. surgical, dental, obstetric.", "category"),
        _v("procedure.performed_at", "When it was done.", "occurred_at"),
        _v("procedure.department", "The department that did it.", "department", always=False),
        _v("procedure.clinician", "The clinician who did it.", "clinician", always=False),
        _CLINICIAN,
    ),
    "questionnaire": (
        _v("questionnaire.instrument", "The instrument, e.g. epds, satisfaction.", "instrument"),
        _v("questionnaire.score", "The total score.", "score", always=False),
        _v("questionnaire.completed_at", "When it was answered.", "occurred_at"),
    ),
    "condition": (
        _v("condition.name", "The diagnosis's display name.", "code.display", always=False),
        _v("condition.diagnosed_at", "When it was diagnosed.", "occurred_at"),
    ),
    # loyalty notices (engine events a journey may enter on, design §4)
    "points": (
        _v("points.points", "How many points expire then (points.expiring).", "points"),
        _v("points.expires_at", "When they expire; print it with the date or datetime filter.", "expires_at"),
    ),
    "badge": (
        _v(
            "badge.name",
            "The badge's name in the message's locale (its id when it has none).",
            "badge_id",
            named="badge",
        ),
        _v("badge.points", "The points the badge gave (0 when none).", "points"),
    ),
}

# Extra variables of particular entry event types.
TYPE_VARIABLES: dict[str, tuple[Variable, ...]] = {
    "encounter.admitted": (_v("encounter.admitted_at", "When the patient was admitted.", "occurred_at"),),
    "encounter.discharged": (
        _v("encounter.discharged_at", "When the patient was discharged.", "occurred_at"),
        _v("encounter.admitted_at", "When the patient was admitted.", "admitted_at", always=False),
    ),
    "encounter.completed": (_v("encounter.completed_at", "When the visit ended.", "occurred_at"),),
    "tier.changed": (
        _v(
            "tier.name",
            "The level reached, in the message's locale (its id when it has none).",
            "to_tier",
            named="level",
        ),
        _v("tier.previous_name", "The level left, in the message's locale.", "from_tier", named="level"),
        _v(
            "tier.requalify_at",
            "When the level is next requalified (none on the base level).",
            "requalify_at",
            always=False,
        ),
    ),
    "tier.at_risk": (
        _v("tier.name", "The level at risk, in the message's locale (its id when it has none).", "tier", named="level"),
        _v("tier.short_by", "Qualifying points still needed to keep it.", "short_by"),
        _v("tier.requalify_at", "When the level is requalified.", "requalify_at"),
    ),
    "appointment.rescheduled": (
        _v("appointment.previous_start_at", "The start time before the reschedule.", "previous_start_at", False),
    ),
}


# A relative's copy of a message (recipients.py) also knows whom it goes to; absent from the patient's own.
RECIPIENT_VARIABLES: tuple[Variable, ...] = (
    _v(
        "recipient.role",
        "The relative's role (guardian, parent, caregiver, ...); absent for the patient.",
        "role",
        False,
    ),
    _v(
        "recipient.name",
        "The relative's name, unsealed by the dispatcher; absent for the patient.",
        "dispatcher",
        False,
    ),
)


def recipient_variables(variables: Mapping[str, Any], role: str | None) -> dict[str, Any]:
    """``variables`` for the patient (``role`` None), or with ``recipient.role`` for a relative's copy."""
    if role is None:
        return dict(variables)
    return {**variables, "recipient": {"role": role}}


def entry_variables(entry_type: str) -> tuple[Variable, ...]:
    """The variables the engine fills from an entry event of this type."""
    family = entry_type.partition(".")[0]
    return FAMILY_VARIABLES.get(family, ()) + TYPE_VARIABLES.get(entry_type, ())


def message_variables(
    entry: Mapping[str, Any], loyalty: LoyaltyProgramme | None = None, locale: str | None = None
) -> dict[str, dict[str, Any]]:
    """The engine-known variables from a journey instance's entry event (its JSON), nested by their first part:
    {"appointment": {"start_at": "2026-03-05T14:30:00+08:00", ...}}. Absent or empty values are left out, so a
    template that prints one unguarded fails loudly instead of sending a blank. A loyalty level or badge is named
    from the programme (``loyalty``) in ``locale``, the one the message will be written in."""
    out: dict[str, dict[str, Any]] = {}
    for variable in entry_variables(str(entry.get("type", ""))):
        value = _json(_field(entry, variable.source))
        if variable.named is not None and value is not None:
            value = loyalty_name(loyalty, variable.named, str(value), locale)
        if value is None or value == "":
            continue
        group, _, name = variable.name.partition(".")
        out.setdefault(group, {})[name] = value
    return out


def loyalty_name(loyalty: LoyaltyProgramme | None, kind: Named, id_: str, locale: str | None) -> str:
    """A level's or badge's name in ``locale`` (or one of the same language, as messages choose theirs); its id when
    the programme gives it no name there (the id is what staff wrote, never a guess at a translation)."""
    found: dict[str, str] = {}
    if loyalty is not None and kind == "level" and loyalty.tiers is not None:
        found = next((lv.name for lv in loyalty.tiers.levels if lv.id == id_), {})
    elif loyalty is not None and kind == "badge":
        found = next((b.name for b in loyalty.badges if b.id == id_), {})
    if not found or locale is None:
        return id_
    return found.get(choose_locale(locale, list(found), ""), id_)


def _field(data: Mapping[str, Any], dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
