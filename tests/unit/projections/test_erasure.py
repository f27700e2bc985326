"""patient.erased: every read model deletes the patient's rows, and only theirs (issue 14, item 2).

The erased patient is followed through what leaves rows everywhere (a registration, a visit's survey, a post-op
journey, a missed appointment's rebooking task, the churn flag of a low satisfaction score, a referral code claimed
and refused, a redemption refused for too few points, a finished dental implant course's points, badge and tier, a
caregiver with consent and a family doctor contract, a symptom diary's rising alert, a 三伏贴 season booked and
attended), next to another patient whose rows must stay exactly as they were.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import cache

import pytest

from engine.journeys.catalog import Catalog
from engine.journeys.simulation import Simulation
from engine.language.loader import check_text
from events import findings as fi
from events import households as hh
from events import loyalty as lo
from events import patient as pa
from events import relationships as rs
from events.base import Coding, Event
from events.referral_codes import referral_code
from projections.catalog import PROJECTIONS
from projections.memory import MemoryTables
from projections.ops import Delete, Update, Upsert
from projections.replay import Fold
from projections.sql import statement
from tests.builders import (
    JOURNEYS,
    at,
    attended,
    booked,
    diagnosed,
    discharge,
    event,
    icd10,
    no_show,
    procedure,
    questionnaire,
    registered,
    visit,
)
from tests.unit.projections.fold import fold

ERASED, OTHER = "P001", "P002"
SANFU = "sanfu-tie"  # an appointment service of the sanfu-services value set
ERASED_AT = at("2026-03-26 09:00")


def story(patient: str) -> list[Event]:
    start = at("2026-03-01 09:00")
    appointment = at("2026-03-23 08:30")
    desk = {"ref": f"R-{patient}", "by": "desk-1"}
    unknown = pa.ReferralClaim(code=referral_code(f"X-{patient}"), referrer_patient_id=None)
    return [
        # a referral code no member holds: the claim is refused, and the referral recorded with the refusal
        registered(patient, start, sex="female", referral=unknown, birth_date=date(1975, 4, 1)),
        discharge(
            patient,
            start + timedelta(days=1),
            department="orthopedics",
            encounter_id=f"E-{patient}",
            diagnoses=(icd10("S72.0"),),  # a diagnosis code: visits' encounter_diagnoses
        ),
        diagnosed(patient, start + timedelta(days=1), "M17.1"),  # a condition: visits' conditions
        booked(patient, start + timedelta(days=2), appointment, appointment_id=f"A-{patient}"),
        visit(patient, at("2026-03-06 10:30"), department="ent", encounter_id=f"V-{patient}"),
        questionnaire(patient, at("2026-03-07 10:00"), "satisfaction", score=1),
        # the loyalty programme: a redemption refused for too few points, and an implant course that finishes three
        # months later (its points, the health-guardian badge, silver), after the erasure of the patient erased
        event(lo.PointsRedemptionRequested, patient, at("2026-03-08 10:00"), reward_id="parking-voucher", **desk),
        procedure(patient, at("2026-03-09 14:00"), Coding(system="cdt", code="D6010"), procedure_id=f"PR-{patient}"),
        # a symptom diary after a respiratory stay whose scores rise: checkin_series, checkin_alerts and a task with
        # the alert as evidence (in time order: an event arriving after a later one is applied late)
        discharge(patient, at("2026-03-10 10:00"), department="respiratory", encounter_id=f"R-{patient}"),
        *(
            event(
                fi.QuestionnaireCompleted,
                patient,
                at(f"2026-03-{day} 20:30"),
                response_id=f"SD-{day}",
                instrument="symptom-diary",
                score=float(v),
                items={"score": v},
            )
            for day, v in zip((10, 11, 12, 13, 14), (2, 3, 4, 5, 6), strict=True)
        ),
        no_show(patient, at("2026-03-23 12:00"), appointment, appointment_id=f"A-{patient}"),
        # a relative with separate consent, and a family doctor contract: relationships and households
        event(
            rs.RelationshipRecorded,
            patient,
            at("2026-03-02 09:00"),
            relation_id=f"rel-{patient}",
            role="caregiver",
            person=rs.Person(name="李明", contact=pa.Contact(phone="+8613900000000")),
            household_id=f"hh-{patient}",
        ),
        event(
            rs.RelationshipConsentGranted,
            patient,
            at("2026-03-02 09:05"),
            relation_id=f"rel-{patient}",
            purposes=("care",),
            information=("appointments",),
            granted_by="patient",
        ),
        event(
            hh.FamilyContractSigned,
            patient,
            at("2026-03-03 09:00"),
            contract_id=f"FDC-{patient}",
            household_id=f"hh-{patient}",
            role="holder",
            team="team-1",
            starts_on=date(2026, 3, 1),
            ends_on=date(2027, 2, 28),
        ),
        # asthma: the 三伏贴 campaign reaches them on 2026-05-15 (both in its invite arm); they book and come on 初伏
        # (calendar_campaigns), after the erasure of the patient erased
        diagnosed(patient, at("2026-03-01 09:30"), "J45.9"),
        booked(patient, at("2026-05-20 10:00"), at("2026-07-15 09:00"), appointment_id=f"S-{patient}", service=SANFU),
        attended(patient, at("2026-07-15 09:20"), f"S-{patient}", at("2026-07-15 09:00"), service=SANFU),
    ]


def erasure(patient: str) -> pa.PatientErased:
    return event(pa.PatientErased, patient, ERASED_AT, reason="request", requested_by="staff-3c9e", key_epoch=1)


STORIES = [*story(ERASED), *story(OTHER)]  # built once: each build gets new message ids


# A calendar campaign of the story's own beside the shipped journeys (calendar_campaigns' rows: the season reached,
# the booking, the visit attended). No working day move: its dates do not depend on the installed holiday calendar.
CAMPAIGN = """\
  - id: erasure-story-campaign
    version: 1
    name: A 三伏贴-like campaign for the erasure story
    entry:
      calendar: {rule: {fu: 初伏}, offset: -2mo, at: "09:00"}
      when: [{field: patient.age, gte: 3}]
    steps:
      - id: await-booking
        wait_for:
          events: [{event: appointment.booked, when: [{field: event.service, eq: sanfu-tie}], goto: visit}]
          timeout: 60d
          on_timeout: end
      - id: visit
        wait_for:
          events: [{event: appointment.attended, when: [{field: event.service, eq: sanfu-tie}], goto: attended}]
          timeout: 70d
          on_timeout: end
      - id: attended
        attended: {visit: 初伏}
"""


@cache
def story_catalog() -> Catalog:
    text = JOURNEYS.read_text(encoding="utf-8").replace("\ntemplates:\n", "\n" + CAMPAIGN + "\ntemplates:\n", 1)
    found, problems = check_text(text, "journeys.yaml")
    assert found is not None, problems
    return found


def history(*, erase: bool) -> list[Event]:
    sim = Simulation(story_catalog())
    sim.feed(STORIES)
    sim.run_until(ERASED_AT - timedelta(minutes=1))
    if erase:
        sim.feed([erasure(ERASED)])
    sim.run_until(at("2026-07-20 00:00"))
    return [*sim.recorded[ERASED], *sim.recorded[OTHER]]


def rows_of(tables: MemoryTables, patient: str) -> dict[str, list[dict[str, object]]]:
    return {t: [r for r in tables.rows(t) if r.get("patient_id") == patient] for t in tables.tables}


def every_table() -> list[str]:
    return [t for p in PROJECTIONS for t in p.tables]


def test_every_read_model_table_has_a_patient_id_to_delete_by():
    for projection in PROJECTIONS:
        ddl = projection.schema_sql()
        for table in projection.tables:
            created = re.search(rf"CREATE TABLE IF NOT EXISTS {table} \((.*?)\n\);", ddl, re.S)
            assert created is not None, f"{projection.name}: no CREATE TABLE for {table}"
            assert re.search(r"^\s+patient_id\s+text", created.group(1), re.M), f"{table} has no patient_id column"


def test_before_the_erasure_the_patient_has_rows_in_every_read_model():
    tables = fold(history(erase=False))

    empty = [t for t, rows in rows_of(tables, ERASED).items() if not rows]
    assert set(tables.tables) == set(every_table())
    assert empty == [], "the story should leave rows in every table, or the erasure test proves nothing there"


def test_the_erasure_deletes_the_patient_s_rows_from_every_read_model():
    tables = fold(history(erase=True))

    assert {t: rows for t, rows in rows_of(tables, ERASED).items() if rows} == {}


def test_the_other_patient_s_rows_are_untouched_by_the_erasure():
    kept = rows_of(fold(history(erase=True)), OTHER)
    before = rows_of(fold(history(erase=False)), OTHER)

    assert without_seq(kept) == without_seq(before)  # seq: a row's place in the log, which has fewer events
    assert all(kept[t] for t in every_table())


def without_seq(tables: dict[str, list[dict[str, object]]]) -> dict[str, list[dict[str, object]]]:
    return {t: [{c: v for c, v in r.items() if c != "seq"} for r in rows] for t, rows in tables.items()}


def test_a_page_applied_again_after_the_erasure_changes_nothing():
    events = history(erase=True)
    once = fold(events)
    twice = fold(events)
    for seq, e in enumerate(events, start=1):  # the same positions again, as a runner after a crash would
        for projection in PROJECTIONS:
            twice.apply(projection.ops(e, seq))

    assert {t: once.rows(t) for t in once.tables} == {t: twice.rows(t) for t in twice.tables}


# referrals keeps the other side's row with the erased side NULL: its own tests (test_referrals.py) hold it to that
DELETING = [p for p in PROJECTIONS if p.forget is None]


def test_only_the_referrals_forget_an_erased_patient_otherwise_than_by_deleting():
    assert [p.name for p in PROJECTIONS if p not in DELETING] == ["referrals"]


@pytest.mark.parametrize("projection", DELETING, ids=lambda p: p.name)
def test_each_projection_maps_the_erasure_to_a_delete_of_the_patient_in_each_of_its_tables(projection):
    assert list(projection.ops(erasure(ERASED), 7)) == [Delete(t, {"patient_id": ERASED}) for t in projection.tables]


def test_a_delete_is_one_parameterised_statement():
    query, params = statement(Delete("reminder_queue", {"patient_id": ERASED}))

    assert (query.decode(), params) == ('DELETE FROM "reminder_queue" WHERE "patient_id" = %s', (ERASED,))


def test_the_rebuild_fold_deletes_as_postgresql_does_by_key_and_by_other_columns():
    ops = [
        Upsert("t", ("k",), {"k": "a", "patient_id": ERASED, "status": "open"}),
        Upsert("t", ("k",), {"k": "b", "patient_id": OTHER, "status": "open"}),
        Update("t", {"status": "sent"}, {"patient_id": ERASED}),  # builds an index on patient_id
        Upsert("t", ("k",), {"k": "c", "patient_id": ERASED, "status": "open"}),
        Delete("t", {"patient_id": ERASED}),
        Update("t", {"status": "late"}, {"patient_id": ERASED}),  # finds nothing: the index forgot them
        Upsert("t", ("k",), {"k": "d", "patient_id": OTHER, "status": "open"}),
        Delete("t", {"k": "d"}),
        Delete("t", {"k": "gone"}),
    ]
    folded = Fold({})
    folded.apply(ops)
    memory = MemoryTables().apply(ops)

    assert (
        list(folded.tables["t"].rows.values())
        == memory.rows("t")
        == [{"k": "b", "patient_id": OTHER, "status": "open"}]
    )
