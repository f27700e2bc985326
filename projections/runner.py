"""The projection runner: the event store's notification log, followed page by page into the read models.

The following itself (paging, LISTEN with polling as the fallback, reconnects, retries, stopping) is
engine/plumbing/log_follower.py's, shared with the dispatcher and the engine-topic relay. What is the runner's: for each
projection it maps a page to row operations and writes the rows AND the new position in ONE transaction, after
checking (with the tracking row locked) that the position is still the one the page was read after. A page is
therefore applied once, even by two runners at a time or after a crash between read and commit; and the row
operations are upserts and updates keyed by stable ids, and deletes of an erased patient's rows, so applying a page
again anyway changes nothing.

Why our own runner rather than eventsourcing's ProjectionRunner: that one processes and commits one event per
transaction (a tracking record per event), which costs an fsync each; batching a page (1,000 notifications) per
transaction is what makes following the log cheap (BENCHMARKS.md, "What changed since the first run").

A rebuild does not go page by page through the statements: it folds the row operations of a chunk of the log in
memory (projections.replay: PostgreSQL's semantics, each row in its final state) over the stored rows they reach,
and writes the rows with COPY, with the positions, in one transaction per chunk (projections.chunks), several
times faster (BENCHMARKS.md, "Rebuild"); memory holds one chunk, whatever the history's length.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from types import TracebackType
from typing import Any

import psycopg
from psycopg import sql as pgsql
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from engine.access.ownership import migrates
from engine.plumbing.kept_connection import KeptConnection
from engine.plumbing.log_follower import LogFollower, LogGapError, Notifications
from projections import chunks, replay, sql, tracking
from projections.base import Projection
from projections.errors import ProjectionError, UnknownProjectionError
from projections.source import NotificationSource, Page

log = logging.getLogger(__name__)
NAME = "careloop-projections"  # the runner's connections, as PostgreSQL's pg_stat_activity names them
Progressed = Callable[[int], None]  # called with the slowest position after each round of pages
REBUILD_PAGE_SIZE = 10_000  # a rebuild reads in pages this large at least: fewer round trips, no transaction each
REBUILD_CHUNK_SIZE = 200_000  # events a rebuild folds in memory before writing them (~1.6 rows held per event)


class Runner:
    def __init__(
        self,
        database_url: str,
        source: NotificationSource,
        projections: Sequence[Projection],
        page_size: int = 1000,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self._url = database_url
        self._source = source
        self._projections = {p.name: p for p in projections}
        self._page_size = page_size
        self._db = KeptConnection(database_url, NAME)
        self.last_rebuild = chunks.ChunkStats()  # what the last rebuild held at most in memory

    # --- lifecycle -------------------------------------------------------------------------------------------

    def __enter__(self) -> Runner:
        self.setup()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @property
    def _conn(self) -> psycopg.Connection[Any]:
        return self._db.connection  # autocommit: transactions are explicit blocks

    def setup(self) -> None:
        """Create the tracking table and every projection's tables (idempotent); where `careloop roles apply` made
        them for another role, only the tracking rows of projections that have none (engine/access/ownership.py)."""
        tables = ["projection_tracking", *(t for p in self._projections.values() for t in p.tables)]
        with self._conn.transaction(), self._conn.cursor() as cur:
            # Runners of several groups starting together on a new database would each create projection_tracking:
            # CREATE TABLE IF NOT EXISTS is not safe against a concurrent one (a duplicate key in pg_type), so
            # one at a time
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('careloop-projections-schema'))")
            if not migrates(self._conn, tables, "the projection runner"):
                tracking.add(cur, self._projections)
                return
            tracking.register(cur, self._projections)
            for p in self._projections.values():
                cur.execute(p.schema_sql())

    # --- state -----------------------------------------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        known = tracking.positions(self._conn)
        return {name: known.get(name, (0, None))[0] for name in self._projections}

    def lag(self) -> dict[str, int]:
        """Notifications each projection has still to apply: head - position."""
        head = self._source.head()
        return {name: max(head - position, 0) for name, position in self.positions().items()}

    def row_counts(self, name: str | None = None) -> dict[str, int]:
        counts = {}
        for p in self._chosen(name):
            for table in p.tables:
                query = pgsql.SQL("SELECT count(*) FROM {}").format(pgsql.Identifier(table))
                row = self._conn.execute(query).fetchone()
                counts[table] = int(row[0]) if row else 0
        return counts

    # --- applying --------------------------------------------------------------------------------------------

    def apply_page(self, projection: Projection, page: Page) -> bool:
        """One page into one projection: rows and position in one transaction. False, writing nothing, when
        the projection is no longer at ``page.after`` (another runner, or this page was applied already)."""
        ops = [op for seq, event in page.events for op in projection.ops(event, seq)]
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                if tracking.lock(cur, projection.name) != page.after:
                    return False
                sql.apply(cur, ops)
                tracking.advance(cur, projection.name, page.last)
        except psycopg.Error as exc:
            raise ProjectionError(
                f"projection {projection.name} failed on notifications {page.after + 1}..{page.last}: {exc}"
            ) from exc
        return True

    def catch_up(self, on_progress: Progressed | None = None) -> int:
        """Apply pages until every projection reaches the head as it was when called; return events read."""
        return self._catch_up(tuple(self._projections.values()), self._source.head(), on_progress)

    def _catch_up(self, chosen: Sequence[Projection], head: int, on_progress: Progressed | None) -> int:
        # Projections at the same position share one read of the page (all of them, during a rebuild).
        with _gaps_reported():
            return self._follower(chosen).catch_up(head, on_progress)

    def _follower(self, chosen: Sequence[Projection], poll_interval: float = 5.0) -> LogFollower[Page]:
        notifications = Notifications(self._url, self._source.channel, NAME)
        return LogFollower(
            self._source,
            _Tracked(self, chosen),
            self._page_size,
            notifications=notifications,
            poll_interval=poll_interval,
            on_retry=_retrying,
        )

    def rebuild(self, name: str | None = None, progress: bool = True, chunk_size: int = REBUILD_CHUNK_SIZE) -> int:
        """Empty the projection's tables (all projections' with no name), reset its position, and replay the
        whole log; return the events read.

        The replay folds the row operations of ``chunk_size`` events at a time in memory (projections.chunks)
        and writes the rows with COPY, with the position, one transaction per chunk: readers see the tables
        fill chunk by chunk, each time whole at the position written with them, as when a follower catches up.
        A crash leaves the tables at the last chunk written, from where a follower goes on (or a rebuild starts
        again). Tables whose defaults cannot be folded are replayed page by page through the statements instead."""
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        chosen = self._chosen(name)
        self.setup()
        with self._conn.transaction(), self._conn.cursor() as cur:
            for p in chosen:
                tracking.lock(cur, p.name)
                cur.execute(pgsql.SQL("TRUNCATE {}").format(_tables(p)))
                tracking.advance(cur, p.name, 0)
            defaults = replay.column_defaults(cur, [t for p in chosen for t in p.tables])
        head = self._source.head()
        replaying = (
            self._catch_up if defaults is None else partial(self._fold, defaults=defaults, chunk_size=chunk_size)
        )
        if not progress:
            return replaying(chosen, head, None)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True)) as bar:
            label = f"rebuilding {', '.join(p.name for p in chosen)}"
            task = bar.add_task(label, total=head)
            return replaying(chosen, head, lambda position: bar.update(task, completed=position))

    def _fold(
        self,
        chosen: Sequence[Projection],
        head: int,
        on_progress: Progressed | None,
        defaults: dict[str, dict[str, Any]],
        chunk_size: int,
    ) -> int:
        """Read the log up to ``head`` in chunks of ``chunk_size`` events; fold each in memory over the stored rows
        it reaches and write them and the position reached in one transaction (projections.chunks)."""
        # A chunk holds many rows, allocated a few at a time: the cyclic collector would walk them all again and
        # again (BENCHMARKS.md, "What changed since the first run"). They hold no cycles; it runs between chunks.
        collecting = gc.isenabled()
        stats = self.last_rebuild = chunks.ChunkStats()
        keys: dict[str, tuple[str, ...]] = {}
        routes = chunks.Routes(chosen)
        read = after = 0
        while after < head:
            gc.disable()
            try:
                chunk = chunks.read_chunk(self._source, routes, after, head, chunk_size, self._rebuild_page)
                if chunk.last == after:
                    raise ProjectionError(f"the log has no notification after {after} although its head is {head}")
                stats.note(chunk, self._write_chunk(chosen, chunk, defaults, keys))
            finally:
                if collecting:
                    gc.enable()
            read, after = read + chunk.events, chunk.last
            if on_progress is not None:
                on_progress(after)
        return read

    @property
    def _rebuild_page(self) -> int:
        return max(self._page_size, REBUILD_PAGE_SIZE)

    def _write_chunk(
        self,
        chosen: Sequence[Projection],
        chunk: chunks.Chunk,
        defaults: dict[str, dict[str, Any]],
        keys: dict[str, tuple[str, ...]],
    ) -> int:
        """One chunk's rows and every chosen projection's position in one transaction; return the rows held.
        The first chunk starts from empty tables, whatever another runner wrote meanwhile; a later one checks
        that no other runner moved the positions since the chunk before."""
        fold = replay.Fold(defaults)
        chunks.upsert_keys(chunk.ops, keys)
        tables = [t for p in chosen for t in p.tables]
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                for p in chosen:
                    position = tracking.lock(cur, p.name)
                    if chunk.after == 0:
                        cur.execute(pgsql.SQL("TRUNCATE {}").format(_tables(p)))
                    elif position != chunk.after:
                        raise ProjectionError(
                            f"rebuilding {p.name}: another runner moved it from {chunk.after} to {position} during "
                            "the rebuild; its tables are whole at that position and it goes on from there (stop "
                            "it and rebuild again for a rebuild alone)"
                        )
                if chunk.after > 0:
                    chunks.load_reached(cur, fold, chunk.ops, keys)
                fold.apply(chunk.ops)
                held = chunks.write_chunk(cur, fold, tables)
                for p in chosen:
                    tracking.advance(cur, p.name, chunk.last)
        except psycopg.Error as exc:
            names = ", ".join(p.name for p in chosen)
            raise ProjectionError(
                f"rebuilding {names} failed writing notifications {chunk.after + 1}..{chunk.last}: {exc}"
            ) from exc
        return held

    def _chosen(self, name: str | None) -> tuple[Projection, ...]:
        if name is None:
            return tuple(self._projections.values())
        if name not in self._projections:
            raise UnknownProjectionError(name, list(self._projections))
        return (self._projections[name],)

    # --- following -------------------------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event, poll_interval: float = 5.0) -> None:
        """Catch up, then wait for the store's NOTIFY (or ``poll_interval`` at most) and catch up again, until
        ``stop`` is set. LISTEN starts before the first catch-up, so no notification falls in between; PostgreSQL
        restarting or unreachable is waited out."""
        self.setup()
        with _gaps_reported():
            self._follower(tuple(self._projections.values()), poll_interval).run(stop)


class _Tracked:
    """The chosen projections as the log follower's readers: positions in projection_tracking, pages applied
    with their rows in one transaction."""

    def __init__(self, runner: Runner, chosen: Sequence[Projection]) -> None:
        self._runner = runner
        self._chosen = {p.name: p for p in chosen}

    def positions(self) -> Mapping[str, int]:
        return {name: position for name, position in self._runner.positions().items() if name in self._chosen}

    def apply(self, name: str, page: Page) -> bool:
        return self._runner.apply_page(self._chosen[name], page)

    def close(self) -> None:
        self._runner.close()


@contextmanager
def _gaps_reported() -> Iterator[None]:
    try:
        yield
    except LogGapError as exc:
        raise ProjectionError(str(exc)) from exc


def _retrying(exc: BaseException, delay: float) -> None:
    log.warning("projection catch-up failed (%s); retrying in %.1f s", exc, delay)


def _tables(p: Projection) -> pgsql.Composable:
    return pgsql.SQL(", ").join(pgsql.Identifier(t) for t in p.tables)
