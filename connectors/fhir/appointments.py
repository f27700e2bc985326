"""Appointment -> appointment.booked / cancelled / no_show / attended, by status.

proposed, pending and booked are booked; cancelled and entered-in-error (booked by mistake) are cancelled; noshow is
no_show; arrived, checked-in and fulfilled are attended; waitlist is skipped. A booking is dated when it was made
(``created``, else when the source recorded it, else its start); a cancellation when recorded, else at the
start; attendance and no-shows at the start.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir.resources.R4B.appointment import Appointment

from connectors.fhir.context import Context
from connectors.fhir.elements import codes, concept_text, first_text, reference_parts
from connectors.fhir.errors import Problem, SkippedError, UnmappableError
from connectors.fhir.parse import Entry
from connectors.fhir.vocabulary import APPOINTMENT_EVENTS, APPOINTMENT_TYPES, slug
from events.appointments import AppointmentAttended, AppointmentBooked, AppointmentCancelled, AppointmentNoShow
from events.base import Event

EVENTS: dict[str, type[Event]] = {
    "booked": AppointmentBooked,
    "cancelled": AppointmentCancelled,
    "no_show": AppointmentNoShow,
    "attended": AppointmentAttended,
}
CLINICIANS = frozenset({"Practitioner", "PractitionerRole"})


def map_appointment(appointment: Appointment, ctx: Context) -> list[Event | Problem]:
    status = appointment.status  # a code of appointmentstatus: bindings.py rejected any other
    if status not in APPOINTMENT_EVENTS:
        raise SkippedError(f"status {status}")
    what = APPOINTMENT_EVENTS[status]
    patient_id = _patient(appointment, ctx)
    start = ctx.time(appointment.start)
    if start is None:
        raise SkippedError(f"{status} without a start time")
    recorded = ctx.recorded[0] if ctx.recorded else None
    occurred: datetime = start
    if what == "booked":
        occurred = ctx.time(appointment.created) or recorded or start
    elif what == "cancelled":
        occurred = recorded or start
    fields: dict[str, Any] = {
        "appointment_id": ctx.resource_id(appointment),
        "start_at": start,
        "end_at": ctx.time(appointment.end),
        "department": _department(appointment, ctx),
        "clinician": _clinician(appointment, ctx),
        "service": _service(appointment),
    }
    if what == "cancelled":
        fields["reason"] = concept_text(appointment.cancelationReason) or _entered_in_error(status)
    return [ctx.event(EVENTS[what], patient_id, occurred, **fields)]


def _actor_type(actor: Any, appointment: Appointment, ctx: Context) -> str | None:
    found = ctx.refs.find(actor, appointment)
    if isinstance(found, Entry):
        return found.resource_type
    if found is not None:
        return str(found.get_resource_type())
    parts = reference_parts(actor.reference) if actor.reference else None
    return parts[0] if parts else (actor.type.rsplit("/", 1)[-1] if actor.type else None)


def _patient(appointment: Appointment, ctx: Context) -> str:
    for i, participant in enumerate(appointment.participant or []):
        if participant.actor is not None and _actor_type(participant.actor, appointment, ctx) == "Patient":
            return ctx.refs.subject(participant.actor, appointment, f"participant[{i}].actor")
    raise UnmappableError("has no Patient participant: careloop needs to know whose appointment it is", "participant")


def _participants(appointment: Appointment, ctx: Context, kinds: frozenset[str]) -> list[Any]:
    actors = [p.actor for p in appointment.participant or [] if p.actor is not None]
    return [a for a in actors if _actor_type(a, appointment, ctx) in kinds]


def _clinician(appointment: Appointment, ctx: Context) -> str | None:
    names = (ctx.refs.name(a, appointment) for a in _participants(appointment, ctx, CLINICIANS))
    return next((n for n in names if n), None)


def _department(appointment: Appointment, ctx: Context) -> str | None:
    places = (ctx.refs.name(a, appointment) for a in _participants(appointment, ctx, frozenset({"Location"})))
    return slug(first_text(appointment.specialty) or next((p for p in places if p), None))


def _service(appointment: Appointment) -> str | None:
    for code in codes(appointment.appointmentType):
        if code in APPOINTMENT_TYPES:
            return APPOINTMENT_TYPES[code]
    return slug(concept_text(appointment.appointmentType) or first_text(appointment.serviceType))


def _entered_in_error(status: str) -> str | None:
    """Why an appointment without a cancelationReason was withdrawn, when its status says it."""
    return status if status == "entered-in-error" else None
