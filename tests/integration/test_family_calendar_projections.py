"""The issue-18 read models on real PostgreSQL (relationships, households, calendar_campaigns, checkin_series): a
story's events stored in the journey store and followed page by page. The tables hold what the pure mappings fold to
in memory, a page applied again changes nothing, a rebuild gives the same rows, and erasing a patient deletes their
rows and only theirs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from itertools import groupby
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from engine.store.application import JourneyStore
from events import patient as pa
from events import relationships as rs
from events.base import Event
from projections.calendar_campaigns.projection import PROJECTION as CALENDAR_CAMPAIGNS
from projections.checkin_series.projection import PROJECTION as CHECKIN_SERIES
from projections.households.projection import PROJECTION as HOUSEHOLDS
from projections.memory import MemoryTables
from projections.relationships.projection import PROJECTION as RELATIONSHIPS
from projections.runner import Runner
from projections.source import StoreSource
from projections.sql import apply
from tests.builders import at, event
from tests.unit.projections import test_calendar_campaigns as campaign
from tests.unit.projections import test_checkin_series as diary
from tests.unit.projections.test_relationships import CHILD, FATHER, MOTHER, OTHER, granted, recorded, signed, withdrawn

pytestmark = pytest.mark.integration

PROJECTIONS = (RELATIONSHIPS, HOUSEHOLDS, CALENDAR_CAMPAIGNS, CHECKIN_SERIES)
TABLES = tuple(t for p in PROJECTIONS for t in p.tables)


def story() -> list[Event]:
    return [
        recorded(MOTHER, "guardian", "2027-01-05 09:00", legal_guardian=True, since=date(2026, 5, 1)),
        recorded(FATHER, "parent", "2027-01-05 09:01"),
        granted(MOTHER, "2027-01-05 09:05", "vaccinations", "appointments"),
        granted(FATHER, "2027-01-05 09:06", "vaccinations", delivery="instead"),
        withdrawn(FATHER, "2027-02-20 10:14", "vaccinations"),
        event(rs.RelationshipEnded, CHILD, at("2027-03-01 09:00"), relation_id=FATHER, reason="source_ended"),
        signed(CHILD, "member", "2027-01-02 09:00"),
        recorded("rel-other", "spouse", "2027-01-05 09:00", patient=OTHER),
        signed(OTHER, "holder", "2027-01-02 09:00"),
        # a 三伏贴 season and a symptom diary of the same child, and another patient's season
        *[e.model_copy(update={"patient_id": CHILD}) for e in campaign.SEASON],
        campaign.reached(OTHER, 2026, "not_in_audience"),
        diary.answered(1, 2, "2027-03-01 20:30", "R1", patient=CHILD),
        diary.answered(1, 3, "2027-03-01 21:30", "R1b", patient=CHILD),
        diary.missed(2, "2027-03-02 20:00", patient=CHILD),
        diary.alerted(patient=CHILD),
    ]


def store_events(store: JourneyStore, events: list[Event]) -> None:
    for patient, run in groupby(events, key=lambda e: e.patient_id):
        aggregate = store.load([patient])[patient]
        aggregate.record(list(run))
        store.save(aggregate)


@pytest.fixture
def followed(database_url: str, store: JourneyStore) -> Iterator[Runner]:
    store_events(store, story())
    with Runner(database_url, StoreSource(store), PROJECTIONS, 3) as runner:
        runner.setup()
        runner.catch_up()
        yield runner


def dump(url: str) -> dict[str, list[dict[str, Any]]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return {
            t: conn.execute(sql.SQL("SELECT * FROM {t} ORDER BY {t}::text").format(t=sql.Identifier(t))).fetchall()
            for t in TABLES
        }


def in_memory(store: JourneyStore) -> MemoryTables:
    memory = MemoryTables()
    for seq, e in StoreSource(store).read(0, 100_000).events:
        for projection in PROJECTIONS:
            memory.apply(projection.ops(e, seq))
    return memory


def test_the_tables_hold_what_the_mappings_fold_to(followed: Runner, store: JourneyStore, database_url: str) -> None:
    memory, stored = in_memory(store), dump(database_url)

    for table in TABLES:
        keys = memory.keys[table]
        found = {tuple(r[k] for k in keys): {c: v for c, v in r.items() if v is not None} for r in stored[table]}
        assert found == {k: {c: v for c, v in r.items() if v is not None} for k, r in memory.tables[table].items()}
    assert {(r["relation_id"], r["active"]) for r in stored["relationships"]} == {
        (MOTHER, True),
        (FATHER, False),
        ("rel-other", True),
    }
    assert {(r["relation_id"], r["information"]) for r in stored["relationship_consents"]} == {
        (MOTHER, "vaccinations"),
        (MOTHER, "appointments"),
    }


def test_a_rebuild_and_a_page_applied_again_give_the_same_rows(
    followed: Runner, store: JourneyStore, database_url: str
) -> None:
    before = dump(database_url)
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        for seq, e in StoreSource(store).read(0, 100_000).events:  # every page again, as after a crash
            for projection in PROJECTIONS:
                apply(cur, projection.ops(e, seq))
    assert dump(database_url) == before

    followed.rebuild(progress=False)
    assert dump(database_url) == before


def test_erasing_a_patient_deletes_their_rows_and_only_theirs(
    followed: Runner, store: JourneyStore, database_url: str
) -> None:
    erased = event(pa.PatientErased, CHILD, at("2027-04-01 09:00"), reason="request", requested_by="dpo", key_epoch=1)
    store_events(store, [erased])
    followed.catch_up()

    stored = dump(database_url)
    assert {t: {r["patient_id"] for r in rows} for t, rows in stored.items()} == {
        "relationships": {OTHER},
        "relationship_consents": set(),
        "household_members": {OTHER},
        "campaign_participants": {OTHER},
        "campaign_visits": set(),
        "checkin_series": set(),
        "checkin_alerts": set(),
    }
