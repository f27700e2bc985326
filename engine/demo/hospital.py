"""A synthetic hospital, deterministic by seed: the same seed always gives the same event stream.

Patients are invented (no real data). Each follows one or two common storylines: surgery, chronic disease,
appointments kept, moved, cancelled or missed, childbirth, dental implants, outpatient visits with surveys.

With a behavioural model (engine.demo.behaviour), whether a patient of a journey it covers comes back is its draw
alone: such a patient lives that one storyline, and the storyline adds no visit of its own in the model's window
(the return visit it would have drawn is the model's instead), so the true effect is exactly the model's.
Without one, the stream is the same, event for event, as before the model existed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from events import appointments as ap
from events import encounters as en
from events import findings as fi
from events import outreach as ou
from events import patient as pa
from events.base import Coding, Event, Source

if TYPE_CHECKING:
    from engine.demo.behaviour import Behaviour, PatientBehaviour

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
        self.behaviour: PatientBehaviour | None = None

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

    def decided_by_behaviour(self, journey_id: str, entry: datetime, department: str) -> bool:
        """If the behavioural model covers ``journey_id``, add the return visit it draws (if any) and say so: the
        storyline then adds no visit of its own in the window."""
        if self.behaviour is None or not self.behaviour.covers(journey_id):
            return False
        visit = self.behaviour.return_at(journey_id, entry)
        if visit is not None:
            self.add(
                ap.AppointmentAttended,
                visit,
                appointment_id=f"{self.id}-R{self.seq}",
                start_at=visit,
                department=department,
            )
        return True

    def in_window(self, journey_id: str, entry: datetime, moment: datetime) -> bool:
        """Whether ``moment`` falls in the window the behavioural model decides for ``journey_id``'s entry."""
        return self.behaviour is not None and self.behaviour.in_window(journey_id, entry, moment)


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
    if p.decided_by_behaviour("post-op-follow-up", at, dept):
        return
    if p.rng.random() < 0.55:
        visit = at + timedelta(days=p.rng.randrange(8, 40))
        p.add(ap.AppointmentAttended, visit, appointment_id=f"{p.id}-FU", start_at=visit, department=dept)


def _chronic(p: _Patient, code: str) -> None:
    at = p.moment(0, 0.5)
    p.add(fi.ConditionDiagnosed, at, condition_id=f"{p.id}-{code}", code=Coding(system="icd-10", code=code))
    department = "endocrinology" if code.startswith("E") else "cardiology"
    journey = "diabetes-care" if code.startswith("E11") else "hypertension-cycle"
    p.decided_by_behaviour(journey, at, department)
    visit = at
    while p.rng.random() < 0.6:
        visit += timedelta(days=p.rng.randrange(60, 120))
        if visit > p.start + timedelta(days=p.days):
            break
        if p.in_window(journey, at, visit):  # the model's draw alone decides the window
            continue
        p.add(
            en.EncounterCompleted,
            visit,
            encounter_id=f"{p.id}-V{p.seq}",
            encounter_class="outpatient",
            department=department,
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
    at = p.moment(0, 0.7)
    p.add(
        en.ProcedureCompleted,
        at,
        procedure_id=f"{p.id}-I",
        category="dental",
        code=Coding(system="cdt", code="D6010"),
        department="stomatology",
    )
    p.decided_by_behaviour("dental-implant-follow-up", at, "stomatology")


def _outpatient(p: _Patient) -> None:
    at = p.moment(0, 0.95)
    p.add(en.EncounterCompleted, at, encounter_id=f"{p.id}-O", encounter_class="outpatient", department="ent")
    p.decided_by_behaviour("post-visit-satisfaction", at, "ent")
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


def _diabetes(p: _Patient) -> None:
    _chronic(p, "E11.9")


def _hypertension(p: _Patient) -> None:
    _chronic(p, "I10")


Story = Callable[[_Patient], None]
# Each storyline by name, with the journey whose entry it makes (the one a behavioural effect is measured on).
STORIES: dict[str, tuple[Story, str]] = {
    "surgery": (_surgery, "post-op-follow-up"),
    "diabetes": (_diabetes, "diabetes-care"),
    "hypertension": (_hypertension, "hypertension-cycle"),
    "appointment": (_appointment, "appointment-reminders"),
    "childbirth": (_childbirth, "postpartum-follow-up"),
    "implant": (_implant, "dental-implant-follow-up"),
    "outpatient": (_outpatient, "post-visit-satisfaction"),
}
WEIGHTS: dict[str, float] = {
    "surgery": 0.20,
    "diabetes": 0.12,
    "hypertension": 0.12,
    "appointment": 0.30,
    "childbirth": 0.06,
    "implant": 0.05,
    "outpatient": 0.15,
}
STORYLINES: list[tuple[float, Story]] = [(WEIGHTS[name], story) for name, (story, _) in STORIES.items()]


def generate(
    patients: int = 1000,
    seed: int = 7,
    start: datetime = DEFAULT_START,
    days: int = 182,
    weights: Mapping[str, float] | None = None,
    behaviour: Behaviour | None = None,
) -> list[Event]:
    """The hospital's clinical events in arrival order (recorded_at, then patient). ``weights``: how common each
    storyline is, by name (those not named keep their weight in `WEIGHTS`); ``behaviour``: who comes back after the
    journeys it covers (None: the storylines' own return visits)."""
    rng = random.Random(seed)
    storylines = _weighted(weights or {})
    stories = [s for _, s in storylines]
    chances = [w for w, _ in storylines]
    out: list[Event] = []
    for number in range(1, patients + 1):
        p = _Patient(random.Random(rng.getrandbits(64)), number, start, days)
        _register(p)
        drawn = p.rng.choices(stories, weights=chances, k=p.rng.choice([1, 1, 2]))
        if behaviour is not None:
            p.behaviour = behaviour.patient(seed, p.id)
            drawn = _one_measured(drawn, p.behaviour)
        for story in drawn:
            story(p)
        _replies(p)
        out.extend(p.events)
    return sorted(out, key=lambda e: (e.recorded_at, e.patient_id, e.event_id))


def _weighted(weights: Mapping[str, float]) -> list[tuple[float, Story]]:
    unknown = sorted(set(weights) - set(STORIES))
    if unknown:
        raise ValueError(f"unknown storylines in weights: {', '.join(unknown)} (known: {', '.join(STORIES)})")
    return [(weights.get(name, WEIGHTS[name]), story) for name, (story, _) in STORIES.items()]


def _one_measured(drawn: list[Story], behaviour: PatientBehaviour) -> list[Story]:
    """A patient who drew a storyline the model covers lives that one alone: another storyline's visits (or a
    second surgery) would fall in its window and the return would no longer be the model's draw alone."""
    journeys = {story: journey for story, journey in STORIES.values()}
    measured = [story for story in drawn if behaviour.covers(journeys[story])]
    return measured[:1] or drawn
