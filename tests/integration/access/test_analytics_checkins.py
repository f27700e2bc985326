"""analytics.checkin_alerts (engine/access/analytics_7_checkins.sql) on real PostgreSQL, read by an analyst login: a
symptom diary's rising alert and the task it led to. The view shows the patient key, the alert, its statistic and
threshold, the day and whether a task followed; never a patient id, an instance or response id, or a diary's values;
and the analyst reads neither check-in table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from engine.store.application import JourneyStore
from events import journey as jo
from events.base import Event
from tests.builders import at
from tests.integration.access.conftest import Login, World, key_of, projected, record_by_patient, refused, rows
from tests.unit.projections.fold import engine
from tests.unit.projections.test_checkin_series import P, alerted, answered

pytestmark = pytest.mark.integration


def story() -> list[Event]:
    alert = alerted()
    task = engine(
        jo.TaskCreated,
        P,
        at("2027-03-05 20:30"),
        "task-created-1",
        instance_id="i-1",
        journey_id="symptom-diary",
        step_id="doctor",
        next_step_id="diary",
        task_id="t-1",
        queue="respiratory-clinic",
        role="doctor",
        title="Symptom diary trend; review the values",
        priority="high",
        sla_due_at=at("2027-03-06 20:30"),
        evidence=(alert.event_id,),
        facts=("symptom-diary score 2, 3, 3, 5, 6 on 03-01…03-05",),
    )
    return [answered(1, 2, "2027-03-01 20:30", "R1"), alert, task]


@pytest.fixture
def world(careloop_db: str, store: JourneyStore, login: Login) -> Iterator[World]:
    events = story()
    record_by_patient(store, events)
    yield projected(careloop_db, store, login, events)


def test_a_checkin_alert_is_a_row_with_its_statistic_and_whether_a_task_followed(world: World) -> None:
    found = rows(
        world.analyst,
        "SELECT patient_key, journey_id, alert, kind, n_values, statistic, threshold, local_date, task_created "
        "FROM analytics.checkin_alerts",
    )

    assert found == [
        (
            key_of(world, P),
            "symptom-diary",
            "rising",
            "rising",
            5,
            {"tau": 0.948683, "p_value": 0.011489, "sen_slope_per_day": 1.0},
            {"last": 5.0, "alpha": 0.05, "min_slope": 0.5},
            date(2027, 3, 5),
            True,
        )
    ]


@pytest.mark.parametrize("table", ["checkin_series", "checkin_alerts"])
def test_the_analyst_may_not_read_the_check_in_tables(world: World, table: str) -> None:
    assert refused(world.analyst, f"SELECT * FROM {table}")


def test_the_view_shows_no_patient_instance_or_response_id_and_no_diary_value(world: World) -> None:
    seen = repr(rows(world.analyst, "SELECT * FROM analytics.checkin_alerts"))
    secrets = {P, "i-1", "R1", "R2", "[2.0, 3.0", "2027-03-01T"}

    assert [s for s in secrets if s in seen] == []
