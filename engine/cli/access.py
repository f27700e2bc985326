"""`careloop roles` (the deployer's: tables, group roles, grants, queues) and `careloop audit` (who read which
patient's data, for what, when)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import typer

from engine.cli.consoles import consoles

roles_app = typer.Typer(
    no_args_is_help=True, help="PostgreSQL roles: create the tables, roles and grants; set care teams' queues."
)
audit_app = typer.Typer(
    invoke_without_command=True, help="The audit trail of reads of patient data: query it, expire old rows."
)
out, err = consoles()

PurposeOpt = Annotated[
    str, typer.Option(help="Why you read it: care, operations, audit or erasure (recorded in the audit trail).")
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def connect_cli() -> Any:
    """The CLI's connection to CARELOOP_DATABASE_URL, under the caller's login; a clear error if unreachable."""
    import psycopg

    from engine.cli.projections import _database_url
    from engine.plumbing.connections import connect

    try:
        return connect(_database_url(), "careloop-cli")
    except psycopg.Error as exc:
        raise _fail(f"cannot reach PostgreSQL: {str(exc).strip()}") from exc


@roles_app.command("apply")
def apply() -> None:
    """Create every careloop table, the group roles, their grants, row-level security and the analytics schema.
    Idempotent; run as the tables' owner (a login that may create roles) before starting careloop's processes."""
    import psycopg

    from engine.access import roles
    from engine.cli.projections import _database_url

    try:
        roles.apply(_database_url())
    except roles.NotOwnerError as exc:
        raise _fail(str(exc)) from exc
    except psycopg.Error as exc:
        raise _fail(f"cannot apply the roles: {str(exc).strip()}") from exc
    for name, who in roles.ROLES.items():
        out.print(f"{name:<22} {who}", markup=False)
    out.print("roles applied: grant them to login roles (GRANT careloop_care_team TO <login>)", markup=False)


@roles_app.command("queues")
def queues(
    login: Annotated[str | None, typer.Argument(help="A care team member's PostgreSQL login.")] = None,
    queue: Annotated[list[str] | None, typer.Option(help="A task queue this login works on; repeatable.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Take every queue away from the login.")] = False,
) -> None:
    """Which task queues a care team login sees (tasks, and those tasks' patients' contacts); without options, list
    every login's queues."""
    from engine.access import roles

    if login is None and (queue or clear):
        raise _fail("name the login whose queues to set", 2)
    with connect_cli() as conn:
        if login is not None and (queue or clear):
            roles.set_queues(conn, login, [] if clear else queue or [])
        for name, names in roles.queues(conn).items():
            if login in (None, name):
                out.print(f"{name}: {', '.join(names)}", markup=False)


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    days = value.removesuffix("d")
    if days.isdigit() and value.endswith("d"):
        return datetime.now().astimezone() - timedelta(days=int(days))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _fail(f"--since {value!r}: expected an ISO date or date-time, or days back such as 30d", 2) from exc
    return moment if moment.tzinfo else moment.astimezone()


@audit_app.callback()
def audit(
    ctx: typer.Context,
    patient: Annotated[str | None, typer.Option(help="Only reads of this patient.")] = None,
    who: Annotated[str | None, typer.Option(help="Only reads by this PostgreSQL login.")] = None,
    since: Annotated[str | None, typer.Option(help="Only from this date or date-time on, or days back: 30d.")] = None,
    purpose: PurposeOpt = "audit",
) -> None:
    """Who read which patient's data through careloop, for what, when; oldest first. Reading the trail is itself
    recorded (as audit.query, with the patient asked about)."""
    if ctx.invoked_subcommand is not None:
        return
    checked_purpose(purpose)
    moment = _since(since)
    with connect_cli() as conn:
        _record(conn, patient, "audit.query", purpose, f"who={'given' if who else 'any'}")
        found = _read(conn, patient, who, moment)
    for e in found:
        when = e.at.isoformat(sep=" ", timespec="seconds")
        out.print(f"{when}  {e.who:<20} {e.patient_id or '-':<26} {e.action:<14} {e.purpose:<10} {e.detail}",
                  markup=False)  # fmt: skip
    out.print(f"{len(found)} audit row(s)", markup=False)


def _read(conn: Any, patient: str | None, who: str | None, since: datetime | None) -> list[Any]:
    import psycopg

    from engine.access import audit as trail

    try:
        return trail.entries(conn, patient_id=patient, who=who, since=since)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise _fail("your login may not read the audit trail: it needs the careloop_auditor role") from exc


def _record(conn: Any, patient: str | None, action: str, purpose: str, detail: str = "") -> None:
    record(conn, [patient], action, purpose, detail)


def checked_purpose(purpose: str) -> str:
    """--purpose, refused before anything is read when it is not one the audit trail knows."""
    from engine.access import audit as trail

    try:
        return trail.check_purpose(purpose)
    except trail.PurposeError as exc:
        raise _fail(f"--purpose: {exc}", 2) from exc


def audited(patients: list[str | None], action: str, purpose: str, detail: str = "") -> None:
    """The audit rows of a read through its own connection (autocommitted: kept whatever the read does next)."""
    checked_purpose(purpose)
    with connect_cli() as conn:
        record(conn, patients, action, purpose, detail)


def record(conn: Any, patients: list[str | None], action: str, purpose: str, detail: str = "") -> None:
    """The audit rows of a read, before it: a purpose not known, a trail missing or not writable stops the read."""
    import psycopg

    from engine.access import audit as trail

    try:
        trail.record_many(conn, patients, action, purpose, detail)
    except trail.PurposeError as exc:
        raise _fail(f"--purpose: {exc}", 2) from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise _fail(
            "your login may not write the audit trail (or it is missing and yours may not create it: `careloop roles "
            "apply`), so careloop shows no patient data"
        ) from exc


@audit_app.command("expire")
def expire(
    keep_days: Annotated[
        int,
        typer.Option(envvar="CARELOOP_AUDIT_RETENTION_DAYS", help="Keep this many days (at least 183: six months)."),
    ] = 366,
) -> None:
    """Delete the audit rows older than the retention, through the table's own function (the owner's)."""
    import psycopg

    from engine.access import audit as trail

    if keep_days < trail.MIN_RETENTION_DAYS:
        raise _fail(f"--keep-days {keep_days}: the audit trail is kept at least {trail.MIN_RETENTION_DAYS} days", 2)
    with connect_cli() as conn:
        try:
            gone = trail.expire(conn, keep_days)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise _fail("only the owner of careloop's tables may expire the audit trail") from exc
    out.print(f"{gone} audit row(s) older than {keep_days} days deleted", markup=False)
