"""Whether a process should run a table's DDL when it starts.

Each process creates and upgrades its own tables at start (CREATE ... IF NOT EXISTS, ALTER TABLE ... ADD COLUMN IF
NOT EXISTS), which only the tables' owner may: under least privilege (`careloop roles apply`, docs/access.md) a
process's login owns nothing, and that DDL is refused even where it would change nothing. The rule: run the DDL
when the table is missing (a fresh database, the embedded stack) or when this login owns it (an upgrade by the
owner); leave it alone when it exists and belongs to another role, whose `careloop roles apply` made it.
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection

OWNED = "SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c WHERE c.oid = to_regclass(%s)"


def may_migrate(conn: Connection[Any], table: str) -> bool:
    """True when ``table`` is missing or this login owns it (directly or through a role it has)."""
    row = conn.execute(OWNED, (table,)).fetchone()
    return row is None or bool(row[0])
