"""Cancelled encounters: A11 cancel admit/visit notification and A23 delete visit -> ``encounter.cancelled``.

The engine ends the journeys the encounter's events started and withdraws their messages not yet sent; a
cancelled admission no longer counts as being in hospital. The encounter is named as the admission named it
(PV1-19, else the id derived from the admit time PV1-44: see ``visit``); a cancel without either is rejected,
since it could match nothing. The reason is EVN-4 (event reason, table 0062: its text, else its code).
``occurred_at`` is EVN-2, else MSH-7: when the cancel was recorded.
"""

from __future__ import annotations

from connectors.hl7v2.common import Draft, Header, event_time, patient_of, require_pid
from connectors.hl7v2.message import Message
from connectors.hl7v2.visit import anchored_encounter_id
from events.encounters import EncounterCancelled


def cancel_admit(msg: Message, header: Header) -> list[Draft]:
    return [_cancelled(msg, header, "admission")]


def delete_visit(msg: Message, header: Header) -> list[Draft]:
    return [_cancelled(msg, header, "visit")]


def _cancelled(msg: Message, header: Header, what: str) -> Draft:
    ids = patient_of(require_pid(msg), header)
    fields = {
        "encounter_id": anchored_encounter_id(msg.first("PV1"), header, ids),
        "cancelled": what,
        "reason": event_reason(msg),
    }
    return Draft(EncounterCancelled, ids, event_time(msg, header), fields)


def event_reason(msg: Message) -> str | None:
    evn = msg.first("EVN")
    return (evn.get(4, 2) or evn.get(4)) if evn is not None else None
