"""ADT (admission, discharge, transfer) messages -> encounter and patient events.

Decisions (MSH-9 decides; EVN-1 is ignored when it disagrees):

- A01 admit: ``patient.registered`` (demographics) + ``encounter.admitted`` at PV1-44, else EVN-2, else MSH-7.
- A02 transfer: ``encounter.admitted`` for the same encounter with the new department (PV1-3) and clinician,
  at EVN-2, else MSH-7 (the transfer time). careloop has no transfer event; restating the admission keeps the
  encounter's current ward/department visible, and journeys keyed on ``encounter_id`` see a correction of
  the same encounter, not a new one.
- A03 discharge: ``encounter.discharged`` at PV1-45, else EVN-2, else MSH-7, with ``admitted_at`` (PV1-44).
- A04 registration: ``patient.registered`` + ``encounter.completed`` (careloop has no "visit started" event,
  and outpatient systems rarely send an end-of-visit message, so the registration is the visit).
- A08 update: ``patient.updated``; when PV1-45 is filled it also restates ``encounter.discharged`` (the usual
  way a corrected discharge time arrives; the engine treats a later event for the same encounter as a fix).
- A11 cancel admit: rejected (category "unsupported"): no canonical event retracts an admission, and mapping it
  to a discharge would start post-discharge journeys for a patient who was never admitted.
- A13 cancel discharge: ``encounter.admitted`` for the same encounter at EVN-2, else MSH-7: the patient is in
  hospital again, which is what ends post-discharge journeys (their exit is ``encounter.admitted``).
- A28 add person / A31 update person: ``patient.registered`` / ``patient.updated``.
- A34, A39, A40 merge: ``patient.merged`` per PID/MRG pair; MRG-1 names the retired identifiers, PID-3 the
  survivor's; the identity port records the merge.

Encounter id: PV1-19 (visit number). Without one, a stable id is derived from the source system, the
patient's first identifier and the admit time PV1-44 (so the admission and its discharge agree); without an
admit time as well, from the message itself (it then cannot link to other messages of the stay).
Explicit nulls (``""``) in an update read as "not sent": canonical updates cannot delete a value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from connectors.hl7v2.common import Draft, Header, event_time, optional_time, patient_of, require_pid
from connectors.hl7v2.errors import FieldError, NotMappedError
from connectors.hl7v2.message import Message, Segment
from connectors.hl7v2.values import (
    birth_date,
    clinician,
    coding,
    contact,
    encounter_class,
    first,
    identifiers,
    location,
    person_name,
    sex,
)
from events import encounters as en
from events import patient as pa
from events.base import Coding, Event

Handler = Callable[[Message, Header], list[Draft]]


def _demographics(msg: Message, header: Header, cls: type[Event]) -> Draft:
    pid = require_pid(msg)
    ids = patient_of(pid, header)
    fields = {
        "name": person_name(pid.repetitions(5)),
        "birth_date": birth_date(pid.get(7), "PID-7"),
        "sex": sex(pid.get(8)),
        "contact": contact(pid.repetitions(13)),
        "identifiers": ids,
    }
    return Draft(cls, ids, event_time(msg, header), {k: v for k, v in fields.items() if v is not None})


def _encounter(msg: Message, header: Header, ids: tuple[pa.Identifier, ...]) -> dict[str, Any]:
    pv1 = msg.first("PV1")
    if pv1 is None:
        raise FieldError("PV1", f"no PV1 segment: an {header.message_type} needs the visit it is about")
    return {
        "encounter_id": pv1.get(19) or _derived_encounter_id(pv1, header, ids),
        "encounter_class": encounter_class(pv1.get(2)),
        "department": location(first(pv1, 3)) or pv1.get(10),  # point of care, else hospital service
        "clinician": clinician(first(pv1, 7)),  # attending doctor
        "diagnoses": _diagnoses(msg),
    }


def _derived_encounter_id(pv1: Segment, header: Header, ids: tuple[pa.Identifier, ...]) -> str:
    admitted = optional_time(pv1, 44, header)
    anchor = admitted.isoformat() if admitted else f"message {header.source.message_id}"
    key = "\x1f".join((header.source.system, ids[0].authority, ids[0].value, anchor))
    return "hl7v2-" + hashlib.sha256(key.encode()).hexdigest()[:20]


def _diagnoses(msg: Message) -> tuple[Coding, ...]:
    # DG1-2 (diagnosis coding method, v2.3) names the code system when DG1-3 does not
    codes = (coding(first(dg1, 3), default_system=dg1.get(2)) for dg1 in msg.all("DG1"))
    return tuple(dict.fromkeys(c for c in codes if c is not None))


def _encounter_draft(msg: Message, header: Header, cls: type[Event], *when: tuple[str, int]) -> Draft:
    ids = patient_of(require_pid(msg), header)
    fields = _encounter(msg, header, ids)
    if cls is en.EncounterDischarged:
        pv1 = msg.first("PV1")
        fields["admitted_at"] = optional_time(pv1, 44, header)
        if pv1 is not None:  # discharge disposition (table 0112): its text, else its code
            fields["disposition"] = pv1.get(36, 2) or pv1.get(36)
    return Draft(cls, ids, event_time(msg, header, *when), fields)


def admit(msg: Message, header: Header) -> list[Draft]:
    return [
        _demographics(msg, header, pa.PatientRegistered),
        _encounter_draft(msg, header, en.EncounterAdmitted, ("PV1", 44)),
    ]


def transfer(msg: Message, header: Header) -> list[Draft]:
    return [_encounter_draft(msg, header, en.EncounterAdmitted)]


def discharge(msg: Message, header: Header) -> list[Draft]:
    return [_encounter_draft(msg, header, en.EncounterDischarged, ("PV1", 45))]


def register_visit(msg: Message, header: Header) -> list[Draft]:
    return [
        _demographics(msg, header, pa.PatientRegistered),
        _encounter_draft(msg, header, en.EncounterCompleted, ("PV1", 44)),
    ]


def update(msg: Message, header: Header) -> list[Draft]:
    drafts = [_demographics(msg, header, pa.PatientUpdated)]
    pv1 = msg.first("PV1")
    if pv1 is not None and pv1.get(45):
        drafts.append(_encounter_draft(msg, header, en.EncounterDischarged, ("PV1", 45)))
    return drafts


def cancel_admit(msg: Message, header: Header) -> list[Draft]:
    raise NotMappedError(
        "ADT^A11 (cancel admit) is deliberately not mapped: careloop has no event that retracts an admission, "
        "and a discharge would wrongly start post-discharge journeys; correct the admission at the source"
    )


def cancel_discharge(msg: Message, header: Header) -> list[Draft]:
    return [_encounter_draft(msg, header, en.EncounterAdmitted)]


def add_person(msg: Message, header: Header) -> list[Draft]:
    return [_demographics(msg, header, pa.PatientRegistered)]


def update_person(msg: Message, header: Header) -> list[Draft]:
    return [_demographics(msg, header, pa.PatientUpdated)]


def merge(msg: Message, header: Header) -> list[Draft]:
    """One ``patient.merged`` per PID (survivor) and the MRG that follows it (retired identifiers)."""
    drafts: list[Draft] = []
    survivor: tuple[pa.Identifier, ...] | None = None
    for segment in msg.segments:
        if segment.name == "PID":
            survivor = patient_of(segment, header)
        elif segment.name == "MRG" and survivor is not None:
            # MRG-1 prior patient identifier list; MRG-4 (prior patient id, deprecated) in old feeds
            retired = identifiers(segment.repetitions(1), header.facility)
            retired = retired or identifiers(segment.repetitions(4), header.facility)
            if not retired:
                raise FieldError("MRG-1", "no prior (retired) patient identifier to merge")
            n = len(drafts) + 1
            drafts.append(Draft(pa.PatientMerged, retired, event_time(msg, header), {}, f"MRG{n}", survivor))
    if not drafts:
        raise FieldError("MRG-1", f"an {header.message_type} needs a PID followed by an MRG naming the retired patient")
    return drafts


HANDLERS: dict[str, Handler] = {
    "ADT^A01": admit,
    "ADT^A02": transfer,
    "ADT^A03": discharge,
    "ADT^A04": register_visit,
    "ADT^A08": update,
    "ADT^A11": cancel_admit,
    "ADT^A13": cancel_discharge,
    "ADT^A28": add_person,
    "ADT^A31": update_person,
    "ADT^A34": merge,
    "ADT^A39": merge,
    "ADT^A40": merge,
}
