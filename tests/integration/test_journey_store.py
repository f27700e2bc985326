"""The journey store's batch commit: events, offsets and timers in one transaction, or nothing."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError
from structlog.testing import capture_logs

from engine.journeys.machine import react
from engine.store import snapshots
from engine.store.aggregate import PatientJourneys, patient_aggregate_id
from engine.store.application import JourneyStore, postgres_env
from engine.store.recorder import Commit
from engine.store.snapshot_format import SNAPSHOT_SCHEMA_VERSION
from tests.builders import at, catalog, discharge
from tests.integration.real_worker import RealWorker


def _decided(store: JourneyStore, patient: str, encounter: str) -> PatientJourneys:
    aggregate = store.load([patient])[patient]
    trigger = discharge(patient, at("2026-03-02 10:00"), encounter_id=encounter)
    for decision in react(aggregate.state, trigger, catalog()):
        aggregate.record(decision.events, decision.state)
    return aggregate


def test_a_commit_writes_events_in_order_with_its_offsets(database_url: str, store: JourneyStore) -> None:
    aggregate = _decided(store, "P1", "E1")
    commit = Commit(consumer="c", offsets={("clinical", 0): 7})
    store.commit([aggregate], commit)
    with psycopg.connect(database_url) as conn:
        versions = [
            r[0] for r in conn.execute("SELECT originator_version FROM careloop_events ORDER BY notification_id")
        ]
        offsets = conn.execute("SELECT next_offset FROM careloop_offsets WHERE consumer = 'c'").fetchall()
    assert versions == sorted(versions) and len(versions) > 2
    assert offsets == [(7,)]
    assert store.load(["P1"])["P1"].state == aggregate.state


def test_a_concurrent_write_to_a_patient_commits_nothing(database_url: str, store: JourneyStore) -> None:
    first, second = _decided(store, "P1", "E1"), _decided(store, "P1", "E2")
    store.commit([first], Commit(consumer="c", offsets={("clinical", 0): 1}))
    with pytest.raises(IntegrityError):
        store.commit([second], Commit(consumer="c", offsets={("clinical", 0): 2}))
    with psycopg.connect(database_url) as conn:
        offsets = conn.execute("SELECT next_offset FROM careloop_offsets WHERE consumer = 'c'").fetchall()
    assert offsets == [(1,)]
    assert store.load(["P1"])["P1"].state == first.state


def _more(store: JourneyStore, aggregate: PatientJourneys, encounter: str, day: int) -> None:
    trigger = discharge(aggregate.patient_id, at("2026-03-02 10:00") + timedelta(days=day), encounter_id=encounter)
    for decision in react(aggregate.state, trigger, catalog()):
        aggregate.record(decision.events, decision.state)
    store.commit([aggregate], Commit(consumer="c"))


def test_a_patient_loads_from_its_snapshot_and_the_events_after_it(database_url: str, store: JourneyStore) -> None:
    aggregate = _decided(store, "P1", "E1")
    store.commit([aggregate], Commit(consumer="c"))
    store.commit([], Commit(consumer="c", snapshots=[snapshots.take(aggregate)]))
    taken_at = aggregate.version
    _more(store, aggregate, "E2", 20)

    loaded = store.load(["P1"])["P1"]
    replayed = store.repository.get(aggregate.id)  # the library's own replay of every event
    assert loaded.snapshot_version == taken_at < loaded.version == replayed.version
    assert loaded.state == replayed.state == aggregate.state
    _more(store, loaded, "E3", 40)  # and it goes on from there like any other
    assert store.repository.get(aggregate.id).state == loaded.state


def _snapshotted(store: JourneyStore) -> PatientJourneys:
    aggregate = _decided(store, "P1", "E1")
    store.commit([aggregate], Commit(consumer="c"))
    store.commit([], Commit(consumer="c", snapshots=[snapshots.take(aggregate)]))
    return aggregate


def test_a_snapshot_of_another_schema_version_is_ignored_and_the_patient_replayed(
    database_url: str, store: JourneyStore
) -> None:
    aggregate = _snapshotted(store)
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE careloop_snapshots SET schema_version = %s", (SNAPSHOT_SCHEMA_VERSION + 1,))
    with capture_logs() as logs:
        loaded = store.load(["P1"])["P1"]
    assert loaded.snapshot_version == 0
    assert loaded.state == aggregate.state and loaded.version == aggregate.version
    [line] = [e for e in logs if "another schema version" in e["event"]]
    assert line["found_versions"] == [SNAPSHOT_SCHEMA_VERSION + 1] and line["snapshots"] == 1


def test_a_snapshot_that_does_not_decode_is_ignored_with_the_kind_of_error_logged(
    database_url: str, store: JourneyStore
) -> None:
    aggregate = _snapshotted(store)
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE careloop_snapshots SET state = %s", (b'{"created_on": "P1 was here"}',))
    with capture_logs() as logs:
        loaded = store.load(["P1"])["P1"]
    assert loaded.snapshot_version == 0 and loaded.state == aggregate.state
    [line] = [e for e in logs if "do not decode" in e["event"]]
    assert line["snapshots"] == 1 and "datetime_from_date_parsing" in str(line["errors"])
    assert "P1" not in str(line)  # the kinds of error, never the values


def test_a_snapshot_of_another_patient_is_not_taken_for_this_one(database_url: str, store: JourneyStore) -> None:
    first = _snapshotted(store)
    second = _decided(store, "P2", "E2")
    store.commit([second], Commit(consumer="c"))
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO careloop_snapshots (aggregate_id, version, schema_version, state) "
            "SELECT %s, version, schema_version, state FROM careloop_snapshots WHERE aggregate_id = %s",
            (second.id, first.id),
        )
    with capture_logs() as logs:
        loaded = store.load(["P2"])["P2"]
    assert loaded.patient_id == "P2" and loaded.state == second.state and loaded.snapshot_version == 0
    assert [e["snapshots"] for e in logs if "do not decode" in e["event"]] == [1]


def test_snapshots_pickled_before_schema_versions_are_migrated_to_never_be_read(database_url: str) -> None:
    # The table as releases before schema versions left it: a pickle valid for a digest of the source files.
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "CREATE TABLE careloop_snapshots (aggregate_id uuid PRIMARY KEY, version bigint NOT NULL, "
            "code text NOT NULL, state bytea NOT NULL, taken_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(
            "INSERT INTO careloop_snapshots (aggregate_id, version, code, state) VALUES (%s, 2, 'a1b2c3', %s)",
            (patient_aggregate_id("P1"), b"\x80\x04\x95\x1d\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94."),
        )
    store = JourneyStore(postgres_env(database_url))
    try:
        with capture_logs() as logs:
            assert store.load(["P1"])["P1"].snapshot_version == 0  # no events: a new patient, the pickle unread
        assert [e["found_versions"] for e in logs if "another schema version" in e["event"]] == [[0]]
        aggregate = _decided(store, "P1", "E1")
        store.commit([aggregate], Commit(consumer="c", snapshots=[]))
        store.commit([], Commit(consumer="c", snapshots=[snapshots.take(aggregate)]))  # replaces the pickle
        assert store.load(["P1"])["P1"].snapshot_version == aggregate.version
    finally:
        store.close()


def test_the_worker_snapshots_patients_leaving_its_cache_and_loads_them_back(
    database_url: str, store: JourneyStore
) -> None:
    worker = RealWorker(store, cache_size=1, snapshot_after=1)
    start = at("2026-03-02 10:00")
    for e in [
        discharge("P1", start),
        discharge("P2", start, encounter_id="E2"),
        discharge("P3", start, encounter_id="E3"),
    ]:
        worker.handle(e)
    with psycopg.connect(database_url) as conn:
        taken = {str(r[0]): r[1] for r in conn.execute("SELECT aggregate_id, version FROM careloop_snapshots")}
    p1, p2 = store.repository.get(patient_aggregate_id("P1")), store.repository.get(patient_aggregate_id("P2"))
    assert taken == {str(p1.id): p1.version}  # P2 left the cache with the last batch: its snapshot goes next time
    assert store.load(["P1"])["P1"].state == p1.state
    assert p2.version > 1


def _stored_events(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM careloop_events").fetchone()
    return int(row[0]) if row else 0


def test_a_store_from_before_the_applied_inputs_table_counts_its_stored_inputs_as_applied(
    database_url: str, store: JourneyStore
) -> None:
    # A store written before careloop_applied_inputs existed: its inputs are only in the events
    start = at("2026-03-02 10:00")
    history = [discharge("P1", start), discharge("P2", start, encounter_id="E2")]
    RealWorker(store).handle(*history)
    with psycopg.connect(database_url) as conn:
        conn.execute("DROP TABLE careloop_applied_inputs")
    events_before = _stored_events(database_url)

    # Opening it creates the table from the stored inputs (the engine's own events are not inputs)
    with capture_logs() as logs:
        upgraded = JourneyStore(postgres_env(database_url))
    try:
        with psycopg.connect(database_url) as conn:
            rows = set(conn.execute("SELECT patient_id, event_id FROM careloop_applied_inputs").fetchall())
        assert rows == {(e.patient_id, e.event_id) for e in history}
        assert [e["inputs"] for e in logs if "applied inputs recorded" in e["event"]] == [2]

        # The same inputs published again decide nothing
        again = RealWorker(upgraded).handle(
            *[e.model_copy(update={"recorded_at": start + timedelta(30)}) for e in history]
        )
        assert (again.duplicates, again.committed) == (2, None)
        assert _stored_events(database_url) == events_before
    finally:
        upgraded.close()


def test_a_re_import_after_the_patient_was_snapshotted_changes_nothing(database_url: str, store: JourneyStore) -> None:
    # P1 is decided, then leaves the worker's one-patient cache and is snapshotted with the next commit
    start = at("2026-03-02 10:00")
    worker = RealWorker(store, cache_size=1, snapshot_after=1)
    p1 = [discharge("P1", start), discharge("P1", start + timedelta(days=40), encounter_id="E1b")]
    worker.handle(*p1)
    worker.handle(discharge("P2", start, encounter_id="E2"))
    worker.handle(discharge("P3", start, encounter_id="E3"))
    snapshotted = store.load(["P1"])["P1"]
    assert snapshotted.snapshot_version == snapshotted.version  # loaded from its snapshot alone
    events_before = _stored_events(database_url)

    # The hospital re-sends P1's messages months later, to a worker that has never seen P1
    later = [e.model_copy(update={"recorded_at": start + timedelta(days=120)}) for e in p1]
    outcome = RealWorker(store).handle(*later)

    assert (outcome.clinical, outcome.duplicates, outcome.committed) == (2, 2, None)
    assert _stored_events(database_url) == events_before
    assert store.load(["P1"])["P1"].state == snapshotted.state
