"""A rebuild in chunks on real PostgreSQL (issue 19, item 3): rows a chunk writes and a later chunk updates or
deletes come out as one pass and as the live follower leave them, each chunk's rows are committed with its
position, and what a rebuild holds in memory is bounded by the chunk, not by the history."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from engine.cli.main import app
from engine.journeys.simulation import Simulation
from engine.store.application import JourneyStore
from projections.catalog import PROJECTIONS
from projections.errors import UndecodableNotificationError
from projections.runner import Runner
from projections.source import StoreSource
from tests.builders import at, catalog
from tests.integration.test_projection_erasure import erasure
from tests.integration.test_projections import Recorder, delivered, history, hospital, make_runner, snapshot

pytestmark = pytest.mark.integration


def erased_history(store: JourneyStore, prefix: str, patients: int) -> None:
    """A hospital recorded in two rounds, two of its patients erased in between: rows written, then updated
    (reminders sent and delivered, instances completed) and deleted (the erased patients') later in the log."""
    sim = Simulation(catalog())
    record = Recorder(store, sim)
    sim.feed(hospital(prefix, patients))
    sim.run_until(at("2026-03-19 00:00"))
    sim.feed(delivered(sim, list(sim.recorded)))
    record()
    sim.feed([erasure(f"{prefix}-0000"), erasure(f"{prefix}-0003")])
    sim.run_until(at("2026-09-01 00:00"))
    sim.feed(delivered(sim, list(sim.recorded)))
    record()


def test_a_rebuild_in_chunks_of_seven_events_gives_the_rows_of_one_chunk_and_of_the_follower(
    store: JourneyStore, database_url: str
) -> None:
    erased_history(store, "P-chunk", 12)
    with make_runner(database_url, store, page_size=50) as following:
        following.catch_up()
        followed = snapshot(database_url)
    assert followed["reminder_queue"] and followed["journey_instances"]

    with make_runner(database_url, store) as rebuilding:
        whole = rebuilding.rebuild(progress=False, chunk_size=10**9)
        assert snapshot(database_url) == followed
        assert rebuilding.last_rebuild.chunks == 1

        chunked = rebuilding.rebuild(progress=False, chunk_size=7)
        assert snapshot(database_url) == followed
        assert chunked == whole
        assert rebuilding.last_rebuild.chunks >= whole // 7
        assert rebuilding.last_rebuild.peak_events == 7
        assert set(rebuilding.lag().values()) == {0}

        # One projection alone, in chunks, over the others' tables left as they are
        rebuilding.rebuild("reminder_queue", progress=False, chunk_size=7)
        assert snapshot(database_url) == followed


class DyingSource:
    """The store's log, failing at its ``fail_at``-th read: a rebuild that dies after some chunks are written."""

    def __init__(self, source: StoreSource, fail_at: int) -> None:
        self.inner, self.channel, self.fail_at, self.reads = source, source.channel, fail_at, 0

    def head(self) -> int:
        return self.inner.head()

    def read(self, after: int, limit: int) -> Any:
        self.reads += 1
        if self.reads == self.fail_at:
            raise psycopg.OperationalError("the connection went away")
        return self.inner.read(after, limit)


def test_a_rebuild_that_dies_after_some_chunks_leaves_them_committed_with_their_position_and_a_follower_finishes(
    store: JourneyStore, database_url: str
) -> None:
    erased_history(store, "P-chunkdie", 8)
    with make_runner(database_url, store) as following:
        following.catch_up()
        followed = snapshot(database_url)
        head = StoreSource(store).head()

    with Runner(database_url, DyingSource(StoreSource(store), fail_at=6), PROJECTIONS) as dying:
        with pytest.raises(psycopg.OperationalError):
            dying.rebuild(progress=False, chunk_size=30)
        positions = set(dying.positions().values())
        assert len(positions) == 1
        (reached,) = positions
        assert 0 < reached < head  # some chunks written, not all
        assert dying.last_rebuild.chunks >= 2

    with make_runner(database_url, store, page_size=40) as recovering:
        recovering.catch_up()
        assert snapshot(database_url) == followed


def peak_of_rebuild(runner: Runner, chunk_size: int) -> int:
    """Bytes Python allocated at most during the rebuild, above what it held before."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        runner.rebuild(progress=False, chunk_size=chunk_size)
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_what_a_rebuild_holds_stays_bounded_by_the_chunk_when_the_history_grows_fourfold(
    store: JourneyStore, database_url: str
) -> None:
    history(store, None, "P-mem-a", 15)
    with make_runner(database_url, store) as runner:
        runner.rebuild(progress=False, chunk_size=10**9)
        whole_small = runner.last_rebuild.peak_rows
        small = peak_of_rebuild(runner, 40)
        small_rows = runner.last_rebuild.peak_rows
        small_chunks = runner.last_rebuild.chunks

    history(store, None, "P-mem-b", 45)
    with make_runner(database_url, store) as runner:
        runner.rebuild(progress=False, chunk_size=10**9)
        whole_large = runner.last_rebuild.peak_rows
        large = peak_of_rebuild(runner, 40)
        large_rows = runner.last_rebuild.peak_rows
        assert runner.last_rebuild.chunks > 3 * small_chunks
        assert runner.last_rebuild.peak_events == 40

    # In one chunk the rows held grow with the history; in chunks of 40 events they do not
    assert whole_large > 3 * whole_small
    assert large_rows <= 1.5 * small_rows
    assert large <= 1.5 * small, f"peak {large:,} bytes for 4x the history against {small:,}"


def test_the_cli_rebuilds_in_the_chunks_it_is_given(
    store: JourneyStore, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    erased_history(store, "P-chunkcli", 6)
    with make_runner(database_url, store) as following:
        following.catch_up()
        followed = snapshot(database_url)
    monkeypatch.setenv("CARELOOP_DATABASE_URL", database_url)

    result = CliRunner().invoke(app, ["projections", "rebuild", "--chunk-size", "9"])
    refused = CliRunner().invoke(app, ["projections", "rebuild", "--chunk-size", "0"])

    assert result.exit_code == 0, result.output
    assert snapshot(database_url) == followed
    assert refused.exit_code == 2


def stored(store: JourneyStore, database_url: str, type_: str) -> list[tuple[int, dict[str, Any]]]:
    """(notification id, state as JSON) of each stored event of ``type_``, as the store holds it."""
    table = sql.Identifier(store.recorder.events_table_name)
    query = sql.SQL("SELECT notification_id, state FROM {} ORDER BY notification_id").format(table)
    with psycopg.connect(database_url) as conn:
        found = [(nid, json.loads(bytes(state))) for nid, state in conn.execute(query)]
    return [(nid, state) for nid, state in found if state.get("payload", {}).get("type") == type_]


def restore(store: JourneyStore, database_url: str, states: list[tuple[int, dict[str, Any]]]) -> None:
    table = sql.Identifier(store.recorder.events_table_name)
    query = sql.SQL("UPDATE {} SET state = %s WHERE notification_id = %s").format(table)
    with psycopg.connect(database_url) as conn:
        for nid, state in states:
            conn.execute(query, (json.dumps(state).encode(), nid))


def test_a_rebuild_reads_events_stored_at_an_older_version_through_their_upcasters(
    store: JourneyStore, database_url: str
) -> None:
    erased_history(store, "P-chunkold", 6)
    with make_runner(database_url, store) as runner:
        runner.rebuild(progress=False)
        current = snapshot(database_url)
        starts = stored(store, database_url, "journey.started")
        assert starts and {s["payload"]["schema_version"] for _, s in starts} == {2}
        # journey.started as version 1 stored it: before staged rollouts, no `rollout` (its upcaster: None)
        old = [(nid, {**s, "payload": {**s["payload"], "schema_version": 1}}) for nid, s in starts]
        for _, s in old:
            del s["payload"]["rollout"]
        restore(store, database_url, old)

        runner.rebuild(progress=False, chunk_size=9)

        assert snapshot(database_url) == current
        assert current["journey_instances"]


def test_a_rebuild_stops_at_a_stored_event_it_cannot_read_naming_its_notification(
    store: JourneyStore, database_url: str
) -> None:
    erased_history(store, "P-chunkbad", 4)
    (nid, state), *_ = stored(store, database_url, "message.requested")
    restore(store, database_url, [(nid, {**state, "payload": {**state["payload"], "template": None}})])

    with make_runner(database_url, store) as runner:
        with pytest.raises(UndecodableNotificationError) as raised:
            runner.rebuild(progress=False, chunk_size=10**9)
        assert raised.value.notification_id == nid
        assert "template" in str(raised.value)
        assert "P-chunkbad" not in str(raised.value)  # the reason names the field, never the patient
        assert set(runner.positions().values()) == {0}  # the chunk that holds it was not written
