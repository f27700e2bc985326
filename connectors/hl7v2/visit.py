"""The patient and the visit an ADT message is about: demographics from PID, encounter fields and ids from PV1.

Encounter id: PV1-19 (visit number). Without one, a stable id is derived from the source system, the patient's
first identifier and the admit time PV1-44, so an admission, its discharge and its cancel (A11) agree; without an
admit time as well, from the message itself (it then cannot link to other messages of the stay). A cancel needs
an id that links: without PV1-19 or PV1-44 it is rejected (``anchored_encounter_id``).

A pending or planned admission (A05, A14 and their cancels A38, A27) is named by PV1-19, else the preadmit
number PV1-5, else the expected admit time PV2-8 (derived ids, as above).
"""

from __future__ import annotations

import hashlib
from typing import Any

from connectors.hl7v2.codes import encounter_class, sex
from connectors.hl7v2.common import Draft, Header, event_time, optional_time, referral_of
from connectors.hl7v2.errors import FieldError
from connectors.hl7v2.message import Message, Segment
from connectors.hl7v2.values import birth_date, clinician, coding, contact, first, location, person_name
from events.base import Coding, Event
from events.patient import Identifier, PatientRegistered


def demographics(msg: Message, header: Header, pid: Segment, ids: tuple[Identifier, ...], cls: type[Event]) -> Draft:
    """``patient.registered``/``.updated`` with what PID says (explicit nulls ``""`` read as "not sent":
    canonical updates cannot delete a value), at EVN-2, else MSH-7."""
    fields = {
        "name": person_name(pid.repetitions(5)),
        "birth_date": birth_date(pid.get(7), "PID-7"),
        "sex": sex(pid.get(8)),
        "contact": contact(pid.repetitions(13), header.country),
        "identifiers": ids,
    }
    # a registration claims the referral code PID-3 carries; a later message repeating it claims nothing new
    referral = referral_of(pid, header) if cls is PatientRegistered else None
    kept = {k: v for k, v in fields.items() if v is not None}
    return Draft(cls, ids, event_time(msg, header), kept, referral=referral)


def encounter_fields(msg: Message, header: Header, pv1: Segment | None, ids: tuple[Identifier, ...]) -> dict[str, Any]:
    if pv1 is None:
        raise FieldError("PV1", f"no PV1 segment: an {header.message_type} needs the visit it is about")
    return {
        "encounter_id": encounter_id(pv1, header, ids),
        "encounter_class": encounter_class(pv1.get(2)),
        "department": department(pv1),
        "clinician": clinician(first(pv1, 7)),  # attending doctor
        "diagnoses": _diagnoses(msg),
    }


def department(pv1: Segment | None) -> str | None:
    """The point of care PV1-3, else the hospital service PV1-10."""
    return (location(first(pv1, 3)) or pv1.get(10)) if pv1 is not None else None


def encounter_id(pv1: Segment, header: Header, ids: tuple[Identifier, ...]) -> str:
    visit = pv1.get(19)
    if visit:
        return visit
    admitted = optional_time(pv1, 44, header)
    return derived_id(header, ids, admitted.isoformat() if admitted else f"message {header.source.message_id}")


def anchored_encounter_id(pv1: Segment | None, header: Header, ids: tuple[Identifier, ...]) -> str:
    """The id of the encounter a cancel is about: PV1-19, else derived from the admit time PV1-44 (as the
    admission's was); rejected without either, since an id derived from the cancel itself would match nothing."""
    visit = pv1.get(19) if pv1 is not None else None
    if visit:
        return visit
    admitted = optional_time(pv1, 44, header)
    if admitted is None:
        raise FieldError(
            "PV1-19",
            f"no visit number (PV1-19) and no admit date/time (PV1-44): an {header.message_type} cannot name the "
            "encounter it cancels",
        )
    return derived_id(header, ids, admitted.isoformat())


def pending_encounter_id(msg: Message, header: Header, ids: tuple[Identifier, ...]) -> str | None:
    """A pending or planned admission's id: PV1-19, else the preadmit number PV1-5, else the expected admit
    time PV2-8; None without any of them."""
    pv1 = msg.first("PV1")
    visit, preadmit = (pv1.get(19), pv1.get(5)) if pv1 is not None else (None, None)
    if visit:
        return visit
    if preadmit:
        return derived_id(header, ids, f"preadmit {preadmit}")
    expected = optional_time(msg.first("PV2"), 8, header)
    return derived_id(header, ids, f"expected {expected.isoformat()}") if expected else None


def derived_id(header: Header, ids: tuple[Identifier, ...], anchor: str) -> str:
    key = "\x1f".join((header.source.system, ids[0].authority, ids[0].value, anchor))
    return "hl7v2-" + hashlib.sha256(key.encode()).hexdigest()[:20]


def _diagnoses(msg: Message) -> tuple[Coding, ...]:
    # DG1-2 (diagnosis coding method, v2.3) names the code system when DG1-3 does not
    codes = (coding(first(dg1, 3), default_system=dg1.get(2)) for dg1 in msg.all("DG1"))
    return tuple(dict.fromkeys(c for c in codes if c is not None))
