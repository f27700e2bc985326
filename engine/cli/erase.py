"""`careloop erase`: erase a patient by crypto-shredding, on request or when their retention period is over.

    careloop erase PATIENT --reason request [--ref DSR-2026-0042]
    careloop erase --expired [--dry-run]

What an erasure does is engine/security/erasure.py's; the services are wired by engine/processes/erasure.py,
imported inside the command so `careloop validate` stays light. `--expired` is meant to run daily from the
deployer's scheduler (docs/security.md): `0 3 * * * careloop erase --expired`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, get_args

import typer
from rich.console import Console

from events.patient import ErasureReason

if TYPE_CHECKING:
    from engine.processes.erasure import Eraser
    from engine.security.erasure import Erased

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
CODES: tuple[str, ...] = get_args(ErasureReason)
# A request's id in the deployer's register, not words: letters, digits and a few separators, as register ids are.
REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")

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


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def erase(
    patient: PatientArg = None,
    reason: ReasonOpt = None,
    ref: RefOpt = None,
    expired: ExpiredOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Erase a patient (and the ids merged into them): destroy their data key, empty the contact directory and
    identifier index of them, and publish patient.erased (every journey ends, outreach stops, the read models drop
    them)."""
    if (patient is None) == (not expired):
        raise _fail("name one patient to erase, or --expired", 2)
    if patient is not None and reason is None:
        raise _fail(f"--reason is required: the ground of the erasure, one of {', '.join(CODES)}", 2)
    if reason is not None and reason not in CODES:
        raise _fail(f"--reason {reason!r} is not one of {', '.join(CODES)}", 2)
    if ref is not None and not REF.fullmatch(ref):
        raise _fail("--ref is a request's id (letters, digits and . _ : / -, at most 64), not words", 2)
    if dry_run and not expired:
        raise _fail("--dry-run goes with --expired", 2)
    from kafka.errors import KafkaError
    from psycopg import Error as DatabaseError
    from psycopg.errors import InsufficientPrivilege
    from pydantic import ValidationError

    from engine.plumbing.services import ServicesNotFoundError
    from engine.processes.erasure import open_eraser
    from engine.settings import Settings

    try:
        with open_eraser(Settings()) as eraser:
            if patient is not None:
                _erase_one(eraser, patient, reason or "request", ref)
            else:
                _erase_expired(eraser, dry_run)
    except ValidationError as exc:
        raise _fail(f"invalid CARELOOP_ settings: {exc.errors(include_url=False)}", 2) from exc
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

    who = eraser.tables.login()
    # The ids merged into the patient are the same person's records, sealed with their own keys: erased with them
    # (found first: erasing the patient deletes the merge rows that link them).
    for pid in [patient, *eraser.tables.merged_into(patient)]:
        request = Request(pid, code, ref, who)  # type: ignore[arg-type]  # checked against CODES above
        _report(eraser, eraser.erasure.erase(request, eraser.clock.now()))


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
    out.print(f"  removed rows: {rows}", markup=False)
    out.print(f"  published patient.erased {done.event.event_id} to {eraser.topic}", markup=False)
    out.print("  recorded in the audit trail (careloop audit --patient ...)", markup=False)
