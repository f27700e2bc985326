"""Scheduling: booked, moved, cancelled, missed or attended appointments."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from events.base import Event


class _Appointment(Event):
    appointment_id: str = Field(min_length=1)
    start_at: AwareDatetime = Field(description="Scheduled start, with its UTC offset.")
    end_at: AwareDatetime | None = None
    department: str | None = None
    clinician: str | None = None
    service: str | None = Field(default=None, description="Appointment type or reason, e.g. 'follow-up'.")


class AppointmentBooked(_Appointment):
    type: Literal["appointment.booked"] = "appointment.booked"


class AppointmentRescheduled(_Appointment):
    type: Literal["appointment.rescheduled"] = "appointment.rescheduled"
    previous_start_at: AwareDatetime | None = None


class AppointmentCancelled(_Appointment):
    type: Literal["appointment.cancelled"] = "appointment.cancelled"
    reason: str | None = None


class AppointmentNoShow(_Appointment):
    type: Literal["appointment.no_show"] = "appointment.no_show"


class AppointmentAttended(_Appointment):
    type: Literal["appointment.attended"] = "appointment.attended"
