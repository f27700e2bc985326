"""`careloop timeline PATIENT`: a patient's history in words, from the patient_timeline read model; recorded in the
audit trail first, under the caller's PostgreSQL login."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from engine.cli.moments import parse_moment

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def timeline(
    patient: Annotated[str, typer.Argument(help="The careloop patient id.")],
    since: Annotated[str | None, typer.Option(help="From this date or date-time on.")] = None,
    until: Annotated[str | None, typer.Option(help="Before this date or date-time.")] = None,
    purpose: Annotated[
        str, typer.Option(help="Why you read the patient: care, operations, audit or erasure (the audit trail's).")
    ] = "care",
) -> None:
    """A patient's history in words: clinical events and the engine's decisions, with why."""
    import psycopg

    from engine.cli.access import checked_purpose, connect_cli, record
    from engine.cli.explain import reader
    from engine.cli.projections import _database_url
    from projections.patient_timeline import queries

    checked_purpose(purpose)
    start, end = parse_moment("--since", since, None), parse_moment("--until", until, None)
    with connect_cli() as conn:
        record(conn, [patient], "timeline", purpose)
        try:
            rows = queries.for_patient(conn, patient, start, end)
        except psycopg.errors.UndefinedTable as exc:
            err.print("error: there is no patient_timeline yet: start the projections", markup=False)
            raise typer.Exit(1) from exc
    if not rows:
        err.print(f"error: no timeline for patient {patient!r} (or not one your login may read)", markup=False)
        raise typer.Exit(1)
    out.print(f"patient {patient}", markup=False)
    revealing = reader(_database_url())  # a reason typed by staff (a pause's) rests sealed: shown in clear
    for r in rows:
        when = r["at"].isoformat(sep=" ", timespec="minutes")
        out.print(f"  {when}  {r['journey_id'] or '-':<26} {r['kind']:<22} {r['detail']}", markup=False)
        if r["reason"]:
            out.print(f"  {'':<22}  why: {revealing.value(patient, 'reason', r['reason'])}", markup=False)
