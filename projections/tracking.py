"""projection_tracking: how far each projection has applied the log. Written in the rows' own transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from psycopg import Connection, Cursor, errors

from projections.errors import ProjectionError

TRACKING_DDL = """
CREATE TABLE IF NOT EXISTS projection_tracking (
    name       text PRIMARY KEY,
    position   bigint      NOT NULL DEFAULT 0,  -- id of the last notification applied; 0: none yet
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""


def register(cursor: Cursor[Any], names: Iterable[str]) -> None:
    """Create the table and a row at position 0 for every projection that has none."""
    cursor.execute(TRACKING_DDL)
    add(cursor, names)


def add(cursor: Cursor[Any], names: Iterable[str]) -> None:
    """A row at position 0 for every projection that has none (the table made already)."""
    cursor.executemany(
        "INSERT INTO projection_tracking (name) VALUES (%s) ON CONFLICT (name) DO NOTHING", [(n,) for n in names]
    )


def positions(conn: Connection[Any]) -> dict[str, tuple[int, datetime]]:
    rows = conn.execute("SELECT name, position, updated_at FROM projection_tracking ORDER BY name").fetchall()
    return {name: (int(position), updated_at) for name, position, updated_at in rows}


# How many of the projections named have a row, and how far the slowest of them is behind the store's head
BEHIND = """
SELECT count(t.name), (SELECT coalesce(max(notification_id), 0) FROM careloop_events) - min(t.position)
FROM unnest(%s::text[]) AS wanted(name) LEFT JOIN projection_tracking AS t USING (name)
"""


def behind(conn: Connection[Any], names: Sequence[str]) -> int | None:
    """Notifications the slowest of ``names`` has still to apply, or None while one of them has no row (or there is
    no table yet). Split over runners, each runner adds only its own group's rows, so one not started yet must not
    leave the others alone looking caught up. ``conn`` in autocommit: a missing table is an error it survives."""
    try:
        row = conn.execute(BEHIND, (list(names),)).fetchone()
    except errors.UndefinedTable:
        return None
    if row is None or row[0] != len(names):
        return None
    return max(int(row[1]), 0)


def lock(cursor: Cursor[Any], name: str) -> int:
    """The projection's position, its row locked until the transaction ends (concurrent runners wait)."""
    row = cursor.execute("SELECT position FROM projection_tracking WHERE name = %s FOR UPDATE", (name,)).fetchone()
    if row is None:
        raise ProjectionError(f"projection {name!r} has no row in projection_tracking; run the runner's setup first")
    return int(row[0])


def advance(cursor: Cursor[Any], name: str, position: int) -> None:
    cursor.execute("UPDATE projection_tracking SET position = %s, updated_at = now() WHERE name = %s", (position, name))
