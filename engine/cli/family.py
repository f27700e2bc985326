"""`careloop family`: a patient's relatives (issue 18 §2).

`family consent PATIENT RELATION ...`: the patient's separate consent for one relative, or its withdrawal, published
through the outreach intake (as POST /relationships/consent).

`family show PATIENT [--contacts]`: each link from the relationships read model (role, legal guardian, since, active
or ended and why) and what the patient's separate consent lets the relative receive (purpose/information, also or
instead, who granted it, the form, until when); a link without consent receives nothing, and the line says so.
Recorded in the audit trail first, under the caller's PostgreSQL login (``family.show``); with ``--contacts`` as a
read of the relatives' contacts (``family.show.contacts``), which rest sealed under each relative's relation key and
are revealed with the key file (an erased relative reads as erased). The read model holds no name or phone."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

import typer
from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
family_app = typer.Typer(help="A patient's relatives: their links, their consent and, audited, how to reach them.")

_LINKS = """
SELECT relation_id, role, role_code, legal_guardian, related_patient_id, since, active, ended_on, end_reason
FROM relationships WHERE patient_id = %s ORDER BY active DESC, role, relation_id
"""
_CONSENTS = """
SELECT relation_id, purpose, information, delivery, granted_by, basis_ref, expires_on, granted_at
FROM relationship_consents WHERE patient_id = %s ORDER BY relation_id, purpose, information
"""
_REACH = "SELECT relation_id, name, phone FROM dispatch_relative_contacts WHERE patient_id = %s"


@family_app.command("consent")
def consent(
    patient: Annotated[str, typer.Argument(help="The careloop patient id (the subject).")],
    relation: Annotated[str, typer.Argument(help="The relative's relation id (careloop family show).")],
    purposes: Annotated[list[str], typer.Option("--purposes", help="care, transactional or marketing; repeatable.")],
    information: Annotated[
        list[str] | None,
        typer.Option(help="appointments, reminders, results, questionnaires, vaccinations, campaigns, greetings."),
    ] = None,
    withdraw: Annotated[bool, typer.Option("--withdraw", help="Withdraw (no --information: all of it).")] = False,
    delivery: Annotated[str | None, typer.Option(help="also (default) or instead of the patient.")] = None,
    granted_by: Annotated[str | None, typer.Option(help="patient or guardian (a child's: the guardian).")] = None,
    ref: Annotated[str | None, typer.Option(help="The signed form's reference in the hospital's records.")] = None,
    expires: Annotated[str | None, typer.Option(help="The consent lapses after this day (YYYY-MM-DD).")] = None,
    by: Annotated[str | None, typer.Option(help="--withdraw: who recorded it (a staff id).")] = None,
    at: Annotated[str | None, typer.Option(help="When it was given, ISO 8601 with offset (default: now).")] = None,
    request_id: Annotated[str | None, typer.Option(help="Your id for this request (a retry keeps its event).")] = None,
) -> None:
    """Record the patient's separate consent (PIPL Art. 23/29; a child's: the guardian's, Art. 31) that a relative
    may receive messages of these purposes about this information, or its withdrawal. Published as
    relationship.consent_granted / .consent_withdrawn through the outreach intake (as POST /relationships/consent)."""
    from engine.cli.outreach import post

    status = "withdrawn" if withdraw else "granted"
    post("relationship_consent", {"patient_id": patient, "relation_id": relation, "status": status,
                                  "purposes": purposes, "information": information or [], "delivery": delivery,
                                  "granted_by": granted_by, "basis_ref": ref, "expires_on": expires, "by": by,
                                  "at": at, "request_id": request_id})  # fmt: skip


@family_app.command("show")
def show(
    patient: Annotated[str, typer.Argument(help="The careloop patient id (the subject of the links).")],
    contacts: Annotated[
        bool, typer.Option("--contacts", help="Show each relative's name and phone (audited as a read of contacts).")
    ] = False,
    purpose: Annotated[
        str, typer.Option(help="Why you read the patient: care, operations, audit or erasure (the audit trail's).")
    ] = "care",
) -> None:
    """The patient's relatives and their consent; with --contacts, how to reach each one."""
    from engine.cli.access import checked_purpose, connect_cli, record

    checked_purpose(purpose)
    with connect_cli() as conn:
        if conn.execute("SELECT to_regclass('relationships')").fetchone()[0] is None:
            err.print("error: there is no relationships table yet: start the projections", markup=False)
            raise typer.Exit(1)
        record(conn, [patient], "family.show.contacts" if contacts else "family.show", purpose)
        links = conn.execute(_LINKS, (patient,)).fetchall()
        consents = conn.execute(_CONSENTS, (patient,)).fetchall()
        reach = _reach(conn, patient) if contacts else {}
    if not links:
        err.print(
            f"error: no relatives recorded for patient {patient!r} (or not one your login may read)", markup=False
        )
        raise typer.Exit(1)
    granted: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in consents:
        granted[row[0]].append(row[1:])
    out.print(f"patient {patient}: {len(links)} relative(s)", markup=False)
    for link in links:
        for line in _lines(link, granted.get(link[0], []), reach.get(link[0], ("-", "-")) if contacts else None):
            out.print(line, markup=False)


def _lines(link: tuple[Any, ...], consents: list[tuple[Any, ...]], reach: tuple[str, str] | None) -> list[str]:
    relation_id, role, code, guardian, related, since, active, ended_on, end_reason = link
    what = role + (", legal guardian" if guardian else "") + (f", {code}" if code else "")
    state = (
        "active" if active else f"ended {ended_on.isoformat() if ended_on else ''} ({end_reason})".replace("  ", " ")
    )
    head = [f"  {relation_id}  {what}", f"since {since.isoformat()}" if since else "", state]
    lines = ["  ".join(p for p in head if p)]
    if related:
        lines.append(f"      a patient too: {related}")
    if reach is not None:
        lines.append(f"      name {reach[0]}  phone {reach[1]}")
    if not active:
        return lines  # an ended link receives nothing, whatever it was granted
    if not consents:
        lines.append("      no consent: receives nothing (relationship.consent_granted records one)")
    for purpose, information, delivery, by, ref, expires, granted_at in consents:
        until = f", until {expires.isoformat()}" if expires else ""
        form = f", form {ref}" if ref else ""
        when = granted_at.isoformat(sep=" ", timespec="minutes")
        lines.append(f"      consent {purpose}/{information}: {delivery}, granted by the {by} {when}{form}{until}")
    return lines


def _reach(conn: Any, patient: str) -> dict[str, tuple[str, str]]:
    """Each relative's name and phone, revealed with their relation key for the reader (engine/security/reading.py)."""
    from engine.cli.explain import reader
    from engine.cli.projections import _database_url
    from engine.dispatch.contacts import RELATIVE_SEALED_AS
    from engine.security.patient_keys import relation_key_id

    reading = reader(_database_url())

    def clear(relation_id: str, field: str, value: str | None) -> str:
        return reading.value(relation_key_id(relation_id), RELATIVE_SEALED_AS[field], value) if value else "-"

    rows = conn.execute(_REACH, (patient,)).fetchall()
    return {rel: (clear(rel, "name", name), clear(rel, "phone", phone)) for rel, name, phone in rows}
