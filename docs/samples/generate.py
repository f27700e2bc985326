"""Regenerate the bundled sample event files: `python docs/samples/generate.py`.

Synthetic patients (no real data), one or two per shipped journey, written as canonical clinical events.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from events import appointments as ap
from events import encounters as en
from events import findings as fi
from events import loyalty as lo
from events import outreach as ou
from events import patient as pa
from events.base import Coding, Event, Source

CST = timezone(timedelta(hours=8))
HERE = Path(__file__).parent


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CST)


def make(cls: type[Event], msg: str, patient: str, when: str, delay_minutes: int = 5, **fields: Any) -> Event:
    occurred = at(when)
    return cls.create(  # type: ignore[no-any-return]
        source=Source(system="his-sample", message_id=msg),
        patient_id=patient,
        occurred_at=occurred,
        recorded_at=occurred + timedelta(minutes=delay_minutes),
        **fields,
    )


def register(patient: str, born: str, sex: str, when: str = "2026-01-02T08:00") -> Event:
    return make(
        pa.PatientRegistered,
        f"reg-{patient}",
        patient,
        when,
        birth_date=born,
        sex=sex,
        timezone="Asia/Shanghai",
        language="zh-CN",
    )


def post_op() -> list[Event]:
    return [
        register("P001", "1958-04-11", "male"),
        make(
            en.EncounterDischarged,
            "adt-a03-1001",
            "P001",
            "2026-03-02T10:00",
            encounter_id="E1001",
            encounter_class="inpatient",
            department="orthopedics",
            clinician="Dr. Li",
            diagnoses=(Coding(system="icd-10", code="M17.11", display="Primary osteoarthritis, right knee"),),
        ),
    ]


def hospital() -> list[Event]:
    events = post_op()
    events += [
        # Post-op whose discharge time was corrected, and who came back for the follow-up visit.
        register("P002", "1971-09-30", "female"),
        make(
            en.EncounterDischarged,
            "adt-a03-1002",
            "P002",
            "2026-03-03T15:00",
            encounter_id="E1002",
            encounter_class="inpatient",
            department="general-surgery",
        ),
        make(
            en.EncounterDischarged,
            "adt-a08-1002",
            "P002",
            "2026-03-04T09:00",
            encounter_id="E1002",
            encounter_class="inpatient",
            department="general-surgery",
        ),
        make(
            ap.AppointmentAttended,
            "siu-1002",
            "P002",
            "2026-03-20T09:30",
            appointment_id="A1002",
            start_at=at("2026-03-20T09:30"),
            department="general-surgery",
        ),
        # Diabetes: diagnosed, keeps the first review, then drops out.
        register("P003", "1965-02-14", "male"),
        make(
            fi.ConditionDiagnosed,
            "dx-1003",
            "P003",
            "2026-03-01T11:00",
            condition_id="C1003",
            code=Coding(system="icd-10", code="E11.9", display="Type 2 diabetes mellitus"),
        ),
        # Hypertension: never answers, no visits.
        register("P004", "1950-07-01", "female"),
        make(
            fi.ConditionDiagnosed,
            "dx-1004",
            "P004",
            "2026-01-05T10:00",
            condition_id="C1004",
            code=Coding(system="icd-10", code="I10", display="Essential hypertension"),
        ),
        # Appointment rescheduled, then attended.
        register("P005", "1988-12-03", "female"),
        make(
            ap.AppointmentBooked,
            "siu-s12-2005",
            "P005",
            "2026-03-10T14:00",
            appointment_id="A2005",
            start_at=at("2026-03-20T09:30"),
            department="cardiology",
            clinician="Dr. Chen",
        ),
        make(
            ap.AppointmentRescheduled,
            "siu-s13-2005",
            "P005",
            "2026-03-16T10:00",
            appointment_id="A2005",
            start_at=at("2026-03-25T15:00"),
            previous_start_at=at("2026-03-20T09:30"),
            department="cardiology",
        ),
        make(
            ap.AppointmentAttended,
            "siu-s26-2005",
            "P005",
            "2026-03-25T15:05",
            appointment_id="A2005",
            start_at=at("2026-03-25T15:00"),
            department="cardiology",
        ),
        # Appointment cancelled.
        register("P006", "1979-05-21", "male"),
        make(
            ap.AppointmentBooked,
            "siu-s12-2006",
            "P006",
            "2026-03-11T09:00",
            appointment_id="A2006",
            start_at=at("2026-03-21T10:00"),
            department="dermatology",
        ),
        make(
            ap.AppointmentCancelled,
            "siu-s15-2006",
            "P006",
            "2026-03-17T16:00",
            appointment_id="A2006",
            start_at=at("2026-03-21T10:00"),
            reason="patient request",
        ),
        # No-show.
        register("P007", "1992-08-08", "male"),
        make(
            ap.AppointmentBooked,
            "siu-s12-2007",
            "P007",
            "2026-03-12T09:00",
            appointment_id="A2007",
            start_at=at("2026-03-23T08:30"),
            department="ophthalmology",
        ),
        make(
            ap.AppointmentNoShow,
            "siu-s26-2007",
            "P007",
            "2026-03-23T12:00",
            appointment_id="A2007",
            start_at=at("2026-03-23T08:30"),
            department="ophthalmology",
        ),
        # Postpartum with a high EPDS score at month 1.
        register("P008", "1994-03-17", "female"),
        make(
            en.EncounterDischarged,
            "adt-a03-3008",
            "P008",
            "2026-02-10T11:00",
            encounter_id="E3008",
            encounter_class="inpatient",
            department="obstetrics",
            diagnoses=(Coding(system="icd-10", code="O80", display="Single spontaneous delivery"),),
        ),
        make(
            fi.QuestionnaireCompleted,
            "qr-3008",
            "P008",
            "2026-03-12T20:15",
            response_id="R3008",
            instrument="epds",
            score=15,
            items={"q10": 0},
        ),
        # Dental implant.
        register("P009", "1969-10-10", "male"),
        make(
            en.ProcedureCompleted,
            "proc-4009",
            "P009",
            "2026-03-05T14:00",
            procedure_id="PR4009",
            code=Coding(system="cdt", code="D6010", display="Endosteal implant"),
            category="dental",
            department="stomatology",
        ),
        # Unhappy outpatient.
        register("P010", "1983-06-06", "female"),
        make(ou.ConsentGranted, "consent-5010", "P010", "2026-01-02T08:05", channel="wechat"),
        make(
            en.EncounterCompleted,
            "adt-5010",
            "P010",
            "2026-03-06T10:30",
            encounter_id="E5010",
            encounter_class="outpatient",
            department="ent",
        ),
        make(
            fi.QuestionnaireCompleted,
            "qr-5010",
            "P010",
            "2026-03-06T21:00",
            response_id="R5010",
            instrument="satisfaction",
            score=4,
        ),
        # Chronic patient who stops coming.
        register("P011", "1955-01-25", "male"),
        make(
            fi.ConditionDiagnosed,
            "dx-6011",
            "P011",
            "2025-03-01T09:00",
            condition_id="C6011",
            code=Coding(system="icd-10", code="I10"),
            delay_minutes=30,
        ),
        make(
            en.EncounterCompleted,
            "adt-6011",
            "P011",
            "2025-03-15T10:00",
            encounter_id="E6011",
            encounter_class="outpatient",
            department="cardiology",
        ),
    ]
    return sorted(events, key=lambda e: e.recorded_at)


def loyalty_year() -> list[Event]:
    """A member's first year (issue 17, docs/loyalty.md): three follow-up visits reach silver, a fourth is cancelled
    and its points taken back, marketing consent on wechat lets the expiry warning (points-expiring) reach them, the
    first batch expires at local midnight, one redemption spends the oldest points first and a second finds too few
    left."""
    visits = [("V2601", "2026-01-15T10:00"), ("V2602", "2026-02-20T10:00"), ("V2604", "2026-04-10T10:00")]
    visits += [("V2605", "2026-05-02T10:00")]
    completed = [
        make(en.EncounterCompleted, f"adt-a03-{eid}", "P100", when, encounter_id=eid, encounter_class="outpatient")
        for eid, when in visits
    ]
    return [
        register("P100", "1971-09-23", "female", when="2026-01-10T09:00"),
        *completed,
        make(
            en.EncounterCancelled, "adt-a11-V2605", "P100", "2026-05-20T10:00", encounter_id="V2605", cancelled="visit"
        ),
        make(
            ou.ConsentGranted, "consent-P100-wechat", "P100", "2026-12-01T10:00", channel="wechat", purpose="marketing"
        ),
        *(
            make(
                lo.PointsRedemptionRequested,
                f"desk-{ref}",
                "P100",
                when,
                delay_minutes=0,
                reward_id="parking-voucher",
                quantity=1,
                ref=ref,
                by="desk-3",
            )
            for ref, when in (("R-0815", "2027-02-05T15:12"), ("R-0816", "2027-02-06T09:30"))
        ),
    ]


def write(name: str, events: list[Event]) -> None:
    path = HERE / name
    path.write_text("".join(e.model_dump_json(exclude_defaults=False) + "\n" for e in events), encoding="utf-8")
    print(f"wrote {path} ({len(events)} events)")


if __name__ == "__main__":
    write("post-op.jsonl", post_op())
    write("hospital.jsonl", hospital())
    write("loyalty-year.jsonl", loyalty_year())
