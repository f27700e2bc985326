"""Taking snapshots when patients leave the worker's cache: one that cannot be written never stops a commit."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from types import MappingProxyType

import pytest
import structlog
from structlog.testing import capture_logs

from engine.journeys.state import Profile
from engine.store import snapshots
from engine.store.aggregate import PatientJourneys
from engine.store.snapshot_format import SNAPSHOT_SCHEMA_VERSION


@pytest.fixture(autouse=True)
def _fresh_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # a logger first used while a process's JSON logging was configured stays bound to it (structlog caches it)
    monkeypatch.setattr(snapshots, "log", structlog.get_logger("careloop.store"))
    yield


def _committed(patient_id: str) -> PatientJourneys:
    aggregate = PatientJourneys(patient_id)
    aggregate.collect_events()  # as a save leaves it
    return aggregate


def test_a_state_holding_something_json_cannot_say_is_left_out_with_a_log_line() -> None:
    fine, odd = _committed("P1"), _committed("P2")
    odd.state = dataclasses.replace(odd.state, profile=Profile(attributes=MappingProxyType({"badge": object()})))
    with capture_logs() as logs:
        rows = snapshots.take_all([fine, odd])
    assert [(r[0], r[1], r[2]) for r in rows] == [(fine.id, fine.version, SNAPSHOT_SCHEMA_VERSION)]
    [line] = [e for e in logs if e["event"] == "snapshots that do not encode left out"]
    assert line["snapshots"] == 1 and line["log_level"] == "error"


def test_an_aggregate_with_events_not_yet_saved_is_not_snapshotted() -> None:
    with capture_logs() as logs:
        assert snapshots.take_all([PatientJourneys("P1")]) == []
    assert [e["errors"] for e in logs] == [{"ValueError": 1}]


def test_a_snapshot_row_restores_the_aggregate_it_was_taken_of() -> None:
    aggregate = _committed("P1")
    [(aggregate_id, version, _, data)] = snapshots.take_all([aggregate])
    restored = snapshots.restore(aggregate_id, version, data)
    assert (restored.id, restored.version, restored.snapshot_version) == (aggregate.id, 1, 1)
    assert (restored.state, restored.created_on, restored.modified_on) == (
        aggregate.state,
        aggregate.created_on,
        aggregate.modified_on,
    )
    assert restored.pending_events == []
