"""SIU scheduling messages -> appointment events.

- S12 new -> ``appointment.booked``; S13 rescheduled -> ``appointment.rescheduled``; S15 cancelled ->
  ``appointment.cancelled`` (reason: SCH-6 event reason); S26 no-show -> ``appointment.no_show``.
- S14 modification -> ``appointment.rescheduled`` carrying the current start, whatever changed. The mapping is
  stateless, and an S14 does not say what it modified (time, room or clinician), so it cannot tell a moved
  appointment from a changed room; ``previous_start_at`` stays empty. The engine, which knows the booked
  time, is the place to ignore a "reschedule" whose start did not move.
- Appointment id: SCH-2 (filler, the scheduling system's own id), else SCH-1 (placer).
- Start/end: TQ1-7/8 (v2.5+), else SCH-11.4/.5 (the older timing quantity), else the first resource's
  start: AIS-4, AIG-8, AIL-6, AIP-6. SCH-11 is deprecated from v2.6 and often stale when TQ1 is present.
- Department: AIL-3 point of care, else PV1-3; clinician: AIP-3, else PV1-7; service: SCH-7 (reason),
  else SCH-8 (type), else AIS-3 (service).
- ``occurred_at`` is MSH-7: when the schedule changed (the appointment's own time is ``start_at``).
"""

from __future__ import annotations

from datetime import datetime

from connectors.hl7v2.common import Draft, Header, optional_time, patient_of, require_pid, time_at
from connectors.hl7v2.errors import FieldError
from connectors.hl7v2.message import Message, Segment
from connectors.hl7v2.values import clinician, first, location
from events import appointments as ap
from events.base import Event

_EVENTS: dict[str, type[Event]] = {
    "SIU^S12": ap.AppointmentBooked,
    "SIU^S13": ap.AppointmentRescheduled,
    "SIU^S14": ap.AppointmentRescheduled,
    "SIU^S15": ap.AppointmentCancelled,
    "SIU^S26": ap.AppointmentNoShow,
}
# (segment, start field, end field or 0): where the start time may be, most authoritative first
_TIMES = (("TQ1", 7, 8), ("SCH", 0, 0), ("AIS", 4, 0), ("AIG", 8, 0), ("AIL", 6, 0), ("AIP", 6, 0))


def appointment(msg: Message, header: Header) -> list[Draft]:
    sch = msg.first("SCH")
    if sch is None:
        raise FieldError("SCH", f"no SCH segment: an {header.message_type} needs the appointment it is about")
    appointment_id = sch.get(2) or sch.get(1)
    if appointment_id is None:
        raise FieldError("SCH-2", "no appointment id (filler SCH-2 or placer SCH-1)")
    start, end = _times(msg, header)
    pv1 = msg.first("PV1")
    fields: dict[str, object] = {
        "appointment_id": appointment_id,
        "start_at": start,
        "end_at": end,
        "department": location(first(msg.first("AIL"), 3)) or location(first(pv1, 3)),
        "clinician": clinician(first(msg.first("AIP"), 3)) or clinician(first(pv1, 7)),
        "service": _text(sch, 7) or _text(sch, 8) or _text(msg.first("AIS"), 3),
    }
    cls = _EVENTS[header.message_type]
    if cls is ap.AppointmentCancelled:
        fields["reason"] = _text(sch, 6)
    return [Draft(cls, patient_of(require_pid(msg), header), header.recorded_at, fields)]


def _times(msg: Message, header: Header) -> tuple[datetime, datetime | None]:
    for name, start_field, end_field in _TIMES:
        segment = msg.first(name)
        if segment is None:
            continue
        if name == "SCH":  # SCH-11 is a TQ: component 4 is the start, 5 the end
            start = _component_time(segment, 4, header)
            end = _component_time(segment, 5, header) if start else None
        else:
            start = optional_time(segment, start_field, header)
            end = optional_time(segment, end_field, header) if start and end_field else None
        if start is not None:
            return start, end
    raise FieldError("TQ1-7", "no appointment start time (TQ1-7, SCH-11.4, AIS-4, AIG-8, AIL-6 or AIP-6)")


def _component_time(sch: Segment, component: int, header: Header) -> datetime | None:
    return time_at(sch.get(11, component), f"SCH-11.{component}", header)


def _text(segment: Segment | None, field: int) -> str | None:
    """A CE/CWE's text, else its code (plain text fields come through as the code)."""
    return (segment.get(field, 2) or segment.get(field, 1)) if segment else None


HANDLERS = {kind: appointment for kind in _EVENTS}
