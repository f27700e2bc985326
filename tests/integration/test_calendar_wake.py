"""Waking every patient when the calendar journeys' dates change (issue 18, design §3.2), on a real store: a deploy
adding a calendar journey writes one wake-up timer per patient the store knows, due at its effective time, with the
id of the due item the patient's core derives from its own state; a worker starting under a calendar library whose
dates differ from the latest deployment's records a worker-start deployment and wakes everyone too; a deploy that
changes no date, or a plan, writes none."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engine.journeys import calendar_due
from engine.journeys.calendar_table import NO_CALENDAR
from engine.store import calendar_wake
from engine.store.application import JourneyStore
from engine.store.definitions import at_head, read_journeys
from engine.store.deployer import deploy_file, stored_states
from tests.builders import at, discharge
from tests.cli import invoke
from tests.integration.test_deployments import Worker, recorded, started

pytestmark = pytest.mark.integration

POST_OP = """\
  - id: post-op
    version: {version}
    name: Post-op
    entry: {{event: encounter.discharged, key: encounter_id}}
    steps:
      - {{id: wait-day-3, wait: {{offset: 3d, from: entry, at: "10:00"}}}}
      - {{id: care, message: {{template: care, channels: [sms]}}}}
"""
SANFU = """\
  - id: sanfu-tie
    version: 1
    name: 三伏贴 booking invitation
    entry:
      calendar: {rule: {fu: 初伏}, offset: -2mo, at: "09:00", join_within: 45d}
      when: [{field: patient.age, gte: 3}]
    steps:
      - {id: invite, message: {template: sanfu-invite, channels: [sms], category: marketing}}
"""
TEMPLATES = """\
templates:
  care: {locales: {zh-CN: {body: 您好}, en: {body: Hello}}}
  sanfu-invite: {locales: {zh-CN: {body: 三伏贴预约开始了}, en: {body: Book your sanfu patches}}}
"""
EFFECTIVE = "2026-03-04T09:00:00+08:00"


def write(tmp_path: Path, name: str, *journeys: str) -> Path:
    path = tmp_path / name
    path.write_text("journeys:\n" + "".join(journeys) + TEMPLATES, encoding="utf-8")
    return path


def timers(database_url: str) -> list[tuple[Any, ...]]:
    """The deployments' calendar wake-up rows (the patients' own season timers have ids of another form)."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT timer_id, patient_id, instance_id, due_at FROM careloop_timers "
            "WHERE instance_id = %s AND starts_with(timer_id, 'calendar:') ORDER BY timer_id",
            (calendar_due.CALENDAR,),
        ).fetchall()


def decided(tmp_path: Path, database_url: str, store: JourneyStore, *journeys: str) -> Worker:
    """A worker started with ``journeys`` that has decided two discharged patients."""
    worker = Worker(store, started(read_journeys(write(tmp_path, "start.yaml", *journeys)), database_url), database_url)
    worker.handle(discharge("P1", at("2026-03-02 10:00")), discharge("P2", at("2026-03-02 11:00")))
    return worker


def test_a_deploy_adding_a_calendar_journey_wakes_every_known_patient_with_the_cores_timer_id(
    tmp_path: Path, database_url: str, store: JourneyStore
) -> None:
    decided(tmp_path, database_url, store, POST_OP.format(version=1))
    source = read_journeys(write(tmp_path, "campaign.yaml", POST_OP.format(version=1), SANFU))

    outcome = deploy_file(database_url, source, datetime.fromisoformat(EFFECTIVE), True, lambda: [])

    effective = datetime.fromisoformat(EFFECTIVE)
    assert outcome.calendar_woken == 2 and outcome.deployment.deployment_id == 2
    assert timers(database_url) == [
        ("calendar:2:P1", "P1", "calendar", effective),
        ("calendar:2:P2", "P2", "calendar", effective),
    ]
    first, second = recorded(database_url)
    assert first.calendar_hash == NO_CALENDAR and second.calendar_hash not in (None, NO_CALENDAR)
    # the row wakes the patient at the due item its core derives from its own state: the same id, the same instant
    _, catalog = at_head(database_url)
    assert second.calendar_hash == catalog.calendar_hashes[-1]
    (p1,) = [s for s in stored_states(database_url) if s.patient_id == "P1"]
    due = calendar_due.next_due(p1, catalog)
    assert due is not None and (due.timer_id, due.due_at) == ("calendar:2:P1", effective)


def test_a_deploy_changing_no_calendar_date_and_a_plan_wake_nobody(
    tmp_path: Path, database_url: str, store: JourneyStore
) -> None:
    decided(tmp_path, database_url, store, POST_OP.format(version=1), SANFU)
    campaign_unchanged = read_journeys(write(tmp_path, "v2.yaml", POST_OP.format(version=2), SANFU))
    with_plan = read_journeys(write(tmp_path, "plan.yaml", POST_OP.format(version=2)))

    kept = deploy_file(database_url, campaign_unchanged, datetime.fromisoformat(EFFECTIVE), True, lambda: [])
    planned = deploy_file(database_url, with_plan, None, False, lambda: [])  # removing the campaign: a plan only

    assert (
        kept.calendar_woken == 0 and recorded(database_url)[-1].calendar_hash == recorded(database_url)[0].calendar_hash
    )
    assert planned.calendar_woken == 2 and not planned.recorded  # what it would do, rolled back
    assert timers(database_url) == [] and len(recorded(database_url)) == 2


def test_a_worker_starting_under_a_calendar_library_with_other_dates_records_a_worker_start_and_wakes_everyone(
    tmp_path: Path, database_url: str, store: JourneyStore
) -> None:
    decided(tmp_path, database_url, store, POST_OP.format(version=1), SANFU)
    # deployment 1 as an older chinesecalendar dated it (another year's official working days unknown then)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE careloop_deployments SET calendar_hash = 'older-library' WHERE deployment_id = 1")
    same_file = read_journeys(write(tmp_path, "start.yaml", POST_OP.format(version=1), SANFU))

    catalog = started(same_file, database_url)

    latest = recorded(database_url)[-1]
    assert (latest.deployment.deployment_id, latest.deployment.kind) == (2, "worker-start")
    assert latest.calendar_hash == catalog.calendar_hashes[-1] != "older-library"
    effective = latest.deployment.effective_at
    assert timers(database_url) == [
        ("calendar:2:P1", "P1", "calendar", effective),
        ("calendar:2:P2", "P2", "calendar", effective),
    ]
    # started again under the same library: the dates are the latest's, nothing recorded, nobody woken again
    started(same_file, database_url)
    assert len(recorded(database_url)) == 2 and len(timers(database_url)) == 2


def test_waking_is_idempotent_and_wakes_nobody_where_no_patient_was_decided(
    tmp_path: Path, database_url: str, store: JourneyStore
) -> None:
    started(read_journeys(write(tmp_path, "start.yaml", POST_OP.format(version=1), SANFU)), database_url)
    (first,) = recorded(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert calendar_wake.wake(conn, first.deployment) == 0  # no input applied yet: nobody to wake

    decided(tmp_path, database_url, store, POST_OP.format(version=1), SANFU)
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert calendar_wake.wake(conn, first.deployment) == 2
        assert calendar_wake.wake(conn, first.deployment) == 0  # the rows are there: left alone


def test_careloop_deploy_says_how_many_patients_are_rescheduled_and_which_season_is_held(
    tmp_path: Path, database_url: str, store: JourneyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARELOOP_DATABASE_URL", database_url)
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(tmp_path / "data"))
    decided(tmp_path, database_url, store, POST_OP.format(version=1))
    # booked on a working day: 2027's official working days are not in the installed chinesecalendar (2004-2026)
    on_working_days = SANFU.replace("join_within: 45d}", "join_within: 45d, working_day: on_or_after}")
    path = write(tmp_path, "campaign.yaml", POST_OP.format(version=1), on_working_days)

    code, out, err = invoke("deploy", str(path), "--plan", "--at", EFFECTIVE)

    assert (code, err) == (0, "")
    assert f"calendar: 2 patient(s) rescheduled at {EFFECTIVE}" in out
    assert "calendar: sanfu-tie season 2027 (2027-05-20) is held: " in out and "upgrade chinesecalendar" in out
    assert "plan only: nothing recorded" in out and timers(database_url) == []
