"""The thin SQL layer renders each row operation as one parameterised statement; the mappings stay pure."""

from __future__ import annotations

import ast
from pathlib import Path

from projections.catalog import PROJECTIONS
from projections.ops import Update, Upsert
from projections.sql import statement

ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = ("psycopg", "eventsourcing", "engine.store", "projections.sql", "projections.runner")


def rendered(op):
    query, params = statement(op)
    return query.decode(), params


def test_an_upsert_inserts_the_row_or_overwrites_its_non_key_columns():
    op = Upsert("tasks", ("task_id",), {"task_id": "t1", "queue": "care-team", "status": "open"})

    assert rendered(op) == (
        'INSERT INTO "tasks" ("task_id", "queue", "status") VALUES (%s, %s, %s) ON CONFLICT ("task_id") '
        'DO UPDATE SET "queue" = EXCLUDED."queue", "status" = EXCLUDED."status"',
        ("t1", "care-team", "open"),
    )


def test_kept_columns_are_written_only_for_a_new_row_or_while_the_guard_holds():
    always = Upsert("t", ("k",), {"k": 1, "status": "open"}, keep=("status",))
    guarded = Upsert(
        "t", ("k",), {"k": 1, "since": 5, "status": "open"}, keep=("since",), keep_while=("status", "open")
    )

    assert rendered(always)[0].endswith('ON CONFLICT ("k") DO NOTHING')
    query, params = rendered(guarded)
    assert query.endswith(
        'DO UPDATE SET "since" = CASE WHEN "t"."status" = %s THEN "t"."since" ELSE EXCLUDED."since" END, '
        '"status" = EXCLUDED."status"'
    )
    assert params == (1, 5, "open", "open")


def test_an_update_sets_values_where_columns_match_unless_they_match_the_exceptions():
    op = Update("reminder_queue", {"status": "failed"}, {"message_id": "m"}, unless={"status": "sent"})

    assert rendered(op) == (
        'UPDATE "reminder_queue" SET "status" = %s WHERE "message_id" = %s AND "status" IS DISTINCT FROM %s',
        ("failed", "m", "sent"),
    )


def test_the_event_to_row_mappings_import_no_database_driver():
    mappings = [*ROOT.glob("projections/*/projection.py"), ROOT / "projections" / "ops.py"]
    assert len(mappings) == len(PROJECTIONS) + 1  # every projection's mapping is checked, and ops.py
    for path in mappings:
        tree = ast.parse(path.read_text())
        modules = {
            (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert not {m for m in modules for f in FORBIDDEN if m == f or m.startswith(f + ".")}, path
