"""A rebuild in chunks: a bounded stretch of the log folded in memory and written with COPY, in one transaction
with the position it reaches, then the next stretch. Memory holds one chunk's rows, whatever the history's size.

A chunk's operations may touch rows an earlier chunk wrote (a reminder requested in chunk 1 and sent in chunk 2,
an erased patient's rows deleted). Before folding a chunk, every row its operations could reach is loaded from
the table into the fold (locked for the transaction): for an upsert the row with its key, for an update or a
delete the rows whose ``where`` columns take any of the values named (a superset: a row loaded for nothing is left
as it is). The fold then runs with PostgreSQL's semantics over exactly the rows PostgreSQL would see
(projections.replay), and the chunk is written back: loaded rows that changed or went are deleted by ``ctid``,
and every new or changed row is COPied in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import Cursor, sql

from events.base import Event
from projections.base import Changes, Projection
from projections.ops import Op, Upsert
from projections.replay import Fold, FoldedTable
from projections.source import NotificationSource


class Routes:
    """For each class of event, the projections' functions that give its operations, in the projections' order
    (Projection.route: the same operations as ``ops``); found the first time the class is seen. Most projections
    read a few classes, so most events reach two or three of them instead of every one."""

    def __init__(self, projections: Sequence[Projection]) -> None:
        self._projections = tuple(projections)
        self._found: dict[type[Event], tuple[Changes, ...]] = {}

    def __call__(self, cls: type[Event]) -> tuple[Changes, ...]:
        found = self._found.get(cls)
        if found is None:
            routes = (p.route(cls) for p in self._projections)
            found = self._found[cls] = tuple(r for r in routes if r is not None)
        return found


@dataclass(frozen=True, slots=True)
class Chunk:
    """Notifications ``after`` < id <= ``last``: ``events`` careloop events among them, their row operations."""

    after: int
    last: int
    events: int
    ops: list[Op]


@dataclass(slots=True)
class ChunkStats:
    """What a chunked rebuild held at most at once: how a test (and an operator) sees that memory is bounded."""

    chunks: int = 0
    peak_events: int = 0  # careloop events folded in one chunk
    peak_rows: int = 0  # rows held in memory at one chunk's write (created by it, or loaded for it)

    def note(self, chunk: Chunk, rows: int) -> None:
        self.chunks += 1
        self.peak_events = max(self.peak_events, chunk.events)
        self.peak_rows = max(self.peak_rows, rows)


def read_chunk(source: NotificationSource, routes: Routes, after: int, head: int, size: int, page: int) -> Chunk:
    """Up to ``size`` careloop events after ``after`` (and not past ``head``), with their row operations."""
    ops: list[Op] = []
    extend = ops.extend
    events, last = 0, after
    while last < head and events < size:
        read = source.read(last, min(page, size - events))
        if read.empty:
            break
        for seq, event in read.events:
            for change in routes(type(event)):
                extend(change(event, seq))
        events += len(read.events)
        last = read.last
    return Chunk(after, last, events, ops)


def upsert_keys(ops: Iterable[Op], keys: dict[str, tuple[str, ...]]) -> None:
    """Each table's upsert key, learnt from the operations (kept across chunks: only upserts create rows)."""
    for op in ops:
        if isinstance(op, Upsert) and op.table not in keys:
            keys[op.table] = op.key


def load_reached(cursor: Cursor[Any], fold: Fold, ops: Sequence[Op], keys: Mapping[str, tuple[str, ...]]) -> int:
    """Load into ``fold`` the stored rows ``ops`` could reach; return how many. Tables with no upsert key known
    have no rows written by this rebuild, so nothing to load."""
    loaded = 0
    for table, shapes in _lookups(ops).items():
        key = keys.get(table)
        if key is None:
            continue
        folded = fold.table(table)
        folded.keyed(key)
        for columns, values in shapes.items():
            loaded += _load(cursor, folded, columns, values)
    return loaded


def _lookups(ops: Sequence[Op]) -> dict[str, dict[tuple[str, ...], list[set[Any]]]]:
    """Per table and shape of columns, the values each column is looked up by."""
    out: dict[str, dict[tuple[str, ...], list[set[Any]]]] = {}
    for op in ops:
        named = {c: op.values[c] for c in op.key} if isinstance(op, Upsert) else op.where
        if not named or None in named.values():
            continue  # `c = NULL` reaches nothing; an upsert's key is never NULL
        columns = tuple(sorted(named))
        sets = out.setdefault(op.table, {}).setdefault(columns, [set() for _ in columns])
        for i, c in enumerate(columns):
            sets[i].add(named[c])
    return out


def _load(cursor: Cursor[Any], folded: FoldedTable, columns: tuple[str, ...], values: list[set[Any]]) -> int:
    query = sql.SQL("SELECT ctid::text, * FROM {t} WHERE {conds} FOR UPDATE").format(
        t=sql.Identifier(folded.name),
        conds=sql.SQL(" AND ").join(sql.SQL("{} = ANY(%s)").format(sql.Identifier(c)) for c in columns),
    )
    cursor.execute(query, [list(v) for v in values])
    names = [d.name for d in cursor.description or ()][1:]
    count = 0
    for ctid, *row in cursor.fetchall():
        count += folded.load(ctid, dict(zip(names, row, strict=True)))
    return count


def write_chunk(cursor: Cursor[Any], fold: Fold, tables: Iterable[str]) -> int:
    """Delete the loaded rows the chunk changed or removed, COPY its new and changed rows; return rows held."""
    held = 0
    for table in tables:
        folded = fold.tables.get(table)
        if folded is None:
            continue
        held += len(folded.rows)
        stale, written = folded.changed()
        if stale:
            delete = sql.SQL("DELETE FROM {} WHERE ctid = ANY(%s::tid[])").format(sql.Identifier(table))
            cursor.execute(delete, (stale,))
        folded.copy_into(cursor, written)
    return held
