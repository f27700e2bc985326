"""ADT (admission, discharge, transfer) messages -> patient and encounter events.

Decisions (MSH-9 decides; EVN-1 is ignored when it disagrees). Every ADT message first gets a
``patient.deceased`` per PID that reports a death (``deaths``: PID-29, PID-30 = Y, or a PV1-36 that means death),
before its other events, so that nothing the message would start runs for a patient who died.

- A01 admit: ``patient.registered`` (demographics) + ``encounter.admitted`` at PV1-44, else EVN-2, else MSH-7.
- A02 transfer, A12 cancel transfer: ``encounter.admitted`` for the same encounter with the department PV1-3 and
  clinician, at EVN-2, else MSH-7. careloop has no transfer event; restating the admission keeps the encounter's
  current ward visible, and journeys keyed on ``encounter_id`` see a correction of the same encounter. An A12's
  PV1-3 is the location before the cancelled transfer (v2.5 section 3.3.12; its PV1-6 names the cancelled
  destination), so restating it puts the patient back where they were.
- A03 discharge: ``encounter.discharged`` at PV1-45, else EVN-2, else MSH-7, with ``admitted_at`` (PV1-44) and
  the disposition PV1-36 (its text, else its code).
- A04 registration: ``patient.registered`` + ``encounter.completed`` (careloop has no "visit started" event,
  and outpatient systems rarely send an end-of-visit message, so the registration is the visit).
- A05 pre-admit, A14 pending admit: ``patient.registered``, + ``appointment.booked`` for the expected admission
  when PV2-8 (expected admit date/time) gives one (``pending``).
- A06 outpatient to inpatient: ``encounter.admitted`` with the class PV1-2, at EVN-2, else MSH-7.
- A07 inpatient to outpatient: ``encounter.discharged`` (the inpatient stay ended) with class inpatient and
  disposition ``changed-to-outpatient``: the patient did not go home, and journeys that follow a discharge
  home can tell it apart by the disposition.
- A08 update: ``patient.updated``; when PV1-45 is filled it also restates ``encounter.discharged`` (the usual
  way a corrected discharge time arrives; the engine treats a later event for the same encounter as a fix).
- A11 cancel admit, A23 delete visit: ``encounter.cancelled`` (admission, visit) (``cancels``).
- A13 cancel discharge: ``encounter.admitted`` for the same encounter at EVN-2, else MSH-7: the patient is in
  hospital again, which is what ends post-discharge journeys (their exit is ``encounter.admitted``).
- A17 swap patients: an ``encounter.admitted`` per PID/PV1 pair, each with its new PV1-3.
- A27 cancel pending admit, A38 cancel pre-admit: ``encounter.cancelled`` (pending_admission), +
  ``appointment.cancelled`` for the expected admission (``pending``).
- A28 add person / A31 update person: ``patient.registered`` / ``patient.updated``.
- A09/A10 patient departing/arriving and A32/A33 their cancels, A15/A16 pending transfer/discharge and A25/A26
  their cancels, A21/A22 leave of absence out/back and A52/A53 their cancels, A54/A55 change of attending doctor
  and its cancel, A60 update allergies: ``patient.updated`` with the demographics only. careloop plans nothing on
  tracking, pending moves, leaves or attending doctors, so they change no encounter.
- NK1 (next of kin) of A01, A04, A05, A08, A14, A28 and A31: a ``relationship.recorded`` (or, with an end date
  NK1-9, ``relationship.ended``) per NK1, after the patient's own event (``kin``). A relative a later A08 leaves out
  is not ended: absence states nothing.
- A34, A39, A40 merge: ``patient.merged`` per PID/MRG pair; A46, A47 change of identifiers: ``patient.updated``
  linking PID-3 to MRG-1's patient (``merges``).

Explicit nulls (``""``) in an update read as "not sent": canonical updates cannot delete a value.
"""

from __future__ import annotations

from collections.abc import Callable

from connectors.hl7v2 import cancels, merges, pending
from connectors.hl7v2.common import Draft, Header, event_time, optional_time, patient_groups, patient_of, require_pid
from connectors.hl7v2.deaths import deaths
from connectors.hl7v2.errors import FieldError
from connectors.hl7v2.kin import relationships
from connectors.hl7v2.message import Message
from connectors.hl7v2.visit import demographics, encounter_fields
from events import encounters as en
from events import patient as pa
from events.base import Event

Handler = Callable[[Message, Header], list[Draft]]
CHANGED_TO_OUTPATIENT = "changed-to-outpatient"


def _demographics(msg: Message, header: Header, cls: type[Event]) -> Draft:
    pid = require_pid(msg)
    return demographics(msg, header, pid, patient_of(pid, header), cls)


def _encounter_draft(msg: Message, header: Header, cls: type[Event], *when: tuple[str, int]) -> Draft:
    ids = patient_of(require_pid(msg), header)
    pv1 = msg.first("PV1")
    fields = encounter_fields(msg, header, pv1, ids)
    if cls is en.EncounterDischarged and pv1 is not None:
        fields["admitted_at"] = optional_time(pv1, 44, header)
        fields["disposition"] = pv1.get(36, 2) or pv1.get(36)  # table 0112: its text, else its code
    return Draft(cls, ids, event_time(msg, header, *when), fields)


def admit(msg: Message, header: Header) -> list[Draft]:
    return [
        _demographics(msg, header, pa.PatientRegistered),
        _encounter_draft(msg, header, en.EncounterAdmitted, ("PV1", 44)),
    ]


def transfer(msg: Message, header: Header) -> list[Draft]:
    """A02, A06, A12, A13: the encounter as it now is (ward, class, clinician), restated as admitted."""
    return [_encounter_draft(msg, header, en.EncounterAdmitted)]


def discharge(msg: Message, header: Header) -> list[Draft]:
    return [_encounter_draft(msg, header, en.EncounterDischarged, ("PV1", 45))]


def to_outpatient(msg: Message, header: Header) -> list[Draft]:
    draft = _encounter_draft(msg, header, en.EncounterDischarged, ("PV1", 45))
    fields = {**draft.fields, "encounter_class": "inpatient", "disposition": CHANGED_TO_OUTPATIENT}
    return [Draft(draft.event, draft.patient, draft.occurred_at, fields)]


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


def add_person(msg: Message, header: Header) -> list[Draft]:
    return [_demographics(msg, header, pa.PatientRegistered)]


def update_person(msg: Message, header: Header) -> list[Draft]:
    return [_demographics(msg, header, pa.PatientUpdated)]


def swap(msg: Message, header: Header) -> list[Draft]:
    """A17: each patient of the pair moves to their PV1-3; one ``encounter.admitted`` per PID/PV1 pair."""
    groups = patient_groups(msg)
    if len(groups) != 2:
        raise FieldError("PID", f"an {header.message_type} swaps two patients: expected two PID/PV1 pairs")
    drafts: list[Draft] = []
    for n, group in enumerate(groups, start=1):
        ids = patient_of(group.pid, header)
        fields = encounter_fields(msg, header, group.first("PV1"), ids)
        fields["diagnoses"] = ()  # an A17 carries no DG1; the message-wide ones would belong to neither
        drafts.append(Draft(en.EncounterAdmitted, ids, event_time(msg, header), fields, f"PID{n}"))
    return drafts


def _with_deaths(handler: Handler) -> Handler:
    def handle(msg: Message, header: Header) -> list[Draft]:
        return [*deaths(msg, header), *handler(msg, header)]

    handle.__doc__ = handler.__doc__
    return handle


_PLAIN: dict[str, Handler] = {
    "ADT^A01": admit,
    "ADT^A02": transfer,
    "ADT^A03": discharge,
    "ADT^A04": register_visit,
    "ADT^A05": pending.pre_admit,
    "ADT^A06": transfer,
    "ADT^A07": to_outpatient,
    "ADT^A08": update,
    "ADT^A11": cancels.cancel_admit,
    "ADT^A12": transfer,
    "ADT^A13": transfer,
    "ADT^A14": pending.pre_admit,
    "ADT^A17": swap,
    "ADT^A23": cancels.delete_visit,
    "ADT^A27": pending.cancel_pending,
    "ADT^A28": add_person,
    "ADT^A31": update_person,
    "ADT^A34": merges.merge,
    "ADT^A38": pending.cancel_pending,
    "ADT^A39": merges.merge,
    "ADT^A40": merges.merge,
}
_PLAIN |= {f"ADT^{t}": update_person for t in ("A09", "A10", "A15", "A16", "A21", "A22", "A25", "A26")}
_PLAIN |= {f"ADT^{t}": update_person for t in ("A32", "A33", "A52", "A53", "A54", "A55", "A60")}


def _with_kin(handler: Handler) -> Handler:
    """The registrations and updates also record the relatives their NK1s name, after the patient's own event."""

    def handle(msg: Message, header: Header) -> list[Draft]:
        return [*handler(msg, header), *relationships(msg, header)]

    handle.__doc__ = handler.__doc__
    return handle


KIN_TYPES = ("ADT^A01", "ADT^A04", "ADT^A05", "ADT^A08", "ADT^A14", "ADT^A28", "ADT^A31")
_PLAIN |= {kind: _with_kin(_PLAIN[kind]) for kind in KIN_TYPES}

HANDLERS: dict[str, Handler] = {kind: _with_deaths(handler) for kind, handler in sorted(_PLAIN.items())}
# An identifier change reports deaths itself: its patient is known by the old identifiers and the new ones.
HANDLERS |= {"ADT^A46": merges.change_identifiers, "ADT^A47": merges.change_identifiers}
HANDLERS = dict(sorted(HANDLERS.items()))
