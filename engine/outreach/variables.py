"""Every variable a message template may use: the engine's, from the journey's entry event
(engine.journeys.variables), and the dispatcher's, added at send time. What the load-time template checks and the
docs read."""

from __future__ import annotations

from engine.journeys.variables import FAMILY_VARIABLES, TYPE_VARIABLES, Variable, entry_variables, message_variables

# Supplied by the dispatcher for every message, whatever the journey.
DISPATCHER_VARIABLES: tuple[Variable, ...] = (
    Variable("patient.name", "The patient's name as registered.", "dispatcher", always=False),
    Variable("patient.timezone", "The patient's IANA time zone (the hospital's when unknown).", "dispatcher"),
    Variable("patient.locale", "The locale the message is written in, e.g. zh-CN.", "dispatcher"),
    Variable("hospital.name", "The hospital's name in the message's locale (outreach.hospital.name).", "dispatcher"),
    Variable("hospital.phone", "The hospital's phone number (outreach.hospital.phone).", "dispatcher"),
    Variable("message.id", "The message's id, e.g. to quote in a reply.", "dispatcher"),
    # A relative's copy (a guardian, a caregiver: issue 18) addresses them; absent in the patient's own message.
    Variable("recipient.name", "The relative a copy goes to, as recorded.", "dispatcher", always=False),
    Variable("recipient.role", "Their role: guardian, parent, caregiver, ...", "dispatcher", always=False),
)


def variables_for(entry_type: str) -> dict[str, Variable]:
    """Every variable a message of a journey entering on ``entry_type`` can use, by dotted name."""
    return {v.name: v for v in (*entry_variables(entry_type), *DISPATCHER_VARIABLES)}


def available_variables(entry_type: str) -> set[str]:
    """The dotted names available to the templates of a journey entering on ``entry_type``."""
    return set(variables_for(entry_type))


def all_variables() -> dict[str, Variable]:
    """Every variable of any entry type (for templates no journey uses yet, and for the docs)."""
    out = {v.name: v for vs in FAMILY_VARIABLES.values() for v in vs}
    out.update({v.name: v for vs in TYPE_VARIABLES.values() for v in vs})
    out.update({v.name: v for v in DISPATCHER_VARIABLES})
    return out


__all__ = [
    "DISPATCHER_VARIABLES",
    "Variable",
    "all_variables",
    "available_variables",
    "message_variables",
    "variables_for",
]
