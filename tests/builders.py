"""Terse builders for scenario tests: patients, clinical events, and what the engine did for a patient.

Every event arrives when it happens (``recorded_at == occurred_at``) unless ``recorded=`` says otherwise, and
gets a fresh source message id unless ``msg=`` names one (the event id derives from it).
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from engine.journeys.catalog import Catalog
from engine.journeys.churn import SIGNALS
from engine.journeys.simulation import Simulation
from engine.journeys.state import Instance
from engine.language.loader import load_catalog
from events import appointments as ap
from events import encounters as en
from events import findings as fi
from events import journey as jo
from events import outreach as ou
from events import patient as pa
from events.base import Coding, Event, Source

CST = timezone(timedelta(hours=8))
SHANGHAI = ZoneInfo("Asia/Shanghai")
JOURNEYS = Path(__file__).resolve().parents[1] / "journeys.yaml"
E = TypeVar("E", bound=Event)
_messages = itertools.count(1)


def at(text: str) -> datetime:
    """'2026-03-02 10:00' as hospital local time (+08:00)."""
    return datetime.fromisoformat(text).replace(tzinfo=CST)


def local(moment: datetime) -> str:
    """A moment as hospital wall-clock text with offset, e.g. '2026-03-05 10:00+08:00'."""
    return moment.astimezone(SHANGHAI).isoformat(sep=" ", timespec="minutes")


@cache
def catalog() -> Catalog:
    return load_catalog(JOURNEYS)


def simulation(*events: Event) -> Simulation:
    sim = Simulation(catalog())
    sim.feed(events)
    return sim


# A journeys file with three mistakes: a misspelt step, an unknown event type and a bad duration.
MISSPELT_JOURNEYS = """\
journeys:
  - id: post-op
    version: 1
    name: Post-op
    entry:
      event: encounter.discharge
      key: encounter_id
    steps:
      - id: day-3
        wait: {offset: 3x, from: entry, at: "10:00"}
      - id: day-3-message
        message: {template: t, channels: [sms]}
        next: day-7-mesage
      - id: day-7-message
        message: {template: t, channels: [sms]}
templates:
  t: {locales: {zh-CN: {body: 您好}, en: {body: Hello}}}
"""


# --- clinical events -------------------------------------------------------------------------------------


def event(
    cls: type[E], patient: str, when: datetime, msg: str | None = None, recorded: datetime | None = None, **fields: Any
) -> E:
    source = Source(system="his-test", message_id=msg or f"msg-{next(_messages)}")
    built: E = cls.create(source=source, patient_id=patient, occurred_at=when, recorded_at=recorded or when, **fields)
    return built


def icd10(code: str) -> Coding:
    return Coding(system="icd-10", code=code)


def registered(patient: str, when: datetime, **fields: Any) -> pa.PatientRegistered:
    return event(pa.PatientRegistered, patient, when, timezone="Asia/Shanghai", language="zh-CN", **fields)


def deceased(patient: str, when: datetime) -> pa.PatientDeceased:
    return event(pa.PatientDeceased, patient, when)


def admitted(patient: str, when: datetime, encounter_id: str = "E-readmit", **fields: Any) -> en.EncounterAdmitted:
    return event(en.EncounterAdmitted, patient, when, encounter_id=encounter_id, encounter_class="inpatient", **fields)


def discharge(
    patient: str, when: datetime, department: str = "orthopedics", encounter_id: str = "E1", **fields: Any
) -> en.EncounterDischarged:
    fields.setdefault("encounter_class", "inpatient")
    return event(en.EncounterDischarged, patient, when, department=department, encounter_id=encounter_id, **fields)


def visit(patient: str, when: datetime, encounter_id: str | None = None, **fields: Any) -> en.EncounterCompleted:
    """A completed outpatient visit."""
    fields.setdefault("encounter_class", "outpatient")
    return event(en.EncounterCompleted, patient, when, encounter_id=encounter_id or f"V-{when:%Y%m%d%H%M}", **fields)


def diagnosed(patient: str, when: datetime, code: str, condition_id: str | None = None) -> fi.ConditionDiagnosed:
    return event(fi.ConditionDiagnosed, patient, when, condition_id=condition_id or f"C-{code}", code=icd10(code))


def procedure(
    patient: str, when: datetime, code: Coding, category: str = "dental", procedure_id: str = "PR1"
) -> en.ProcedureCompleted:
    return event(en.ProcedureCompleted, patient, when, procedure_id=procedure_id, code=code, category=category)


def questionnaire(
    patient: str,
    when: datetime,
    instrument: str,
    score: float | None = None,
    response_id: str | None = None,
    **items: float,
) -> fi.QuestionnaireCompleted:
    rid = response_id or f"R-{instrument}-{when:%Y%m%d%H%M}"
    return event(
        fi.QuestionnaireCompleted, patient, when, response_id=rid, instrument=instrument, score=score, items=items
    )


def replied(patient: str, when: datetime, message_id: str = "m-1", channel: str = "wechat") -> ou.OutreachReplied:
    return event(ou.OutreachReplied, patient, when, message_id=message_id, channel=channel)


def _appointment(
    cls: type[E], patient: str, when: datetime, appointment_id: str, start_at: datetime, **fields: Any
) -> E:
    return event(cls, patient, when, appointment_id=appointment_id, start_at=start_at, **fields)


def booked(
    patient: str, when: datetime, start_at: datetime, appointment_id: str = "A1", **kw: Any
) -> ap.AppointmentBooked:
    return _appointment(ap.AppointmentBooked, patient, when, appointment_id, start_at, **kw)


def rescheduled(
    patient: str, when: datetime, start_at: datetime, appointment_id: str = "A1", **kw: Any
) -> ap.AppointmentRescheduled:
    return _appointment(ap.AppointmentRescheduled, patient, when, appointment_id, start_at, **kw)


def cancelled(
    patient: str, when: datetime, start_at: datetime, appointment_id: str = "A1", **kw: Any
) -> ap.AppointmentCancelled:
    return _appointment(ap.AppointmentCancelled, patient, when, appointment_id, start_at, **kw)


def no_show(
    patient: str, when: datetime, start_at: datetime, appointment_id: str = "A1", **kw: Any
) -> ap.AppointmentNoShow:
    return _appointment(ap.AppointmentNoShow, patient, when, appointment_id, start_at, **kw)


def attended(
    patient: str, when: datetime, appointment_id: str = "A1", start_at: datetime | None = None, **kw: Any
) -> ap.AppointmentAttended:
    return _appointment(ap.AppointmentAttended, patient, when, appointment_id, start_at or when, **kw)


# --- what the engine did ----------------------------------------------------------------------------------


def recorded(sim: Simulation, patient: str, cls: type[E], journey: str | None = None) -> list[E]:
    found = [e for e in sim.recorded.get(patient, []) if isinstance(e, cls)]
    return [e for e in found if journey is None or getattr(e, "journey_id", None) == journey]


def messages(sim: Simulation, patient: str, journey: str | None = None) -> list[jo.MessageRequested]:
    return recorded(sim, patient, jo.MessageRequested, journey)


def sent(sim: Simulation, patient: str, journey: str | None = None) -> list[tuple[str, str]]:
    """(template, local due time) of every message requested, in order."""
    return [(m.template, local(m.due_at)) for m in messages(sim, patient, journey)]


def tasks(sim: Simulation, patient: str, journey: str | None = None) -> list[jo.TaskCreated]:
    return recorded(sim, patient, jo.TaskCreated, journey)


def flags(sim: Simulation, patient: str, journey: str | None = None) -> list[jo.ChurnFlagged]:
    """Flags raised by journeys (or, with ``journey=SIGNALS``, by the churn signals watched across journeys)."""
    return [f for f in recorded(sim, patient, jo.ChurnFlagged, journey) if journey or f.journey_id != SIGNALS]


def cleared(sim: Simulation, patient: str, journey: str | None = None) -> list[jo.ChurnCleared]:
    return [c for c in recorded(sim, patient, jo.ChurnCleared, journey) if journey or c.journey_id != SIGNALS]


def journey_score(sim: Simulation, patient: str) -> int:
    """The churn score from journey flags alone, leaving out the signals watched across journeys."""
    return sum(f.weight for (journey, _), f in sim.state(patient).flags.items() if journey != SIGNALS)


def skipped(sim: Simulation, patient: str, journey: str | None = None) -> list[jo.StepSkipped]:
    return recorded(sim, patient, jo.StepSkipped, journey)


def started(sim: Simulation, patient: str, journey: str | None = None) -> list[jo.JourneyStarted]:
    return recorded(sim, patient, jo.JourneyStarted, journey)


def endings(sim: Simulation, patient: str, journey: str | None = None) -> list[tuple[str, str, str]]:
    """(journey_id, 'completed' or 'exited', outcome) of every instance that ended, in order."""
    ended = [e for e in sim.recorded.get(patient, []) if isinstance(e, jo.JourneyCompleted | jo.JourneyExited)]
    return [
        (e.journey_id, e.type.removeprefix("journey."), e.outcome)
        for e in ended
        if journey is None or e.journey_id == journey
    ]


def active(sim: Simulation, patient: str) -> list[str]:
    """Journey ids of the patient's running instances."""
    return [i.journey_id for i in sim.state(patient).active_instances()]


def instances(sim: Simulation, patient: str, journey: str) -> list[Instance]:
    """The patient's instances of a journey, in start order."""
    return [i for i in sim.state(patient).instances.values() if i.journey_id == journey]
