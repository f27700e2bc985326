"""Events -> encounters, encounter_diagnoses, conditions and appointments rows. Pure.

Each encounter event sets the columns it gives and leaves the others (a discharge does not forget the admission
time an admission set; a department or clinician left out keeps the one given before). The rows follow the log's
order: a later discharge of the same encounter corrects its time, and a later admission, discharge or completion
clears a cancellation (the source sent the encounter again). A cancellation of an encounter never seen changes
nothing: there is no visit to take back. Diagnosis codes are only added (a correction that drops a code keeps it),
never with their display text; systems are stored in their canonical names (engine/journeys/valuesets.py), as the
value sets they are matched with at query time.
"""

from __future__ import annotations

from typing import Any

from engine.journeys.valuesets import canonical_system
from events import appointments as ap
from events import encounters as en
from events import findings as fi
from events.base import Coding, Event
from projections.base import Projection
from projections.ops import Op, Update, Upsert

ENCOUNTERS, DIAGNOSES, CONDITIONS, APPOINTMENTS = "encounters", "encounter_diagnoses", "conditions", "appointments"
ENCOUNTER_KEY = ("patient_id", "encounter_id")
APPOINTMENT_KEY = ("patient_id", "appointment_id")
APPOINTMENT_STATUS = {
    ap.AppointmentRescheduled: ("rescheduled", "rescheduled_at"),
    ap.AppointmentCancelled: ("cancelled", "cancelled_at"),
    ap.AppointmentNoShow: ("no_show", "no_show_at"),
    ap.AppointmentAttended: ("attended", "attended_at"),
}


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operations for one event (``seq``, its place in the log, is not needed here)."""
    if isinstance(e, en.EncounterAdmitted | en.EncounterDischarged | en.EncounterCompleted):
        return [_encounter(e), *_diagnoses(e)]
    if isinstance(e, en.EncounterCancelled):
        values = {"cancelled_at": e.occurred_at, "event_id": e.event_id, "updated_at": e.occurred_at}
        return [Update(ENCOUNTERS, values, {"patient_id": e.patient_id, "encounter_id": e.encounter_id})]
    if isinstance(e, fi.ConditionDiagnosed):
        return [_condition(e)]
    if isinstance(e, ap.AppointmentBooked):
        # a booking that arrives after the appointment's later events (a late feed) keeps what they set
        values = {"booked_at": e.occurred_at, "status": "booked"}
        return [_appointment(e, values, keep=("status", "start_at"))]
    if isinstance(
        e, ap.AppointmentRescheduled | ap.AppointmentCancelled | ap.AppointmentNoShow | ap.AppointmentAttended
    ):
        status, column = APPOINTMENT_STATUS[type(e)]
        return [_appointment(e, {"status": status, column: e.occurred_at})]
    return []


def _encounter(e: en.EncounterAdmitted | en.EncounterDischarged | en.EncounterCompleted) -> Upsert:
    values: dict[str, Any] = {"encounter_class": e.encounter_class, **_given(department=e.department)}
    values.update(_given(clinician=e.clinician))
    if isinstance(e, en.EncounterAdmitted):
        values["admitted_at"] = e.occurred_at
    elif isinstance(e, en.EncounterDischarged):
        values.update(discharged_at=e.occurred_at, **_given(admitted_at=e.admitted_at, disposition=e.disposition))
    else:
        values["completed_at"] = e.occurred_at
    key = {"patient_id": e.patient_id, "encounter_id": e.encounter_id}
    stamp = {"cancelled_at": None, "event_id": e.event_id, "updated_at": e.occurred_at}
    return Upsert(ENCOUNTERS, ENCOUNTER_KEY, {**key, **values, **stamp})


def _diagnoses(e: en.EncounterAdmitted | en.EncounterDischarged | en.EncounterCompleted) -> list[Op]:
    key = {"patient_id": e.patient_id, "encounter_id": e.encounter_id}
    codes = dict.fromkeys(tuple(_code(c).items()) for c in e.diagnoses)  # each code once (two displays of one code)
    return [Upsert(DIAGNOSES, (*ENCOUNTER_KEY, "system", "code"), {**key, **dict(code)}) for code in codes]


def _condition(e: fi.ConditionDiagnosed) -> Upsert:
    values: dict[str, Any] = {"patient_id": e.patient_id, "condition_id": e.condition_id, **_code(e.code)}
    values.update(clinical_status=e.clinical_status, diagnosed_at=e.occurred_at)
    return Upsert(CONDITIONS, ("patient_id", "condition_id"), values)


def _appointment(e: ap._Appointment, values: dict[str, Any], keep: tuple[str, ...] = ()) -> Upsert:
    given = _given(department=e.department, clinician=e.clinician, service=e.service)
    key = {"patient_id": e.patient_id, "appointment_id": e.appointment_id}
    return Upsert(APPOINTMENTS, APPOINTMENT_KEY, {**key, "start_at": e.start_at, **given, **values}, keep=keep)


def _code(coding: Coding) -> dict[str, str]:
    system = canonical_system(coding.system)
    return {"system": system if isinstance(system, str) else coding.system, "code": coding.code}


def _given(**values: Any) -> dict[str, Any]:
    """The values an event gives: one it leaves out keeps what the row holds."""
    return {name: value for name, value in values.items() if value is not None}


PROJECTION = Projection(
    name="visits",
    tables=(ENCOUNTERS, DIAGNOSES, CONDITIONS, APPOINTMENTS),
    changes=changes,
    reads=(
        en.EncounterAdmitted,
        en.EncounterDischarged,
        en.EncounterCompleted,
        en.EncounterCancelled,
        fi.ConditionDiagnosed,
        ap.AppointmentBooked,
        ap.AppointmentRescheduled,
        ap.AppointmentCancelled,
        ap.AppointmentNoShow,
        ap.AppointmentAttended,
    ),
    package=__package__ or __name__,
)
