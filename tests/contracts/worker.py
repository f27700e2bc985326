"""The worker's ports, as handle() relies on them: the journey store (engine.worker.ports.Journeys) and the
dead-letter sink. Subclasses provide the fixtures: ``journeys`` (a factory: each call is another worker on the
same store), ``stored`` (what the store holds beyond the port: timers, hand-overs) and ``dead_letters``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import pytest

from engine.journeys.state import PatientState
from engine.worker.batch import decide
from engine.worker.errors import StoreConflictError
from engine.worker.messages import DeadLetter, Inbound
from engine.worker.ports import BatchCommit, DeadLetters, Journeys
from events import patient as pa
from events.base import Event
from tests.builders import at, catalog, discharge, event

OPENED = at("2026-03-02 10:00")


class Stored(Protocol):
    """What the store holds beyond the port, as a test reads it."""

    def timers(self) -> dict[str, tuple[str, str, datetime]]: ...  # timer id -> (patient, instance, due)

    def hand_overs(self) -> list[tuple[str, str]]: ...  # (key, event id) of each hand-over, in order


def batch(journeys: Journeys, *events: Event, offsets: dict[tuple[str, int], int] | None = None) -> BatchCommit:
    """The core's decisions on ``events`` (after loading their patients from ``journeys``), as handle() builds a
    batch: every input recorded as applied."""
    commit = BatchCommit(offsets=offsets or {}, applied=[(e.patient_id, e.event_id) for e in events])
    states = journeys.load(list(dict.fromkeys(e.patient_id for e in events)))
    decide(list(events), states, catalog(), commit)
    return commit


def _engine_events(commit: BatchCommit) -> int:
    return sum(e.source.system == "careloop-engine" for c in commit.patients.values() for e in c.events)


class JourneysContract:
    @pytest.fixture
    def journeys(self) -> Callable[[], Journeys]:
        raise NotImplementedError

    @pytest.fixture
    def stored(self) -> Stored:
        raise NotImplementedError

    def test_a_patient_never_seen_loads_as_a_new_state_with_nothing_applied(
        self, journeys: Callable[[], Journeys]
    ) -> None:
        worker = journeys()
        assert worker.load(["P1"]) == {"P1": PatientState("P1")}
        assert worker.committed() == {}
        assert worker.applied({("P1", "e-1")}) == set()

    def test_a_committed_batch_is_what_another_worker_loads(
        self, journeys: Callable[[], Journeys], stored: Stored
    ) -> None:
        # A worker commits a surgical discharge with the offsets past it
        worker = journeys()
        discharged = discharge("P1", OPENED)
        commit = batch(worker, discharged, offsets={("clinical", 0): 5})
        committed = worker.commit(commit)

        # The relay is handed the engine events it decided, ready to send
        assert committed is not None and committed.last - committed.after >= len(commit.patients["P1"].events)
        assert len(committed.outgoing) == _engine_events(commit) > 0
        assert {o.key for o in committed.outgoing} == {b"P1"}

        # Another worker loads the state the core left, the offsets, the timers and the input as applied
        other = journeys()
        assert other.load(["P1"]) == {"P1": commit.patients["P1"].state}
        assert other.committed() == {("clinical", 0): 5}
        asked = {("P1", discharged.event_id), ("P2", discharged.event_id), ("P1", "another")}
        assert other.applied(asked) == {("P1", discharged.event_id)}  # per patient, as ids come from the source
        assert stored.timers() == commit.schedule and commit.schedule

    def test_offsets_only_move_forward(self, journeys: Callable[[], Journeys]) -> None:
        worker = journeys()
        worker.commit(batch(worker, discharge("P1", OPENED), offsets={("clinical", 0): 5, ("timers", 1): 2}))
        worker.commit(batch(worker, discharge("P2", OPENED, encounter_id="E2"), offsets={("clinical", 0): 3}))
        assert journeys().committed() == {("clinical", 0): 5, ("timers", 1): 2}

    def test_a_commit_decided_on_a_stale_state_is_refused_and_writes_nothing(
        self, journeys: Callable[[], Journeys], stored: Stored
    ) -> None:
        # Two workers load the same patient (a rebalance moved its partition)
        first, second = journeys(), journeys()
        mine = batch(first, discharge("P1", OPENED))
        theirs = batch(second, discharge("P1", OPENED, encounter_id="E2"), offsets={("clinical", 0): 9})

        # The first commits; the second, decided on the state before it, is refused as a conflict
        first.commit(mine)
        timers = stored.timers()
        with pytest.raises(StoreConflictError) as refused:
            second.commit(theirs)
        assert len(refused.value.patient_refs) == 1 and "P1" not in str(refused.value.patient_refs)

        # Nothing of it was written; decided again on the stored state, it commits
        assert journeys().load(["P1"]) == {"P1": mine.patients["P1"].state}
        assert journeys().committed() == {}
        assert stored.timers() == timers
        again = batch(second, discharge("P1", OPENED, encounter_id="E2"), offsets={("clinical", 0): 9})
        second.commit(again)
        assert journeys().load(["P1"]) == {"P1": again.patients["P1"].state}

    def test_an_input_another_commit_applied_is_refused_as_a_conflict(self, journeys: Callable[[], Journeys]) -> None:
        worker = journeys()
        discharged = discharge("P1", OPENED)
        worker.commit(batch(worker, discharged))
        registered = event(pa.PatientRegistered, "P1", OPENED, timezone="Asia/Shanghai", language="zh-CN")
        repeat = batch(worker, registered)
        repeat.applied.append(("P1", discharged.event_id))  # as a worker that asked before the other committed
        with pytest.raises(StoreConflictError):
            worker.commit(repeat)
        assert journeys().applied({("P1", registered.event_id)}) == set()

    def test_cancelled_timers_go_and_hand_overs_wait_to_be_sent_in_order(
        self, journeys: Callable[[], Journeys], stored: Stored
    ) -> None:
        worker = journeys()
        worker.commit(batch(worker, discharge("P1", OPENED)))
        # the post-op wait's timer (the patient's calendar campaigns' next season is a timer too, instance 'calendar')
        [(timer_id, _)] = [(t, v) for t, v in stored.timers().items() if v[1] != "calendar"]
        merged = event(pa.PatientMerged, "P1", at("2026-03-03 08:00"), into_patient_id="P9")
        commit = batch(worker, merged)
        assert timer_id in commit.cancel and commit.handed_over
        worker.commit(commit)
        assert timer_id not in stored.timers()
        assert stored.hand_overs() == [("P9", e.event_id) for e in commit.handed_over]

    def test_after_forgetting_a_worker_loads_what_another_worker_committed(
        self, journeys: Callable[[], Journeys]
    ) -> None:
        first, second = journeys(), journeys()
        first.commit(batch(first, discharge("P1", OPENED)))
        later = batch(second, discharge("P1", at("2026-03-20 10:00"), encounter_id="E2"))
        second.commit(later)
        first.forget()  # partitions revoked: another worker wrote P1 meanwhile
        assert first.load(["P1"]) == {"P1": later.patients["P1"].state}

    def test_a_batch_committing_while_its_partitions_are_revoked_is_not_kept_for_the_next_batch(
        self, journeys: Callable[[], Journeys]
    ) -> None:
        first, second = journeys(), journeys()
        mine = batch(first, discharge("P1", OPENED))
        first.forget()  # the rebalance's revocation, on the event loop, while the batch is in its thread
        first.commit(mine)
        later = batch(second, discharge("P1", at("2026-03-20 10:00"), encounter_id="E2"))
        second.commit(later)  # the partition's new owner advances P1
        assert first.load(["P1"]) == {"P1": later.patients["P1"].state}  # not the state its own commit left


def poison(offset: int, value: bytes | None, key: bytes | None = b"P1") -> Inbound:
    return Inbound("careloop.clinical", 2, offset, key, value, (("traceparent", b"00-abc-01"), ("careloop-x", b"old")))


class DeadLettersContract:
    @pytest.fixture
    def dead_letters(self) -> tuple[DeadLetters, Callable[[], list[tuple[bytes | None, bytes, dict[str, Any]]]]]:
        """The sink, and what its topic holds (key, value, headers), in order."""
        raise NotImplementedError

    def test_a_dead_letter_holds_the_original_message_where_it_came_from_and_why(
        self, dead_letters: tuple[DeadLetters, Callable[[], list[tuple[bytes | None, bytes, dict[str, Any]]]]]
    ) -> None:
        sink, topic = dead_letters
        sink.send(DeadLetter(poison(41, b'{"type": "encounter.discharged"'), "not valid UTF-8 JSON: ...", "decode"))
        sink.send(DeadLetter(poison(42, None, key=None), "empty message (no value)", "decode"))
        [first, second] = topic()
        key, value, headers = first
        assert (key, value) == (b"P1", b'{"type": "encounter.discharged"')
        assert headers["careloop-reason"] == b"not valid UTF-8 JSON: ..."
        assert headers["careloop-reason-kind"] == b"decode"
        assert headers["careloop-origin-topic"] == b"careloop.clinical"
        assert (headers["careloop-origin-partition"], headers["careloop-origin-offset"]) == (b"2", b"41")
        assert headers["traceparent"] == b"00-abc-01" and "careloop-x" not in headers  # ours replaced, theirs kept
        assert second[:2] == (None, b"") and second[2]["careloop-origin-offset"] == b"42"
