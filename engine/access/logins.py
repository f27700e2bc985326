"""A login per process for a stack that owns its PostgreSQL (the embedded one of `careloop up` and the demo).

A deployer makes these by hand (docs/access.md); a stack that created its own database server does it for them,
as the owner, after `careloop roles apply`: each process then runs under a login whose only rights are its
careloop_* role's, as in production. The embedded server trusts loopback logins (engine/embedded/postgres.py),
so a login's URL is the owner's with the login as its user, and no password is made or kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from psycopg import Connection, sql

from engine.access.roles import LOCK
from engine.plumbing.connections import connect

# process -> (its login, the group role the login gets); the careloop commands each runs: PROCESS_OF
LOGINS: Mapping[str, tuple[str, str]] = {
    "worker": ("careloop_stack_worker", "careloop_worker"),
    "projections": ("careloop_stack_projections", "careloop_projections"),
    "dispatcher": ("careloop_stack_dispatcher", "careloop_dispatcher"),
    "intake": ("careloop_stack_intake", "careloop_intake"),
    "loyalty": ("careloop_stack_loyalty", "careloop_loyalty_desk"),
}
# the careloop command (its first word) -> the process whose login runs it
PROCESS_OF: Mapping[str, str] = {
    "worker": "worker",
    "projections": "projections",
    "dispatch": "dispatcher",
    **{command: "intake" for command in ("publish", "mllp", "fhir-intake", "webhook", "outreach")},
    "loyalty-api": "loyalty",
}
SETUP = "careloop-logins"  # the application_name of the owner's connection making them


def create(owner_url: str) -> dict[str, str]:
    """Each process's login, made if missing and granted its role (idempotent; roles are the server's, so a second
    database on the same server shares them); the URL each connects with."""
    with connect(owner_url, SETUP) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (LOCK,))
        for login, role in LOGINS.values():
            _login(conn, login, role)
    return {process: as_login(owner_url, login) for process, (login, _) in LOGINS.items()}


def _login(conn: Connection[Any], login: str, role: str) -> None:
    name = sql.Identifier(login)
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone() is None:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(name))
    # no power beyond its role's, whatever an earlier careloop or a person gave it
    conn.execute(sql.SQL("ALTER ROLE {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS").format(name))
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), name))


def as_login(database_url: str, login: str) -> str:
    """``database_url`` with ``login`` as its user and no password (the server trusts loopback logins)."""
    parts = urlsplit(database_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{quote(login, safe='')}@{host}"))


def for_command(logins: Mapping[str, str], args: tuple[str, ...]) -> str | None:
    """The URL of the login that runs ``careloop <args>``; None for a command no process login runs."""
    process = PROCESS_OF.get(args[0]) if args else None
    return logins.get(process) if process is not None else None
