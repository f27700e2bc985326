"""`careloop tasks`: the human work queue. List tasks from the tasks projection; claim, release and close them.

Claiming, releasing and closing publish task.claimed / task.released / task.closed to the clinical topic, keyed by
the task's patient, so the outcome is archived in the patient's history; the command then waits until the
projection shows the change (the worker and the projection runner must be running). What the projection shows
decides whether a command is allowed: a done task cannot be claimed, nor one someone else holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Column, Table

if TYPE_CHECKING:
    from engine.settings import Settings
    from events.base import Event

tasks_app = typer.Typer(no_args_is_help=True, help="The human task queue: list, claim, release and close tasks.")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

TaskArg = Annotated[str, typer.Argument(help="The task id (see `careloop tasks list`).")]
MeOpt = Annotated[str, typer.Option("--as", help="Your staff id.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Act on a task someone else has claimed.")]
WaitOpt = Annotated[float, typer.Option(min=0, help="Seconds to wait for the tasks table to show it (0: no wait).")]
SYSTEM = "careloop-cli"
Row = dict[str, Any]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def _settings() -> Any:
    from engine.settings import Settings

    return Settings()


def _database_url() -> str:
    from engine.plumbing.services import ServicesNotFoundError, database_url

    try:
        return database_url(_settings())
    except ServicesNotFoundError as exc:
        raise _fail(f"{exc} (CARELOOP_DATABASE_URL holds the tasks table)", 2) from exc


def _connect() -> Any:
    import psycopg

    from engine.plumbing.connections import connect

    try:
        return connect(_database_url(), "careloop-cli")
    except psycopg.Error as exc:
        raise _fail(f"cannot reach PostgreSQL: {str(exc).strip()}") from exc


def _task(conn: Any, task_id: str) -> Row:
    import psycopg

    from projections.tasks import queries

    try:
        row = queries.task(conn, task_id)
    except psycopg.errors.UndefinedTable as exc:
        raise _fail("there is no tasks table yet: start the projections (`careloop projections run`)") from exc
    if row is None:
        raise _fail(f"no task {task_id!r} (see `careloop tasks list`)")
    return row


def _read(conn: Any, task_id: str, action: str) -> Row:
    """The task, its reading recorded in the audit trail (under the caller's PostgreSQL login) before it is shown."""
    from engine.cli.access import record

    row = _task(conn, task_id)
    record(conn, [row["patient_id"]], action, "care", f"task {task_id}")
    return row


def _parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _fail(f"--now {value!r}: expected an ISO date-time with offset, e.g. 2026-03-05T10:00+08:00", 2) from exc
    if moment.tzinfo is None:
        raise _fail(f"--now {value!r}: give the UTC offset, e.g. 2026-03-05T10:00+08:00", 2)
    return moment


@tasks_app.command("list")
def list_tasks(
    queue: Annotated[str | None, typer.Option(help="Only this queue, e.g. psychology.")] = None,
    role: Annotated[str | None, typer.Option(help="Only tasks for this role, e.g. nurse.")] = None,
    status: Annotated[
        list[str] | None, typer.Option(help="open, in_progress, done or escalated; repeatable (default: not done).")
    ] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only tasks past their SLA.")] = False,
    mine: Annotated[str | None, typer.Option("--mine", help="Only tasks claimed by this staff id.")] = None,
    now: Annotated[str | None, typer.Option(help="Judge overdue at this moment (default: now).")] = None,
    purpose: Annotated[
        str, typer.Option(help="Why you read the list: care, operations, audit or erasure (the audit trail's).")
    ] = "care",
    contacts: Annotated[
        bool, typer.Option("--contacts", help="Show each patient's name and phone, to call them (audited as such).")
    ] = False,
) -> None:
    """The work queue: most urgent first, then by SLA due time. Each patient listed is recorded in the audit trail
    first, under your PostgreSQL login; with --contacts, as a read of their contacts, which are revealed with the
    key file (CARELOOP_KEY_FILE)."""
    from engine.cli.access import checked_purpose, record
    from projections.tasks import queries

    checked_purpose(purpose)
    statuses = tuple(status or queries.NOT_DONE)
    unknown = [s for s in statuses if s not in queries.STATUSES]
    if unknown:
        raise _fail(f"--status {unknown[0]!r}: expected one of {', '.join(queries.STATUSES)}", 2)
    moment = _parse_now(now)
    with _connect() as conn:
        _task_table_exists(conn)
        rows = queries.work_queue(
            conn, statuses=statuses, queue=queue, role=role, assignee=mine, overdue_at=moment if overdue else None
        )
        action = "tasks.list.contacts" if contacts else "tasks.list"
        record(conn, [r["patient_id"] for r in rows], action, purpose, f"{len(rows)} task(s)")
        shown = _contacts(conn, [r["patient_id"] for r in rows]) if contacts else {}
    # Ids, status and SLA never wrap (they are copied into commands and scanned); the title takes what is left.
    table = Table(*(Column(name, no_wrap=True) for name in ("task", "patient", "queue", "role", "priority")))
    for name in ("status", "assignee", "SLA due"):
        table.add_column(name, no_wrap=True)
    table.add_column("title", overflow="fold", min_width=12)
    if contacts:
        table.add_column("name", no_wrap=True)
        table.add_column("phone", no_wrap=True)
    for r in rows:
        late = r["status"] != "done" and r["sla_due_at"] < moment
        due = r["sla_due_at"].isoformat(sep=" ", timespec="minutes") + (" OVERDUE" if late else "")
        reach = shown.get(r["patient_id"], ("-", "-")) if contacts else ()
        table.add_row(r["task_id"], r["patient_id"], r["queue"], r["role"] or "-", r["priority"], r["status"],
                      r["assignee"] or "-", due, r["title"], *reach)  # fmt: skip
    # In a pipe or a file there is no terminal width to fit: keep rows whole, one line each, for grep.
    wide = out if out.is_terminal else Console(highlight=False, width=240)
    wide.print(table)
    out.print(f"{len(rows)} task(s)", markup=False)


def _contacts(conn: Any, patients: list[str]) -> dict[str, tuple[str, str]]:
    """Each patient's name and phone from the contact directory, revealed for the reader (engine/security/reading.py):
    a care team login sees only its queues' rows (row-level security), an erased patient reads as erased."""
    from engine.cli.explain import reader
    from engine.dispatch.contacts import SEALED_AS

    rows = conn.execute(
        "SELECT patient_id, name, phone FROM dispatch_contacts WHERE patient_id = ANY(%s)", (sorted(set(patients)),)
    ).fetchall()
    reading = reader(_database_url())

    def clear(pid: str, field: str, value: str | None) -> str:
        return reading.value(pid, SEALED_AS[field], value) if value else "-"

    return {pid: (clear(pid, "name", name), clear(pid, "phone", phone)) for pid, name, phone in rows}


def _task_table_exists(conn: Any) -> None:
    if conn.execute("SELECT to_regclass('tasks')").fetchone()[0] is None:
        raise _fail("there is no tasks table yet: start the projections (`careloop projections run`)")


@tasks_app.command("claim")
def claim(task_id: TaskArg, me: MeOpt, wait: WaitOpt = 30.0) -> None:
    """Take a task: it becomes in_progress with you as assignee."""
    from events.tasks import TaskClaimed

    with _connect() as conn:
        row = _read(conn, task_id, "tasks.claim")
        if row["status"] == "done":
            raise _fail(f"task {task_id} is done ({row['outcome']}, closed by {row['closed_by']}); nothing to claim")
        if row["assignee"] == me:
            out.print(f"task {task_id} is already yours", markup=False)
            return
        if row["assignee"] is not None:
            raise _fail(_held(row, "claim"))
        event = _event(TaskClaimed, row, f"claim:{me}", assignee=me)
        _publish(event)
        _await(conn, task_id, wait, event, lambda r: r["assignee"] == me and r["status"] == "in_progress")
    out.print(f"claimed task {task_id} ({row['title']})", markup=False)


@tasks_app.command("release")
def release(task_id: TaskArg, me: MeOpt, force: ForceOpt = False, wait: WaitOpt = 30.0) -> None:
    """Give a claimed task back to its queue, unassigned."""
    from events.tasks import TaskReleased

    with _connect() as conn:
        row = _read(conn, task_id, "tasks.release")
        if row["status"] == "done" or row["assignee"] is None:
            raise _fail(f"task {task_id} is not claimed (status {row['status']}); nothing to release")
        if row["assignee"] != me and not force:
            raise _fail(_held(row, "release") + ", or pass --force to release it for them")
        event = _event(TaskReleased, row, f"release:{me}", by=me)
        _publish(event)
        _await(conn, task_id, wait, event, lambda r: r["assignee"] is None)
    out.print(f"released task {task_id} back to {row['queue']}", markup=False)


@tasks_app.command("close")
def close(
    task_id: TaskArg,
    outcome: Annotated[str, typer.Option(help="e.g. reached, rebooked, no-answer, declined, not-needed.")],
    me: MeOpt,
    note: Annotated[str | None, typer.Option(help="Free text, kept in the patient's history.")] = None,
    force: ForceOpt = False,
    wait: WaitOpt = 30.0,
) -> None:
    """Finish a task with its outcome; the outcome is archived as task.closed in the patient's history."""
    from events.tasks import TaskClosed

    with _connect() as conn:
        row = _read(conn, task_id, "tasks.close")
        if row["status"] == "done":
            raise _fail(f"task {task_id} is already done ({row['outcome']}, closed by {row['closed_by']})")
        if row["assignee"] not in (None, me) and not force:
            raise _fail(_held(row, "close") + ", or pass --force to close it for them")
        event = _event(TaskClosed, row, f"close:{me}", outcome=outcome, by=me, note=note)
        _publish(event)
        _await(conn, task_id, wait, event, lambda r: r["status"] == "done")
    out.print(f"closed task {task_id}: {outcome}", markup=False)


def _held(row: Row, verb: str) -> str:
    since = row["claimed_at"].isoformat(sep=" ", timespec="minutes") if row["claimed_at"] else "?"
    return (
        f"task {row['task_id']} is claimed by {row['assignee']} (since {since}); you cannot {verb} it. Ask them to "
        f"release it (`careloop tasks release {row['task_id']} --as {row['assignee']}`)"
    )


def _event(cls: type[Event], row: Row, what: str, **fields: Any) -> Event:
    from events.base import Source

    now = datetime.now(UTC)
    source = Source(system=SYSTEM, message_id=f"task:{row['task_id']}:{what}:{now.isoformat()}")
    event: Event = cls.create(
        source=source, patient_id=row["patient_id"], occurred_at=now, recorded_at=now, task_id=row["task_id"], **fields
    )
    return event


def _publish(event: Event) -> None:
    from connectors.publisher import EventPublisher
    from engine.plumbing.kafka_security import kafka_security
    from engine.plumbing.services import ServicesNotFoundError, kafka_bootstrap
    from engine.plumbing.tls import TlsSettingError
    from engine.plumbing.topics import ensure_topics

    settings = _settings()
    try:
        bootstrap, security = kafka_bootstrap(settings), kafka_security(settings)
    except (ServicesNotFoundError, TlsSettingError) as exc:
        raise _fail(str(exc), 2) from exc
    event = _sealed(event, settings)
    try:
        with EventPublisher(bootstrap, ensure_topics(settings, bootstrap).clinical, security=security) as publisher:
            publisher.publish([event], timeout=30)
    except Exception as exc:
        raise _fail(f"Kafka did not acknowledge {event.type}: {type(exc).__name__}: {exc}; nothing changed") from exc


def _sealed(event: Event, settings: Settings) -> Event:
    """What staff typed (a closing note) sealed with the patient's key, as every intake seals what it publishes;
    an event with nothing typed needs no key."""
    from connectors.sealing import Sealer
    from engine.plumbing.services import database_url
    from engine.security.deployment import open_keys
    from engine.security.errors import KeyFileError
    from engine.security.patient_keys_postgres import PostgresPatientKeys
    from engine.security.phi import mask_event

    if mask_event(event, "") == event:
        return event
    try:
        deployment = open_keys(settings.key_file, settings.data_dir)
    except KeyFileError as exc:
        raise _fail(str(exc), 2) from exc
    keys = PostgresPatientKeys(database_url(settings), deployment.provider, name="careloop-tasks-keys")
    try:
        return Sealer(keys, settings.seal_patient_data).event(event)
    finally:
        keys.close()


def _await(conn: Any, task_id: str, wait: float, event: Event, shown: Callable[[Row], bool]) -> None:
    """Poll the tasks table until it shows the change, or say clearly that it was published but not yet shown."""
    deadline = time.monotonic() + wait
    while wait > 0:
        if shown(_task(conn, task_id)):
            return
        if time.monotonic() >= deadline:
            raise _fail(
                f"{event.type} was published (event {event.event_id}) but the tasks table does not show it after "
                f"{wait:.0f} s: are the worker (`careloop worker`) and the projections (`careloop projections run`) "
                "running? It will apply when they catch up"
            )
        time.sleep(0.2)
