"""`careloop erase`: erase a patient by crypto-shredding, on request or when their retention period is over.

    careloop erase PATIENT --reason request [--ref DSR-2026-0042]
    careloop erase PATIENT --relation REL --reason request [--ref DSR-2026-0042]
    careloop erase --expired [--dry-run]
    careloop erasure-api [--host 127.0.0.1] [--port 8087]

What an erasure does is engine/security/erasure.py's; the services are wired by engine/processes/erasure.py,
imported inside the command so `careloop validate` stays light. `--expired` is meant to run daily from the
deployer's scheduler (docs/security.md): `0 3 * * * careloop erase --expired`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from engine.cli.consoles import consoles
from engine.security.erasure_requests import CODES, REF, REF_PROBLEM, RELATION_ID, RELATION_PROBLEM

if TYPE_CHECKING:
    from engine.processes.erasure import Eraser
    from engine.security.erasure import Erased, RelationErased
    from engine.settings import Settings

out, err = consoles()

PatientArg = Annotated[str | None, typer.Argument(help="The careloop patient id (pt-...) to erase.")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help=f"The ground of the erasure: {', '.join(CODES)}.")]
RefOpt = Annotated[
    str | None,
    typer.Option(
        "--ref",
        help="The request's id in your register of data subject requests (its letters and words stay there: the "
        "audit trail outlives the erasure, so it keeps a reference, never words about the patient).",
    ),
]
ExpiredOpt = Annotated[
    bool, typer.Option("--expired", help="Erase every patient idle longer than CARELOOP_RETENTION_DAYS.")
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="With --expired: list them, erase nothing.")]
RelationOpt = Annotated[
    str | None,
    typer.Option(
        "--relation",
        help="Erase only this relative of the patient's (the relation id `careloop family show` lists): their "
        "relation key is destroyed, their contact deleted, the link ended; the patient is kept.",
    ),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def erase(
    patient: PatientArg = None,
    reason: ReasonOpt = None,
    ref: RefOpt = None,
    expired: ExpiredOpt = False,
    dry_run: DryRunOpt = False,
    relation: RelationOpt = None,
) -> None:
    """Erase a patient (and the ids merged into them): destroy their data key and their relatives' relation keys,
    empty the contact directory and identifier index of them, and publish patient.erased (every journey ends,
    outreach stops, the read models drop them). With --relation, erase one relative of the patient's only."""
    if (patient is None) == (not expired):
        raise _fail("name one patient to erase, or --expired", 2)
    if relation is not None and patient is None:
        raise _fail("--relation names a relative of one patient: give the patient too (not with --expired)", 2)
    if relation is not None and not RELATION_ID.fullmatch(relation):
        raise _fail(f"--relation is {RELATION_PROBLEM}", 2)
    if patient is not None and reason is None:
        raise _fail(f"--reason is required: the ground of the erasure, one of {', '.join(CODES)}", 2)
    if reason is not None and reason not in CODES:
        raise _fail(f"--reason {reason!r} is not one of {', '.join(CODES)}", 2)
    if ref is not None and not REF.fullmatch(ref):
        raise _fail(f"--ref is {REF_PROBLEM}", 2)
    if dry_run and not expired:
        raise _fail("--dry-run goes with --expired", 2)
    with _opened(_settings()) as eraser:
        if patient is not None and relation is not None:
            _erase_relation(eraser, patient, relation, reason or "request", ref)
        elif patient is not None:
            _erase_one(eraser, patient, reason or "request", ref)
        else:
            _erase_expired(eraser, dry_run)


def erasure_api(host: str, port: int) -> None:
    """Serve `careloop erase PATIENT` over HTTP (engine/security/erasure_api.py) until Ctrl-C / SIGTERM: the same
    transport security as every listener (TLS beyond loopback, the clients of CARELOOP_HTTP_CLIENTS)."""
    from connectors.serving import run_until_signalled
    from engine.cli.connect import listening
    from engine.plumbing.health import listener_announcing
    from engine.processes.erasure import ServedEraser
    from engine.security.erasure_api import ROUTE, serve

    settings = _settings()
    how = listening(settings, host, http=True)  # before connecting to anything: its settings may be wrong
    with _opened(settings) as eraser:
        served, limit = ServedEraser(eraser), settings.max_message_bytes
        run_until_signalled(
            lambda ready, stop: serve(served, host, port, ready, stop, limit, **how.options),
            listener_announcing(
                settings.health_port,
                settings.metrics_host,
                lambda: out.print(
                    f"listening on {how.scheme}://{host}:{port} (POST {ROUTE}; {how.mode}); Ctrl-C stops", markup=False
                ),
            ),
        )


def _settings() -> Settings:
    from pydantic import ValidationError

    from engine.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        raise _fail(f"invalid CARELOOP_ settings: {exc.errors(include_url=False)}", 2) from exc


@contextmanager
def _opened(settings: Settings) -> Iterator[Eraser]:
    """The eraser on the deployment's services; the command ends saying what went wrong, in words."""
    from kafka.errors import KafkaError
    from psycopg import Error as DatabaseError
    from psycopg.errors import InsufficientPrivilege

    from engine.plumbing.services import ServicesNotFoundError
    from engine.processes.erasure import open_eraser

    try:
        with open_eraser(settings) as eraser:
            yield eraser
    except ServicesNotFoundError as exc:
        raise _fail(f"{exc} (erasing needs the database and the broker)", 2) from exc
    except InsufficientPrivilege as exc:
        refusal = exc.diag.message_primary or type(exc).__name__
        needs = "erasing needs a login in careloop_eraser (docs/access.md)"
        raise _fail(f"this login may not erase ({refusal}): {needs}") from exc
    except (DatabaseError, KafkaError) as exc:
        raise _fail(f"{type(exc).__name__}: {exc}; every step is idempotent: run the same command again") from exc


def _erase_one(eraser: Eraser, patient: str, code: str, ref: str | None) -> None:
    from engine.security.erasure import Request

    request = Request(patient, code, ref, eraser.tables.login())  # type: ignore[arg-type]  # checked against CODES
    for done in eraser.erase(request):  # the records merged into the patient, then the patient
        _report(eraser, done)


def _erase_relation(eraser: Eraser, patient: str, relation: str, code: str, ref: str | None) -> None:
    from engine.security.erasure import RelationRequest

    request = RelationRequest(patient, relation, code, ref, eraser.tables.login())  # type: ignore[arg-type]
    _report_relation(eraser, eraser.erasure.erase_relation(request, eraser.clock.now()))


def _erase_expired(eraser: Eraser, dry_run: bool) -> None:
    from engine.security.erasure import RETENTION, Request

    if eraser.retention is None:
        raise _fail("CARELOOP_RETENTION_DAYS is not set: no retention period, so nothing expires", 2)
    idle = eraser.expired()
    days = eraser.retention.days
    out.print(f"{len(idle)} patient(s) idle longer than {days} days", markup=False)
    for patient, last in idle:
        if dry_run:
            out.print(f"would erase {patient}: last activity {last.isoformat()}", markup=False)
            continue
        ref = f"retention-{days}d:last-{last.date().isoformat()}"
        _report(eraser, eraser.erasure.erase(Request(patient, "retention", ref, RETENTION), eraser.clock.now()))


def _report(eraser: Eraser, done: Erased) -> None:
    key = (
        f"data key epoch {done.shredded.epoch} destroyed"
        if done.shredded.had_key
        else f"no live data key (epoch {done.shredded.epoch} already erased, or none was made)"
    )
    rows = ", ".join(f"{n} from {table}" for table, n in done.removed.items()) or "no directory tables present"
    out.print(f"erased {done.patient_id}: {key}", markup=False)
    if done.shredded.relations:
        out.print(f"  {done.shredded.relations} relation key(s) of their relatives destroyed", markup=False)
    if done.named_in:
        out.print(f"  {done.named_in} relation key(s) of other patients' links naming them destroyed", markup=False)
    out.print(f"  removed rows: {rows}", markup=False)
    out.print(f"  published patient.erased {done.event.event_id} to {eraser.topic}", markup=False)
    out.print("  recorded in the audit trail (careloop audit --patient ...)", markup=False)


def _report_relation(eraser: Eraser, done: RelationErased) -> None:
    key = (
        f"relation key epoch {done.shredded.epoch} destroyed"
        if done.shredded.had_key
        else f"no live relation key (epoch {done.shredded.epoch} already erased, or none was made)"
    )
    rows = ", ".join(f"{n} from {table}" for table, n in done.removed.items()) or "no directory tables present"
    out.print(f"erased relative {done.relation_id} of {done.patient_id}: {key}; the patient is kept", markup=False)
    out.print(f"  removed rows: {rows}", markup=False)
    out.print(f"  published relationship.erased {done.event.event_id} to {eraser.topic}", markup=False)
    out.print("  recorded in the audit trail (careloop audit --patient ...)", markup=False)
