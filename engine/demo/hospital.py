"""A synthetic hospital, deterministic by seed: the same seed always gives the same event stream.

Patients are invented (no real data). Each follows one or two common storylines: surgery, chronic disease,
appointments kept, moved, cancelled or missed, childbirth, dental implants, outpatient visits with surveys.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

from events import appointments as ap
from events import encounters as en
from events import findings as fi
from events import outreach as ou
from events import patient as pa
from events.base import Coding, Event, Source

CST = timezone(timedelta(hours=8))
SOURCE = "his-synthetic"
DEFAULT_START = datetime(2026, 1, 5, tzinfo=CST)


class _Patient:
    def __init__(self, rng: random.Random, number: int, start: datetime, days: int) -> None:
        self.rng = rng
        self.id = f"SYN{number:05d}"
        self.start = start
        self.days = days
        self.seq = 0
        self.events: list[Event] = []

    def moment(self, low: float = 0.0, high: float = 1.0) -> datetime:
        day = self.rng.uniform(low * self.days, high * self.days)
        minute = self.rng.randrange(8 * 60, 18 * 60)
        return self.start + timedelta(days=int(day), minutes=minute)

    def add(self, cls: type[Event], at: datetime, **fields: Any) -> Event:
        self.seq += 1
        delay = timedelta(minutes=self.rng.randrange(1, 30))
        event = cls.create(  # type: ignore[attr-defined]
            source=Source(system=SOURCE, message_id=f"{self.id}-{self.seq}"),
            patient_id=self.id,
            occurred_at=at,
            recorded_at=at + delay,
            **fields,
        )
        self.events.append(event)
        return event  # type: ignore[no-any-return]


SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴"]
GIVEN = ["芳", "伟", "娜", "敏", "静", "磊", "洋", "艳", "军", "杰"]


def _register(p: _Patient) -> None:
    born = date(p.rng.randrange(1940, 2004), p.rng.randrange(1, 13), p.rng.randrange(1, 29))
    # Contact details come from their own generator, so adding them left every patient's story as it was.
    c = random.Random(f"contact-{p.id}")
    contact = pa.Contact(
        phone=f"+86138{c.randrange(10**8):08d}",
        wechat_openid=f"o-demo-{p.id}" if c.random() < 0.7 else None,
        email=f"{p.id.lower()}@example.com" if c.random() < 0.3 else None,
    )
    p.add(
        pa.PatientRegistered,
        p.start - timedelta(days=p.rng.randrange(1, 14)),
        birth_date=born,
        sex=p.rng.choice(["female", "male"]),
        timezone="Asia/Shanghai",
        language=p.rng.choice(["zh-CN", "en"]),
        name=c.choice(SURNAMES) + c.choice(GIVEN),
        contact=contact,
    )


def _surgery(p: _Patient) -> None:
    at = p.moment(0, 0.8)
    dept = p.rng.choice(["orthopedics", "general-surgery", "urology"])
    p.add(en.EncounterDischarged, at, encounter_id=f"{p.id}-S", encounter_class="inpatient", department=dept)
    if p.rng.random() < 0.55:
        visit = at + timedelta(days=p.rng.randrange(8, 40))
        p.add(ap.AppointmentAttended, visit, appointment_id=f"{p.id}-FU", start_at=visit, department=dept)


def _chronic(p: _Patient, code: str) -> None:
    at = p.moment(0, 0.5)
    p.add(fi.ConditionDiagnosed, at, condition_id=f"{p.id}-{code}", code=Coding(system="icd-10", code=code))
    visit = at
    while p.rng.random() < 0.6:
        visit += timedelta(days=p.rng.randrange(60, 120))
        if visit > p.start + timedelta(days=p.days):
            break
        p.add(
            en.EncounterCompleted,
            visit,
            encounter_id=f"{p.id}-V{p.seq}",
            encounter_class="outpatient",
            department="endocrinology" if code.startswith("E") else "cardiology",
        )


def _appointment(p: _Patient) -> None:
    booked = p.moment(0, 0.9)
    start = (booked + timedelta(days=p.rng.randrange(2, 21))).replace(hour=p.rng.randrange(8, 17), minute=0)
    appt = {"appointment_id": f"{p.id}-A{p.seq}", "department": p.rng.choice(["cardiology", "ent", "dermatology"])}
    p.add(ap.AppointmentBooked, booked, start_at=start, **appt)
    fate = p.rng.random()
    if fate < 0.15:
        p.add(ap.AppointmentCancelled, booked + (start - booked) / 2, start_at=start, reason="patient request", **appt)
    elif fate < 0.25:
        p.add(ap.AppointmentNoShow, start + timedelta(hours=3), start_at=start, **appt)
    elif fate < 0.35:
        moved = start + timedelta(days=p.rng.randrange(2, 10))
        p.add(ap.AppointmentRescheduled, booked + (start - booked) / 3, start_at=moved, previous_start_at=start, **appt)
        p.add(ap.AppointmentAttended, moved, start_at=moved, **appt)
    else:
        p.add(ap.AppointmentAttended, start, start_at=start, **appt)


def _childbirth(p: _Patient) -> None:
    at = p.moment(0, 0.5)
    p.add(
        en.EncounterDischarged,
        at,
        encounter_id=f"{p.id}-B",
        encounter_class="inpatient",
        department="obstetrics",
        diagnoses=(Coding(system="icd-10", code="O80"),),
    )
    if p.rng.random() < 0.6:
        score = p.rng.choice([4, 7, 9, 11, 14, 16])
        p.add(
            fi.QuestionnaireCompleted,
            at + timedelta(days=32),
            response_id=f"{p.id}-EPDS",
            instrument="epds",
            score=score,
            items={"q10": 1 if score > 15 else 0},
        )


def _implant(p: _Patient) -> None:
    p.add(
        en.ProcedureCompleted,
        p.moment(0, 0.7),
        procedure_id=f"{p.id}-I",
        category="dental",
        code=Coding(system="cdt", code="D6010"),
        department="stomatology",
    )


def _outpatient(p: _Patient) -> None:
    at = p.moment(0, 0.95)
    p.add(en.EncounterCompleted, at, encounter_id=f"{p.id}-O", encounter_class="outpatient", department="ent")
    if p.rng.random() < 0.5:
        evening = at.replace(hour=21, minute=p.rng.randrange(0, 59))
        p.add(
            fi.QuestionnaireCompleted,
            evening,
            response_id=f"{p.id}-SAT",
            instrument="satisfaction",
            score=p.rng.randrange(2, 11),
        )


def _replies(p: _Patient) -> None:
    if p.rng.random() < 0.3:
        p.add(ou.OutreachReplied, p.moment(0.3, 1.0), message_id=f"{p.id}-reply", channel="wechat", text="ok")


STORYLINES: list[tuple[float, Callable[[_Patient], None]]] = [
    (0.20, _surgery),
    (0.12, lambda p: _chronic(p, "E11.9")),
    (0.12, lambda p: _chronic(p, "I10")),
    (0.30, _appointment),
    (0.06, _childbirth),
    (0.05, _implant),
    (0.15, _outpatient),
]


def generate(patients: int = 1000, seed: int = 7, start: datetime = DEFAULT_START, days: int = 182) -> list[Event]:
    """The hospital's clinical events in arrival order (recorded_at, then patient)."""
    rng = random.Random(seed)
    out: list[Event] = []
    for number in range(1, patients + 1):
        p = _Patient(random.Random(rng.getrandbits(64)), number, start, days)
        _register(p)
        weights = [w for w, _ in STORYLINES]
        for story in p.rng.choices([s for _, s in STORYLINES], weights=weights, k=p.rng.choice([1, 1, 2])):
            story(p)
        _replies(p)
        out.extend(p.events)
    return sorted(out, key=lambda e: (e.recorded_at, e.patient_id, e.event_id))
