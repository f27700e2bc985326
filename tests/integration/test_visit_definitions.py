"""followup.v1 and revisit.v1 (docs/analysts.md "Definitions") on constructed histories, on real PostgreSQL.

Each patient below is one case a follow-up or revisit rate gets wrong when written naively: a visit the same day
as the discharge, a readmission within 30 days (the last discharge of the chain is the index), a death, a
transfer, a window not closed yet, an appointment and an encounter of one visit. Their events go through the
projections into a database set up as `careloop roles apply` and the worker's deployment set it up, and the
analytics views are read as an analyst reads them (SET ROLE careloop_analyst). The hospital's day is Shanghai's:
a discharge at 07:00 and a visit at 20:00 are the same day there, and different days in UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from engine.access import roles
from engine.embedded import EmbeddedPostgres
from engine.journeys.simulation import Simulation
from engine.language.loader import load_catalog
from engine.plumbing.clock import set_database_clock
from engine.store.definitions import deploy, value_set_codes
from events import encounters as en
from events import tasks as ta
from events.base import Event
from projections import sql as statements
from projections.catalog import PROJECTIONS
from tests.builders import (
    JOURNEYS,
    admitted,
    at,
    attended,
    catalog,
    deceased,
    diagnosed,
    discharge,
    event,
    icd10,
    messages,
    registered,
    replied,
    simulation,
    tasks,
    visit,
)
from tests.integration.scratch_database import scratch_database

pytestmark = pytest.mark.integration

AS_OF = at("2026-04-20 12:00")


def stay(patient: str, encounter_id: str, admitted_at: datetime, discharged_at: datetime, **fields: Any) -> list[Event]:
    return [
        admitted(patient, admitted_at, encounter_id=encounter_id, department=fields.get("department", "orthopedics")),
        discharge(patient, discharged_at, encounter_id=encounter_id, **fields),
    ]


def post_op(patient: str, answered_at: datetime, answer: Callable[[Simulation], Event]) -> list[Event]:
    """A surgical stay the post-op journey follows (messages on days 3 and 7, a call task on day 30 without a
    visit), and the patient's answer to it at ``answered_at``: what the engine decided is in the history too."""
    sim = simulation(*stay(patient, "S1", at("2026-02-25 09:00"), at("2026-03-01 10:00")))
    sim.run_until(answered_at)
    sim.feed([answer(sim)])
    sim.run_until(at("2026-04-02 12:00"))
    return sim.recorded[patient]


def reply(patient: str) -> Callable[[Simulation], Event]:
    return lambda sim: replied(patient, at("2026-03-04 10:30"), message_id=messages(sim, patient)[0].message_id)


def call(patient: str) -> Callable[[Simulation], Event]:
    def closed(sim: Simulation) -> Event:
        [task] = tasks(sim, patient)
        fields = {"task_id": task.task_id, "outcome": "reached", "by": "nurse-li", "reached_at": at("2026-03-31 15:00")}
        return event(ta.TaskClosed, patient, at("2026-03-31 15:05"), **fields)

    return closed


HISTORIES: dict[str, list[Event]] = {
    # Not seen after the surgery, but contacted: a reply to the day-3 message, or the nurse's call on day 30.
    "P-replied": post_op("P-replied", at("2026-03-04 10:30"), reply("P-replied")),
    "P-called": post_op("P-called", at("2026-03-31 15:05"), call("P-called")),
    # Discharged at 07:00, seen at 20:00 the same (Shanghai) day, then again four days later.
    "P-same-day": [
        *stay("P-same-day", "S1", at("2026-03-01 09:00"), at("2026-03-05 07:00")),
        attended("P-same-day", at("2026-03-05 20:00"), appointment_id="A1", department="orthopedics"),
        visit("P-same-day", at("2026-03-09 10:00"), encounter_id="V1", department="orthopedics"),
    ],
    # Readmitted 19 days after the first discharge: the second discharge is the index, followed up 3 days later.
    "P-readmitted": [
        *stay("P-readmitted", "S1", at("2026-02-20 09:00"), at("2026-03-01 10:00")),
        *stay("P-readmitted", "S2", at("2026-03-20 09:00"), at("2026-03-25 10:00")),
        visit("P-readmitted", at("2026-03-28 10:00"), encounter_id="V1", department="orthopedics"),
    ],
    # Readmitted on day 30 (still within) and, another patient, on day 31 (after the window: two indexes).
    "P-day-30": [
        *stay("P-day-30", "S1", at("2026-02-01 09:00"), at("2026-02-05 18:00")),
        *stay("P-day-30", "S2", at("2026-03-07 08:00"), at("2026-03-10 10:00")),
    ],
    "P-day-31": [
        *stay("P-day-31", "S1", at("2026-02-01 09:00"), at("2026-02-05 18:00")),
        *stay("P-day-31", "S2", at("2026-03-08 08:00"), at("2026-03-10 10:00")),
    ],
    # Died 12 days after going home (a visit before does not keep the episode in); another died in hospital.
    "P-died": [
        *stay("P-died", "S1", at("2026-03-01 09:00"), at("2026-03-03 10:00")),
        visit("P-died", at("2026-03-06 10:00"), encounter_id="V1", department="orthopedics"),
        deceased("P-died", at("2026-03-15 04:00")),
    ],
    "P-expired": [*stay("P-expired", "S1", at("2026-03-01 09:00"), at("2026-03-03 10:00"), disposition="expired")],
    "P-transfer": [*stay("P-transfer", "S1", at("2026-03-01 09:00"), at("2026-03-03 10:00"), disposition="transfer")],
    # Discharged 10 days before as_of and not seen since: its 30-day window is still open.
    "P-open": [*stay("P-open", "S1", at("2026-04-05 09:00"), at("2026-04-10 10:00"), disposition="home")],
    # An appointment attended and the encounter of the same visit (same day, same department): one visit; the
    # same day in another department is another visit. The diabetes code comes from a condition diagnosed before.
    "P-duplicate": [
        registered("P-duplicate", at("2026-01-02 09:00"), birth_date=datetime(1961, 5, 2).date(), sex="female"),
        diagnosed("P-duplicate", at("2026-01-10 09:00"), "E11.9"),
        attended("P-duplicate", at("2026-03-10 09:00"), appointment_id="A1", department="endocrinology"),
        visit("P-duplicate", at("2026-03-10 10:30"), encounter_id="V1", department="endocrinology"),
        visit("P-duplicate", at("2026-03-10 15:00"), encounter_id="V2", department="ent", diagnoses=(icd10("J30"),)),
        visit("P-duplicate", at("2026-04-02 10:00"), encounter_id="V3", department="endocrinology"),
    ],
    # A stay cancelled (entered in error) is no episode and no visit.
    "P-cancelled": [
        *stay("P-cancelled", "S1", at("2026-03-01 09:00"), at("2026-03-03 10:00")),
        event(en.EncounterCancelled, "P-cancelled", at("2026-03-03 12:00"), encounter_id="S1", cancelled="visit"),
    ],
}


@dataclass(frozen=True)
class Views:
    url: str

    def key(self, patient: str) -> str:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                "SELECT analytics.patient_key(%s, key) FROM careloop_analytics_key", (patient,)
            ).fetchone()
        assert row is not None
        return str(row[0])

    def rows(self, query: str, *params: Any) -> list[dict[str, Any]]:
        """As an analyst reads them: the careloop_analyst role, in UTC (the views give the hospital's days)."""
        with psycopg.connect(self.url, row_factory=dict_row, options="-c TimeZone=UTC") as conn:
            conn.execute("SET ROLE careloop_analyst")
            return conn.execute(query.encode(), params).fetchall()

    def of(self, view: str, patient: str, order: str) -> list[dict[str, Any]]:
        return self.rows(f"SELECT * FROM analytics.{view} WHERE patient_key = %s ORDER BY {order}", self.key(patient))


@pytest.fixture(scope="module")
def views(postgres: EmbeddedPostgres) -> Iterator[Views]:
    with scratch_database(postgres.url, "it_visits") as url:
        roles.apply(url)
        deploy(url, catalog())
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            set_database_clock(conn, AS_OF)
            seq = 0
            for history in HISTORIES.values():
                for e in history:
                    seq += 1
                    for projection in PROJECTIONS:
                        statements.apply(cur, projection.ops(e, seq))
        yield Views(url)


def episodes(views: Views, patient: str) -> list[tuple[Any, ...]]:
    return [
        (r["discharge_date"].isoformat(), r["excluded"], r["first_visit_at"])
        for r in views.of("followup_episodes", patient, "discharged_at")
    ]


# --- followup.v1 ---------------------------------------------------------------------------------------------------


def test_a_visit_the_same_local_day_as_the_discharge_is_not_the_follow_up(views: Views) -> None:
    assert episodes(views, "P-same-day") == [("2026-03-05", None, at("2026-03-09 10:00"))]


def test_a_readmission_within_30_days_excludes_the_first_discharge_and_makes_the_last_the_index(views: Views) -> None:
    assert episodes(views, "P-readmitted") == [
        ("2026-03-01", "readmitted", at("2026-03-25 10:00")),  # its first later visit is the second stay: excluded
        ("2026-03-25", None, at("2026-03-28 10:00")),
    ]


def test_a_readmission_on_day_30_is_within_the_window_and_on_day_31_is_not(views: Views) -> None:
    assert [e[1] for e in episodes(views, "P-day-30")] == ["readmitted", None]
    assert [e[1] for e in episodes(views, "P-day-31")] == [None, None]


def test_a_death_within_30_days_or_in_hospital_excludes_the_episode(views: Views) -> None:
    assert [e[1] for e in episodes(views, "P-died")] == ["died"]
    assert [e[1] for e in episodes(views, "P-expired")] == ["died"]


def test_a_transfer_to_another_facility_excludes_the_episode(views: Views) -> None:
    assert [e[1] for e in episodes(views, "P-transfer")] == ["transfer"]


def test_a_cancelled_stay_is_no_episode_and_no_visit(views: Views) -> None:
    assert views.of("followup_episodes", "P-cancelled", "discharged_at") == []
    assert views.of("visits", "P-cancelled", "visit_at") == []
    assert [r["cancelled"] for r in views.of("encounters", "P-cancelled", "admitted_at")] == [True]


def test_the_windows_close_at_the_end_of_the_7th_and_30th_local_day_after_the_discharge(views: Views) -> None:
    [row] = views.of("followup_episodes", "P-same-day", "discharged_at")

    assert (row["window7_closes"], row["window30_closes"]) == (at("2026-03-13 00:00"), at("2026-04-05 00:00"))


def test_an_episode_whose_window_has_not_closed_is_left_out_of_the_rate_not_counted_as_a_miss(views: Views) -> None:
    rate = """
        SELECT count(*) FILTER (WHERE e.window30_closes > a.as_of) AS open,
               count(*) FILTER (WHERE e.window30_closes <= a.as_of) AS episodes,
               count(*) FILTER (WHERE e.window30_closes <= a.as_of AND e.first_visit_at < e.window30_closes) AS followed
        FROM analytics.followup_episodes e CROSS JOIN analytics.as_of a
        WHERE e.excluded IS NULL AND e.patient_key = %s
    """
    [[open_row], [closed_row]] = [views.rows(rate, views.key(p)) for p in ("P-open", "P-same-day")]

    assert open_row == {"open": 1, "episodes": 0, "followed": 0}
    assert closed_row == {"open": 0, "episodes": 1, "followed": 1}


def test_a_reply_to_the_stay_s_journey_or_a_call_that_reached_the_patient_is_a_contact_not_a_visit(
    views: Views,
) -> None:
    contacts = {
        p: [(r["first_visit_at"], r["first_contact_at"]) for r in views.of("followup_episodes", p, "discharged_at")]
        for p in ("P-replied", "P-called", "P-readmitted")
    }

    assert contacts == {
        "P-replied": [(None, at("2026-03-04 10:30"))],
        "P-called": [(None, at("2026-03-31 15:00"))],  # when the nurse reached them, not when the task was closed
        "P-readmitted": [(at("2026-03-25 10:00"),) * 2, (at("2026-03-28 10:00"),) * 2],  # a visit is a contact
    }


# --- visits and revisit.v1 -----------------------------------------------------------------------------------------


def test_an_attended_appointment_and_the_encounter_of_the_same_day_and_department_are_one_visit(views: Views) -> None:
    rows = views.of("visits", "P-duplicate", "visit_at, department")

    assert [(r["kind"], r["visit_at"], r["department"], r["diagnosis_groups"]) for r in rows] == [
        ("encounter", at("2026-03-10 09:00"), "endocrinology", ["chronic-conditions", "diabetes"]),
        ("encounter", at("2026-03-10 15:00"), "ent", ["chronic-conditions", "diabetes"]),
        ("encounter", at("2026-04-02 10:00"), "endocrinology", ["chronic-conditions", "diabetes"]),
    ]
    assert [(r["age_band"], r["sex"]) for r in rows] == [("60-69", "female")] * 3
    assert len({r["visit_key"] for r in rows}) == 3


def test_the_next_visit_of_an_index_is_on_a_later_local_day_and_the_same_department_one_apart(views: Views) -> None:
    rows = views.of("revisit_index", "P-duplicate", "index_at")

    assert [(r["index_at"], r["next_visit_at"], r["next_visit_date"], r["next_same_department_at"]) for r in rows] == [
        (at("2026-03-10 09:00"), at("2026-04-02 10:00"), at("2026-04-02 10:00").date(), at("2026-04-02 10:00")),
        (at("2026-03-10 15:00"), at("2026-04-02 10:00"), at("2026-04-02 10:00").date(), None),
        (at("2026-04-02 10:00"), None, None, None),
    ]


def test_a_same_day_visit_is_not_the_return_of_an_index_visit(views: Views) -> None:
    rows = views.of("revisit_index", "P-same-day", "index_at")

    assert [(r["index_date"].isoformat(), r["next_visit_at"]) for r in rows] == [
        ("2026-03-05", at("2026-03-09 10:00")),  # the stay and the appointment at 20:00: one day, one department
        ("2026-03-09", None),
    ]


def test_the_analyst_sees_no_patient_id_and_no_encounter_or_appointment_id(views: Views) -> None:
    text = " ".join(
        str(views.rows(f"SELECT * FROM analytics.{v}"))
        for v in ("encounters", "appointments", "diagnoses", "visits", "followup_episodes", "revisit_index")
    )

    assert "P-duplicate" not in text and "'V1'" not in text and "'A1'" not in text
    assert "vk-" in text and "ak-" in text


def test_the_analyst_reads_the_hospital_day_and_as_of_but_not_the_owner_only_views(views: Views) -> None:
    [row] = views.rows(
        "SELECT analytics.local_date(timestamptz '2026-03-04 23:30+00') AS day, as_of FROM analytics.as_of"
    )

    assert (row["day"].isoformat(), row["as_of"]) == ("2026-03-05", AS_OF)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        views.rows("SELECT * FROM careloop_analytics_visits")


# --- what the deployment records -----------------------------------------------------------------------------------


def test_each_deploy_replaces_the_value_sets_and_the_time_zone_the_views_read(
    database_url: str, tmp_path: Path
) -> None:
    moved = tmp_path / "journeys.yaml"
    moved.write_text(JOURNEYS.read_text(encoding="utf-8").replace("Asia/Shanghai", "Europe/London"), encoding="utf-8")
    query = "SELECT (SELECT hospital_timezone FROM careloop_analytics_config), count(*) FROM careloop_value_set_codes"

    deploy(database_url, catalog())
    deploy(database_url, catalog())
    with psycopg.connect(database_url) as conn:
        first = conn.execute(query).fetchone()
    deploy(database_url, load_catalog(moved))
    with psycopg.connect(database_url) as conn:
        second = conn.execute(query).fetchone()

    assert first == ("Asia/Shanghai", len(value_set_codes(catalog().value_sets)))
    assert second == ("Europe/London", len(value_set_codes(catalog().value_sets)))
