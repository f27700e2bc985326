"""Whether a process should run a table's DDL when it starts.

Each process creates and upgrades its own tables at start (CREATE ... IF NOT EXISTS, ALTER TABLE ... ADD COLUMN IF
NOT EXISTS), which only the tables' owner may: under least privilege (`careloop roles apply`, docs/access.md) a
process's login owns nothing, and that DDL is refused even where it would change nothing. The rule: run the DDL
when the table is missing (a fresh database, the embedded stack) or when this login owns it (an upgrade by the
owner); leave it alone when it exists and belongs to another role, whose `careloop roles apply` made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import Connection

OWNED = "SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c WHERE c.oid = to_regclass(%s)"
# each table: whether it is there, and whether this login owns it (a missing one counts as owned: it may make it)
STATES = """
SELECT t.name, c.oid IS NOT NULL, coalesce(pg_has_role(current_user, c.relowner, 'USAGE'), true)
FROM unnest(%s::text[]) WITH ORDINALITY AS t(name, n) LEFT JOIN pg_class c ON c.oid = to_regclass(t.name)
ORDER BY t.n
"""
MAY_CREATE = "SELECT current_user, has_schema_privilege(current_user, current_schema(), 'CREATE')"


class TablesNotReadyError(RuntimeError):
    """A table a process needs is missing, or cannot be made as its DDL would, and its login may not create it."""

    def __init__(self, process: str, login: str, tables: Sequence[str], why: str) -> None:
        super().__init__(
            f"{process} needs the table(s) {', '.join(tables)}, {why}, and its login {login} may not create them: "
            "run `careloop roles apply` as the owner of careloop's tables first (docs/access.md)"
        )


def may_migrate(conn: Connection[Any], table: str) -> bool:
    """True when ``table`` is missing or this login owns it (directly or through a role it has)."""
    row = conn.execute(OWNED, (table,)).fetchone()
    return row is None or bool(row[0])


def migrates(conn: Connection[Any], tables: Sequence[str], process: str) -> bool:
    """Whether ``process`` runs the DDL of ``tables`` now: True when each is missing or this login's, False when
    they are all there and some are another role's (`careloop roles apply` made them). TablesNotReadyError, before
    any DDL is tried, when some are missing and this login may not make them: another role's tables beside them,
    or no CREATE on the schema (PostgreSQL 15 gives none to PUBLIC)."""
    states = conn.execute(STATES, (list(tables),)).fetchall()
    missing = [str(name) for name, found, _ in states if not found]
    foreign = [str(name) for name, found, owned in states if found and not owned]
    if not missing:
        return not foreign
    row = conn.execute(MAY_CREATE).fetchone()
    login, may_create = (str(row[0]), bool(row[1])) if row else ("?", False)
    if foreign:
        raise TablesNotReadyError(process, login, missing, f"missing beside {', '.join(foreign)} of another role")
    if not may_create:
        raise TablesNotReadyError(process, login, missing, "which are missing")
    return True
