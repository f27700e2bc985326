"""calendar_campaigns: per campaign, season and patient, what was scheduled, what happened when the date came, the
split's arm, the booking and each visit attended; a new schedule replaces the rows still to come; erasure and a page
applied twice."""

from __future__ import annotations

from datetime import date

from events import calendar as ca
from events import journey as jo
from events.patient import PatientErased
from projections.calendar_campaigns.projection import PROJECTION
from projections.memory import MemoryTables
from tests.builders import at, event
from tests.unit.projections.fold import column, engine

P, OTHER = "P-sanfu", "P-other"
JOURNEY = "sanfu-tie"


def item(season: int, due: str | None, occurrence: date, held: str | None = None) -> ca.CalendarItem:
    return ca.CalendarItem(
        journey_id=JOURNEY,
        version=1,
        season=season,
        occurrence=occurrence,
        due_at=at(due) if due else None,
        held_reason=held,
    )


def scheduled(patient: str, when: str, *items: ca.CalendarItem, n: int = 0) -> ca.CalendarScheduled:
    return engine(
        ca.CalendarScheduled, patient, at(when), f"{patient}-scheduled-{n}", items=items, calendar_hash="h1", reason="x"
    )


def reached(patient: str, season: int, outcome: str, nxt: ca.CalendarItem | None = None) -> ca.CalendarReached:
    return engine(
        ca.CalendarReached,
        patient,
        at(f"{season}-05-15 09:37"),
        f"{patient}-reached-{season}",
        journey_id=JOURNEY,
        journey_version=1,
        rule="初伏 -2mo 09:00",
        season=season,
        occurrence=date(season, 5, 15),
        scheduled_for=at(f"{season}-05-15 09:37"),
        outcome=outcome,
        failed=("patient.age gte 3",) if outcome == "not_in_audience" else (),
        next=nxt,
    )


def started(patient: str, season: int) -> jo.JourneyStarted:
    entry = {"type": "calendar.reached", "event_id": f"{patient}-reached-{season}", "season": season}
    return engine(
        jo.JourneyStarted,
        patient,
        at(f"{season}-05-15 09:37"),
        f"{patient}-started-{season}",
        instance_id=f"i-{patient}-{season}",
        journey_id=JOURNEY,
        step_id=None,
        next_step_id="arm",
        journey_version=1,
        content_hash="c",
        key=str(season),
        entry_event_id=entry["event_id"],
        entry=entry,
    )


def split(patient: str, season: int, arm: str) -> jo.BranchTaken:
    return engine(
        jo.BranchTaken,
        patient,
        at(f"{season}-05-15 09:37"),
        f"{patient}-split-{season}",
        instance_id=f"i-{patient}-{season}",
        journey_id=JOURNEY,
        step_id="arm",
        next_step_id="returning",
        branch=arm,
        holdout=arm == "holdout",
        split=jo.SplitDraw(salt="sanfu-2027", weights={"invite": 90, "holdout": 10}, bucket=3),
    )


def booked(patient: str, season: int) -> jo.EventMatched:
    return engine(
        jo.EventMatched,
        patient,
        at(f"{season}-05-20 10:00"),
        f"{patient}-booked-{season}",
        instance_id=f"i-{patient}-{season}",
        journey_id=JOURNEY,
        step_id="await-booking",
        next_step_id="eve-1",
        matched_event_id="appt-1",
        matched_type="appointment.booked",
        matched={"type": "appointment.booked"},
    )


def attended(patient: str, season: int, visit: str, when: str) -> ca.CampaignAttended:
    return engine(
        ca.CampaignAttended,
        patient,
        at(when),
        f"{patient}-attended-{season}-{visit}",
        instance_id=f"i-{patient}-{season}",
        journey_id=JOURNEY,
        step_id="attended-1",
        next_step_id="eve-2",
        season=season,
        visit=visit,
        matched_event_id=f"att-{visit}",
    )


def fold(events) -> MemoryTables:
    tables = MemoryTables()
    for seq, e in enumerate(events, start=1):
        tables.apply(PROJECTION.ops(e, seq))
    return tables


SEASON = [
    scheduled(P, "2026-01-10 09:00", item(2026, "2026-05-15 09:37", date(2026, 5, 15))),
    reached(P, 2026, "entered", item(2027, None, date(2027, 5, 20), held="working days of 2027 unknown")),
    started(P, 2026),
    split(P, 2026, "invite"),
    booked(P, 2026),
    attended(P, 2026, "初伏", "2026-07-15 09:00"),
    attended(P, 2026, "中伏", "2026-07-25 09:00"),
]


def test_a_season_is_one_row_from_the_schedule_to_each_visit_attended():
    tables = fold(SEASON)

    rows = column(tables.rows("campaign_participants"), "season", "outcome", "instance_id", "arm", "holdout")
    assert rows == [(2026, "entered", f"i-{P}-2026", "invite", False), (2027, "held", None, None, None)]
    (season,) = [r for r in tables.rows("campaign_participants") if r["season"] == 2026]
    assert (season["booked_at"], season["last_attended_at"]) == (at("2026-05-20 10:00"), at("2026-07-25 09:00"))
    assert column(tables.rows("campaign_visits"), "visit", "attended_at") == [
        ("中伏", at("2026-07-25 09:00")),
        ("初伏", at("2026-07-15 09:00")),
    ]


def test_a_new_schedule_replaces_the_rows_still_to_come_and_keeps_the_seasons_reached():
    tables = fold([*SEASON, scheduled(P, "2026-11-30 09:00", item(2027, "2027-05-20 09:12", date(2027, 5, 20)), n=1)])

    assert column(tables.rows("campaign_participants"), "season", "outcome", "scheduled_for", "held_reason") == [
        (2026, "entered", at("2026-05-15 09:37"), None),
        (2027, "scheduled", at("2027-05-20 09:12"), None),
    ]


def test_a_patient_not_in_the_audience_is_a_row_with_the_conditions_that_failed():
    tables = fold([reached(OTHER, 2026, "not_in_audience")])

    (row,) = tables.rows("campaign_participants")
    assert (row["outcome"], row["failed"], row.get("instance_id")) == ("not_in_audience", '["patient.age gte 3"]', None)


def test_erasure_deletes_the_patients_rows_and_only_theirs():
    erased = event(PatientErased, P, at("2026-08-01 09:00"), reason="request", requested_by="dpo", key_epoch=1)

    tables = fold([*SEASON, reached(OTHER, 2026, "not_in_audience"), erased])

    assert column(tables.rows("campaign_participants"), "patient_id") == [(OTHER,)]
    assert tables.rows("campaign_visits") == []


def test_a_page_applied_twice_changes_nothing():
    once, twice = fold(SEASON), fold(SEASON)
    for seq, e in enumerate(SEASON, start=1):
        twice.apply(PROJECTION.ops(e, seq))

    assert {t: once.rows(t) for t in once.tables} == {t: twice.rows(t) for t in twice.tables}
