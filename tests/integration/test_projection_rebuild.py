"""A rebuild's fast paths on real PostgreSQL: the pages read without eventsourcing's mapper, and the row
operations folded in memory and written with COPY, each checked against the path it stands in for."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import sql

from engine.store.aggregate import PatientJourneys
from engine.store.application import JourneyStore
from events import findings as fi
from events.upcasting import UPCASTERS
from projections import replay
from projections import sql as statements
from projections.catalog import PROJECTIONS
from projections.ops import Op, Update, Upsert
from projections.runner import Runner
from projections.source import StoreSource
from tests.integration.test_projections import history, snapshot

pytestmark = pytest.mark.integration


def test_pages_read_by_plain_select_equal_those_decoded_by_the_mapper(store: JourneyStore) -> None:
    history(store, None, "P-read", 15)
    source = StoreSource(store)
    head = source.head()
    for after in (0, 37, head - 5):
        fast, mapped = source.read(after, 200), source._read_mapped(after, 200)
        assert fast == mapped
        assert fast.events and fast.last > after


def test_an_old_schema_version_is_upcast_even_when_the_current_model_would_accept_it(
    store: JourneyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = {
        "event_id": "obs-v1",
        "type": "observation.recorded",
        "schema_version": 1,
        "patient_id": "P-OLD",
        "occurred_at": "2025-01-02T09:00:00+08:00",
        "recorded_at": "2025-01-02T09:05:00+08:00",
        "source": {"system": "lis", "message_id": "m-1"},
        "observation_id": "O-1",
        "code": {"system": "loinc", "code": "4548-4"},
        "value": 8.1,
        "unit": "%",
    }
    aggregate = PatientJourneys("P-OLD")
    aggregate.trigger_event(PatientJourneys.Recorded, payload=payload)
    store.save(aggregate)

    # Version 2 keeps the shape but counts in per mille: a version-1 payload validates, and would be wrong.
    monkeypatch.setattr(fi.ObservationRecorded, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(UPCASTERS._steps, ("observation.recorded", 1), lambda p: {**p, "value": p["value"] * 10})
    ((_, event),) = StoreSource(store).read(0, 10).events
    assert isinstance(event, fi.ObservationRecorded)
    assert (event.schema_version, event.value) == (2, 81.0)


TABLE_DDL = """
CREATE TABLE t (
    k text PRIMARY KEY, grp text, status text, since integer, note text NOT NULL DEFAULT '',
    flag boolean NOT NULL DEFAULT false, n integer
)
"""
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ops() -> list[Op]:
    """Every rule the statements follow: kept columns, guards, NULLs, defaults, updates found by other columns."""
    return [
        Upsert(
            "t",
            ("k",),
            {"k": "a", "grp": "g", "status": "open", "since": 1},
            keep=("since",),
            keep_while=("status", "open"),
        ),
        Upsert("t", ("k",), {"k": "b", "grp": "g", "status": "open", "since": 2}),
        Upsert("t", ("k",), {"k": "c", "grp": "h", "status": None, "since": 3, "note": "x"}),
        Update("t", {"n": 1}, {"grp": "g", "status": "open"}),  # by a non-key shape: an index from here on
        Upsert(
            "t",
            ("k",),
            {"k": "a", "grp": "g", "status": "open", "since": 9},
            keep=("since",),
            keep_while=("status", "open"),
        ),
        Update("t", {"status": "cleared"}, {"k": "a", "status": "open"}),
        Upsert(
            "t",
            ("k",),
            {"k": "a", "grp": "g", "status": "open", "since": 10},
            keep=("since",),
            keep_while=("status", "open"),
        ),
        Upsert(
            "t",
            ("k",),
            {"k": "c", "grp": "h", "status": "open", "since": 11},
            keep=("since",),
            keep_while=("status", None),
        ),
        Update("t", {"n": 2}, {"grp": "g", "status": "open"}),  # the index followed a's and b's status changes
        Update("t", {"n": 3}, {"grp": "h", "status": None}),  # `status = NULL`: never true
        Update("t", {"n": 4}, {"flag": False, "grp": "h"}),  # c never wrote flag: its default, false
        Update("t", {"note": "y"}, {"note": ""}, unless={"n": 2}),  # defaults in where, IS DISTINCT FROM
        Update("t", {"grp": "h"}, {"k": "b"}, unless={"status": None}),
        Update("t", {"n": 5}, {"grp": "h", "status": "open"}),
        Upsert("t", ("k",), {"k": "d", "grp": "g"}, keep=("grp",)),
        Upsert("t", ("k",), {"k": "d", "grp": "z"}, keep=("grp",)),  # nothing to set: DO NOTHING
        Update("t", {"status": "x"}, {"k": "missing"}),
    ]


def table(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT * FROM t ORDER BY k").fetchall()


def test_folding_in_memory_then_copying_gives_the_rows_the_statements_give(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(TABLE_DDL)
        statements.apply(cur, ops())
        expected = table(conn)
        cur.execute("TRUNCATE t")

        defaults = replay.column_defaults(cur, ["t"])
        assert defaults == {"t": {"note": "", "flag": False}}
        fold = replay.Fold(defaults)
        fold.apply(ops())
        fold.tables["t"].copy_into(cur)
        assert table(conn) == expected
    assert [r[0] for r in expected] == ["a", "b", "c", "d"]


def test_a_default_that_is_not_a_constant_sends_the_rebuild_through_the_statements(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE v (k text PRIMARY KEY, at timestamptz DEFAULT now())")
        assert replay.column_defaults(cur, ["v"]) is None
        assert replay.column_defaults(cur, [t for p in PROJECTIONS for t in p.tables]) is not None
        cur.execute(sql.SQL("DROP TABLE v"))


class FailingSource:
    """The store's log, failing after its first page: a rebuild that dies half-way through its reading."""

    def __init__(self, source: StoreSource) -> None:
        self.inner, self.channel, self.reads = source, source.channel, 0

    def head(self) -> int:
        return self.inner.head()

    def read(self, after: int, limit: int) -> Any:
        self.reads += 1
        if self.reads > 1:
            raise psycopg.OperationalError("the connection went away")
        return self.inner.read(after, 50)


def test_a_rebuild_that_dies_half_way_leaves_empty_tables_at_position_0_and_a_catch_up_recovers(
    store: JourneyStore, database_url: str
) -> None:
    history(store, None, "P-crash", 10)
    with Runner(database_url, StoreSource(store), PROJECTIONS) as following:
        following.catch_up()
        followed = snapshot(database_url)

    with Runner(database_url, FailingSource(StoreSource(store)), PROJECTIONS) as dying:  # type: ignore[arg-type]
        with pytest.raises(psycopg.OperationalError):
            dying.rebuild(progress=False)
        assert set(dying.positions().values()) == {0}  # never past rows not committed
        assert set(dying.row_counts().values()) == {0}

    with Runner(database_url, StoreSource(store), PROJECTIONS) as recovering:
        recovering.catch_up()
        assert snapshot(database_url) == followed
        recovering.rebuild(progress=False)
        assert snapshot(database_url) == followed
