"""The projections on real PostgreSQL: the journey store's log, followed page by page into the read models.

Each test gets a database of its own on the session's embedded server, so stores, logs and tables never mix.
History is realistic: clinical events run through journeys.yaml by the simulator, recorded per patient into
the store's aggregates as the live worker would.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from engine.cli.main import app
from engine.journeys.simulation import Simulation
from engine.store.application import JourneyStore
from events import households as hh
from events import loyalty as lo
from events import outreach as ou
from events import patient as pa
from events import relationships as rs
from events.base import Event
from events.catalog import parse_clinical
from events.patient import Contact
from events.referral_codes import referral_code
from projections.catalog import PROJECTIONS
from projections.memory import MemoryTables
from projections.reminder_queue import queries as reminder_queries
from projections.runner import Runner
from projections.source import StoreSource
from tests.builders import (
    SHANGHAI,
    at,
    booked,
    cancelled,
    catalog,
    diagnosed,
    discharge,
    event,
    icd10,
    messages,
    questionnaire,
    registered,
    rescheduled,
    visit,
)
from tests.unit.projections import test_calendar_campaigns as campaign

pytestmark = pytest.mark.integration
TABLES = [t for p in PROJECTIONS for t in p.tables]
ROOT = Path(__file__).resolve().parents[2]


# --- fixtures and helpers -----------------------------------------------------------------------------------


def make_runner(database_url: str, store: JourneyStore, page_size: int = 1000) -> Runner:
    runner = Runner(database_url, StoreSource(store), PROJECTIONS, page_size)
    runner.setup()
    return runner


@pytest.fixture
def runner(database_url: str, store: JourneyStore) -> Iterator[Runner]:
    with make_runner(database_url, store) as r:
        yield r


class Recorder:
    """Records what the simulator decided into the store, each patient's new events since the last call."""

    def __init__(self, store: JourneyStore, sim: Simulation) -> None:
        self.store, self.sim, self.done = store, sim, dict[str, int]()

    def __call__(self) -> int:
        count = 0
        for pid, events in self.sim.recorded.items():
            new = events[self.done.get(pid, 0) :]
            if new:
                aggregate = self.store.load([pid])[pid]
                aggregate.record(new)
                self.store.save(aggregate)
                self.done[pid] = len(events)
                count += len(new)
        return count


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        return {
            t: conn.execute(sql.SQL("SELECT * FROM {t} ORDER BY {t}::text").format(t=sql.Identifier(t))).fetchall()
            for t in TABLES
        }


def rows(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def hospital(prefix: str, patients: int) -> list[Event]:
    """Clinical events of invented patients: surgery, appointments kept, moved or cancelled, chronic disease,
    childbirth with a worrying EPDS score, outpatient visits with a referral code and a redemption at the loyalty
    desk; each patient's events in time order."""
    events: list[Event] = []
    for n in range(patients):
        p, day = f"{prefix}-{n:04d}", timedelta(days=n % 28, hours=n % 7)
        start = at("2026-01-05 09:00") + day
        story = n % 5
        # an outpatient registers with a referral code no member holds (refused). Not a member's: the referrer's
        # side would be recorded before the claim, as Recorder saves patient by patient, which no live store does
        claim = pa.ReferralClaim(code=referral_code(f"X-{n}"), referrer_patient_id=None) if story == 4 else None
        events.append(registered(p, start, referral=claim))
        if story == 0:
            events.append(discharge(p, start + timedelta(hours=1), encounter_id=f"E{n}", diagnoses=(icd10("S72.0"),)))
        if story == 1:
            events += family(p, n, start)
        if story in (0, 1):
            appointment = start + timedelta(days=20, minutes=30)
            events.append(booked(p, start + timedelta(days=1), appointment, appointment_id=f"A{n}"))
            if n % 3 == 0:
                events.append(cancelled(p, start + timedelta(days=5), appointment, appointment_id=f"A{n}"))
            elif n % 3 == 1:
                moved = appointment + timedelta(days=7)
                events.append(rescheduled(p, start + timedelta(days=6), moved, appointment_id=f"A{n}"))
        if story == 2:
            events.append(diagnosed(p, start, "E11.9" if n % 2 else "I10"))
            events.append(visit(p, start + timedelta(days=60)))
        if story == 3:
            events.append(discharge(p, start, department="obstetrics", encounter_id=f"D{n}"))
            events.append(questionnaire(p, start + timedelta(days=31), "epds", score=15 if n % 2 else 5))
        if story == 4:
            events.append(visit(p, start + timedelta(hours=3)))
            # a parking voucher asked for at the desk the next day, before the visit's points are available
            redemption = {"reward_id": "parking-voucher", "ref": f"R{n}", "by": "desk-1"}
            events.append(event(lo.PointsRedemptionRequested, p, start + timedelta(days=1), **redemption))
    return events


def family(p: str, n: int, start: datetime) -> list[Event]:
    """A daughter recorded as caregiver, her consent to appointment reminders, and the household's family doctor
    contract."""
    relation = f"rel-{n:04d}"
    person = rs.Person(name="王芳", contact=Contact(phone="+8613800000000"), language="zh-CN")
    return [
        event(rs.RelationshipRecorded, p, start, relation_id=relation, role="caregiver", role_code="CHD",
              role_system="HL70063", person=person, household_id=f"hh-{n}"),
        event(rs.RelationshipConsentGranted, p, start + timedelta(minutes=5), relation_id=relation,
              purposes=("care",), information=("appointments",), delivery="also", granted_by="patient",
              basis_ref=f"FORM-{n}"),
        event(hh.FamilyContractSigned, p, start + timedelta(minutes=10), contract_id=f"FDC-{n}",
              household_id=f"hh-{n}", role="holder", team="team-1", package="basic", starts_on=date(2026, 1, 1),
              ends_on=date(2026, 12, 31)),
    ]  # fmt: skip


def delivered(sim: Simulation, patients: Iterable[str]) -> list[Event]:
    """Outreach results for every requested message: most delivered, every fourth failed."""
    results: list[Event] = []
    for p in patients:
        for k, m in enumerate(messages(sim, p)):
            when = m.due_at + timedelta(minutes=2)
            if k % 4 == 3:
                results.append(
                    event(ou.OutreachFailed, p, when, message_id=m.message_id, channel="sms", reason="unreachable")
                )
            else:
                results.append(event(ou.OutreachDelivered, p, when, message_id=m.message_id, channel="wechat"))
    return results


def history(store: JourneyStore, runner: Runner | None, prefix: str, patients: int) -> Simulation:
    """Three rounds of recording (and, with a runner, of catching up): clinical events, timers, outreach."""
    sim = Simulation(catalog())
    record = Recorder(store, sim)
    sim.feed(hospital(prefix, patients))
    for step in (
        lambda: sim.run_until(at("2026-02-15 00:00")),
        lambda: sim.feed(delivered(sim, list(sim.recorded))),
        lambda: sim.run_until(at("2026-09-01 00:00")),
    ):
        record()
        if runner is not None:
            runner.catch_up()
        step()
    record()
    store_season(store, prefix)
    store_diary(store, prefix)
    return sim


def store_season(store: JourneyStore, prefix: str) -> None:
    """A 三伏贴 season of one more patient, as the core records it: scheduled, reached, entered, the split's arm, a
    booking and a visit attended (the story's own dates end before the shipped campaign's visits)."""
    patient = f"{prefix}-sanfu"
    events = [
        e.model_copy(update={"patient_id": patient, "event_id": f"{prefix}-{e.event_id}"}) for e in campaign.SEASON
    ]
    aggregate = store.load([patient])[patient]
    aggregate.record(events)
    store.save(aggregate)


def store_diary(store: JourneyStore, prefix: str) -> None:
    """The shipped symptom diary of one more patient (docs/samples/symptom-diary.jsonl, in 2027): its answers, the
    rising trend's alert and the silences, for the check-in tables."""
    patient = f"{prefix}-diary"
    lines = (ROOT / "docs" / "samples" / "symptom-diary.jsonl").read_text(encoding="utf-8").splitlines()
    sim = Simulation(catalog())
    sim.feed(
        [
            e.model_copy(update={"patient_id": patient, "event_id": f"{prefix}-{e.event_id}"})
            for e in (parse_clinical(json.loads(line)) for line in lines if line.strip())
        ]
    )
    sim.run_until(at("2027-03-20 00:00"))
    Recorder(store, sim)()


# --- scenarios ----------------------------------------------------------------------------------------------


def test_a_post_op_discharge_queues_day_3_care_and_day_7_rehab_reminders(
    store: JourneyStore, runner: Runner, database_url: str
) -> None:
    # A patient goes home after orthopaedic surgery on 2 March at 10:00
    sim = Simulation(catalog())
    record = Recorder(store, sim)
    sim.feed([discharge("P-postop", at("2026-03-02 10:00"))])
    record()
    runner.catch_up()

    # The day-3 message is on the queue before it is due, with the wait's due time
    query = "SELECT template, due_at, status FROM reminder_queue WHERE patient_id = %s ORDER BY due_at"
    assert rows(database_url, query, "P-postop") == [("postop-day3-care", at("2026-03-05 10:00"), "scheduled")]

    # A week later both messages have been requested and approved, each due at 10:00 local time
    sim.run_until(at("2026-03-10 00:00"))
    record()
    runner.catch_up()
    assert rows(database_url, query, "P-postop") == [
        ("postop-day3-care", at("2026-03-05 10:00"), "approved"),
        ("postop-day7-rehab", at("2026-03-09 10:00"), "approved"),
    ]
    with psycopg.connect(database_url) as conn:
        due_on_the_5th = reminder_queries.due_on(conn, at("2026-03-05 00:00").date(), SHANGHAI)
    assert [r["template"] for r in due_on_the_5th] == ["postop-day3-care"]


def test_a_cancelled_appointment_leaves_its_reminders_cancelled(
    store: JourneyStore, runner: Runner, database_url: str
) -> None:
    appointment = at("2026-03-20 09:30")
    sim = Simulation(catalog())
    sim.feed(
        [
            booked("P-cancel", at("2026-03-10 14:00"), appointment),
            cancelled("P-cancel", at("2026-03-12 16:00"), appointment),
        ]
    )
    sim.run_until(at("2026-04-01 00:00"))
    Recorder(store, sim)()

    runner.catch_up()

    assert rows(database_url, "SELECT template, status, reason FROM reminder_queue") == [
        ("appointment-reminder-3d", "cancelled", "journey exited: cancelled")
    ]
    assert rows(database_url, "SELECT status, outcome FROM journey_instances") == [("exited", "cancelled")]


# --- idempotency, rebuild, lag ------------------------------------------------------------------------------


def test_applying_the_same_page_twice_leaves_identical_tables(
    store: JourneyStore, runner: Runner, database_url: str
) -> None:
    history(store, None, "P-twice", 40)
    source = StoreSource(store)
    page = source.read(after=0, limit=500)

    # The tracking check: the second application finds the projection already past the page and writes nothing
    assert all(runner.apply_page(p, page) for p in PROJECTIONS)
    once = snapshot(database_url)
    assert not any(runner.apply_page(p, page) for p in PROJECTIONS)
    assert snapshot(database_url) == once

    # The rows themselves: with the position wound back, the page is applied again, to the same rows
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE projection_tracking SET position = %s", (page.after,))
    assert all(runner.apply_page(p, page) for p in PROJECTIONS)
    assert snapshot(database_url) == once
    assert runner.positions() == {p.name: page.last for p in PROJECTIONS}


def test_a_rebuild_gives_the_same_tables_as_following_the_log_page_by_page(
    store: JourneyStore, database_url: str
) -> None:
    # Followed as it was written, in three rounds, in small pages that cut patients' histories in two
    with make_runner(database_url, store, page_size=97) as following:
        history(store, following, "P-rebuild", 120)
        following.catch_up()
        followed = snapshot(database_url)
        assert set(following.lag().values()) == {0}

    # Rebuilt from scratch in large pages
    with make_runner(database_url, store, page_size=1000) as rebuilding:
        replayed = rebuilding.rebuild(progress=False)
        assert snapshot(database_url) == followed
        assert set(rebuilding.lag().values()) == {0}

        # One projection alone, too
        rebuilding.rebuild("reminder_queue", progress=False)
        assert snapshot(database_url) == followed
    assert replayed > 1000
    statuses = {s for (s,) in rows(database_url, "SELECT DISTINCT status FROM reminder_queue")}
    assert statuses >= {"delivered", "failed", "cancelled", "approved"}


def test_the_tables_hold_what_the_pure_mappings_fold_to_in_memory(
    store: JourneyStore, runner: Runner, database_url: str
) -> None:
    history(store, runner, "P-contract", 40)
    runner.catch_up()
    memory = MemoryTables()
    for seq, e in StoreSource(store).read(0, 100_000).events:
        for p in PROJECTIONS:
            memory.apply(p.ops(e, seq))

    with psycopg.connect(database_url, row_factory=psycopg.rows.dict_row) as conn:
        for table, expected in memory.tables.items():
            keys = memory.keys[table]
            stored = {
                tuple(r[k] for k in keys): r
                for r in conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
            }
            assert stored.keys() == expected.keys(), table
            # Columns the mappings never write hold their defaults in PostgreSQL and are absent in memory
            assert {k: {c: stored[k][c] for c in row} for k, row in expected.items()} == expected, table
    assert set(memory.tables) == set(TABLES)


def test_lag_is_the_whole_log_before_and_reaches_zero_after_catch_up(
    store: JourneyStore, runner: Runner, database_url: str
) -> None:
    history(store, None, "P-lag", 20)
    head = store.recorder.max_notification_id()

    assert runner.lag() == {p.name: head for p in PROJECTIONS}
    runner.catch_up()
    assert runner.lag() == {p.name: 0 for p in PROJECTIONS}
    assert runner.positions() == {p.name: head for p in PROJECTIONS}


def test_run_forever_wakes_on_the_stores_notify_and_stops_when_asked(
    store: JourneyStore, runner: Runner, database_url: str
) -> None:
    stop = threading.Event()
    # A long poll interval: only LISTEN/NOTIFY can make it pick up new events within the test's patience
    follower = threading.Thread(target=runner.run_forever, args=(stop, 60.0))
    follower.start()
    try:
        time.sleep(0.5)
        sim = Simulation(catalog())
        sim.feed([discharge("P-live", at("2026-03-02 10:00"))])
        Recorder(store, sim)()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not rows(database_url, "SELECT 1 FROM reminder_queue"):
            time.sleep(0.05)
        assert rows(database_url, "SELECT patient_id, status FROM reminder_queue") == [("P-live", "scheduled")]
    finally:
        stop.set()
        follower.join(timeout=5)
    assert not follower.is_alive()


def test_the_cli_rebuilds_and_reports_rows_per_table_and_lag(
    store: JourneyStore, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    history(store, None, "P-cli", 10)
    monkeypatch.setenv("CARELOOP_DATABASE_URL", database_url)
    cli = CliRunner()

    rebuilt = cli.invoke(app, ["projections", "rebuild"])
    status = cli.invoke(app, ["projections", "status"])

    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rebuilt all projections" in rebuilt.stdout
    for table in TABLES:
        assert table in rebuilt.stdout
    assert status.exit_code == 0, status.output
    head = store.recorder.max_notification_id()
    lines = {line.split()[0]: line.split()[1:] for line in status.stdout.splitlines() if line.strip()}
    assert lines["reminder_queue"] == [str(head), "0"]
