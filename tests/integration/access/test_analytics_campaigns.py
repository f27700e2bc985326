"""analytics.campaign_participants and analytics.campaign_attendance (engine/access/analytics_6_campaigns.sql) on
real PostgreSQL, read by an analyst login: a 三伏贴 season with an invited patient who booked and attended two visits
and came back the next season, a holdout patient who attended one, a patient not in the audience. The views show
patient keys, arms and counts; never a patient id, an instance id or the failed conditions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from engine.store.application import JourneyStore
from events.base import Event
from tests.integration.access.conftest import Login, World, key_of, projected, record_by_patient, refused, rows
from tests.unit.projections.test_calendar_campaigns import (
    OTHER,
    SEASON,
    P,
    attended,
    booked,
    item,
    reached,
    split,
    started,
)

pytestmark = pytest.mark.integration

HOLDOUT = "P-holdout"


def story() -> list[Event]:
    holdout = [
        reached(HOLDOUT, 2026, "entered"),
        started(HOLDOUT, 2026),
        split(HOLDOUT, 2026, "holdout"),
        booked(HOLDOUT, 2026),
        attended(HOLDOUT, 2026, "初伏", "2026-07-15 10:00"),
    ]
    next_season = [
        reached(P, 2027, "entered", item(2028, "2028-05-12 09:20", date(2028, 5, 12))),
        started(P, 2027),
        split(P, 2027, "invite"),
        attended(P, 2027, "初伏", "2027-07-20 09:00"),
    ]
    return [*SEASON, *next_season, *holdout, reached(OTHER, 2026, "not_in_audience")]


@pytest.fixture
def world(careloop_db: str, store: JourneyStore, login: Login) -> Iterator[World]:
    events = story()
    record_by_patient(store, events)
    yield projected(careloop_db, store, login, events)


def test_each_season_compares_the_arms_invited_booked_attended_per_visit_and_returned(world: World) -> None:
    found = rows(
        world.analyst,
        "SELECT journey_id, season, arm, holdout, entered, booked, attended, visits, returned_next_season "
        "FROM analytics.campaign_attendance ORDER BY season, arm",
    )

    assert found == [
        ("sanfu-tie", 2026, "holdout", True, 1, 1, 1, {"初伏": 1}, 0),
        ("sanfu-tie", 2026, "invite", False, 1, 1, 1, {"初伏": 1, "中伏": 1}, 1),
        ("sanfu-tie", 2027, "invite", False, 1, 0, 1, {"初伏": 1}, 0),
    ]


def test_each_patient_reached_is_a_row_with_its_key_outcome_and_visits(world: World) -> None:
    found = rows(
        world.analyst,
        "SELECT patient_key, season, outcome, arm, booked, visits_attended, returned_next_season "
        "FROM analytics.campaign_participants ORDER BY season, outcome, arm",
    )

    assert sorted(found, key=repr) == sorted(
        [
            (key_of(world, P), 2026, "entered", "invite", True, 2, True),
            (key_of(world, HOLDOUT), 2026, "entered", "holdout", True, 1, False),
            (key_of(world, OTHER), 2026, "not_in_audience", None, False, 0, False),
            (key_of(world, P), 2027, "entered", "invite", False, 1, False),
            (key_of(world, P), 2028, "scheduled", None, False, 0, False),
        ],
        key=repr,
    )


@pytest.mark.parametrize(
    "table", ["campaign_participants", "campaign_visits", "relationships", "relationship_consents", "household_members"]
)
def test_the_analyst_may_not_read_the_tables_themselves(world: World, table: str) -> None:
    assert refused(world.analyst, f"SELECT * FROM {table}")


def test_the_views_show_no_patient_or_instance_id_and_no_failed_condition(world: World) -> None:
    seen = repr(
        [rows(world.analyst, f"SELECT * FROM analytics.{v}") for v in ("campaign_participants", "campaign_attendance")]
    )
    secrets = {e.patient_id for e in world.events} | {"patient.age gte 3"}
    secrets |= {str(getattr(e, "instance_id", "")) for e in world.events if getattr(e, "instance_id", None)}

    assert {P, HOLDOUT, f"i-{P}-2026"} <= secrets
    assert [s for s in secrets if s in seen] == []
