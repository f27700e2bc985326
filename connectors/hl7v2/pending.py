"""Pending and planned admissions: A05 pre-admit and A14 pending admit, A38 and A27 their cancels.

- A05, A14: ``patient.registered``; with an expected admit date/time (PV2-8), also ``appointment.booked`` for
  the admission: service "admission", start PV2-8, department PV1-3 (else PV1-10), clinician the admitting
  doctor PV1-17 (else the attending PV1-7). Without PV2-8 there is no time to book.
- A38, A27: ``encounter.cancelled`` (pending_admission), and ``appointment.cancelled`` for the admission the
  A05/A14 booked when PV2-8 is restated (an appointment event needs its start; a cancel without PV2-8 cannot
  name one, and withdraws nothing booked).

The admission is named by PV1-19, else the preadmit number PV1-5, else PV2-8 (``visit.pending_encounter_id``);
the appointment id is ``admission:<that id>``, so a cancel finds what its pre-admit booked. A cancel that names
none of them is rejected. ``occurred_at`` is EVN-2, else MSH-7.
"""

from __future__ import annotations

from typing import Any

from connectors.hl7v2.cancels import event_reason
from connectors.hl7v2.common import Draft, Header, event_time, optional_time, patient_of, require_pid
from connectors.hl7v2.errors import FieldError
from connectors.hl7v2.message import Message
from connectors.hl7v2.values import clinician, first
from connectors.hl7v2.visit import demographics, department, pending_encounter_id
from events import appointments as ap
from events.encounters import EncounterCancelled
from events.patient import Identifier, PatientRegistered

SERVICE = "admission"


def pre_admit(msg: Message, header: Header) -> list[Draft]:
    pid = require_pid(msg)
    ids = patient_of(pid, header)
    drafts = [demographics(msg, header, pid, ids, PatientRegistered)]
    booked = _appointment(msg, header, ids)
    if booked is not None:
        drafts.append(Draft(ap.AppointmentBooked, ids, event_time(msg, header), booked, SERVICE))
    return drafts


def cancel_pending(msg: Message, header: Header) -> list[Draft]:
    ids = patient_of(require_pid(msg), header)
    encounter_id = pending_encounter_id(msg, header, ids)
    if encounter_id is None:
        raise FieldError(
            "PV1-19",
            f"no visit number (PV1-19), preadmit number (PV1-5) or expected admit date/time (PV2-8): an "
            f"{header.message_type} cannot name the pending admission it cancels",
        )
    reason = event_reason(msg)
    fields = {"encounter_id": encounter_id, "cancelled": "pending_admission", "reason": reason}
    drafts = [Draft(EncounterCancelled, ids, event_time(msg, header), fields)]
    booked = _appointment(msg, header, ids)
    if booked is not None:
        drafts.append(Draft(ap.AppointmentCancelled, ids, event_time(msg, header), {**booked, "reason": reason}))
    return drafts


def _appointment(msg: Message, header: Header, ids: tuple[Identifier, ...]) -> dict[str, Any] | None:
    """The expected admission as an appointment, or None without PV2-8."""
    start = optional_time(msg.first("PV2"), 8, header)
    encounter_id = pending_encounter_id(msg, header, ids)
    if start is None or encounter_id is None:
        return None
    pv1 = msg.first("PV1")
    return {
        "appointment_id": f"{SERVICE}:{encounter_id}",
        "start_at": start,
        "department": department(pv1),
        "clinician": clinician(first(pv1, 17)) or clinician(first(pv1, 7)),
        "service": SERVICE,
    }
