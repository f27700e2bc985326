"""The journey store's batch commit: events, offsets and timers in one transaction, or nothing."""

from __future__ import annotations

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from engine.journeys.machine import react
from engine.store.application import JourneyStore
from engine.store.recorder import Commit
from tests.builders import at, catalog, discharge


def _decided(store: JourneyStore, patient: str, encounter: str) -> object:
    aggregate = store.load([patient])[patient]
    for decision in react(
        aggregate.state, discharge(patient, at("2026-03-02 10:00"), encounter_id=encounter), catalog()
    ):
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
