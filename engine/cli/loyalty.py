"""`careloop loyalty balance|ledger|redeem|adjust` and `careloop loyalty-api`: the loyalty desk (engine/loyalty_desk/,
wired by engine/processes/loyalty.py, imported inside the commands so `careloop validate` stays light).

Exit codes: 0 decided (spent, adjusted, already applied) or shown; 1 refused by the core, or invalid (an unknown
reward, checked against the journeys file before anything is sent, not a member, a ref that is no id); 2 usage;
3 queued: not decided within --wait (the request stands: the same command with the same --ref answers it later).
Every command is an audited read of the member, under the caller's PostgreSQL login.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.cli.consoles import consoles

if TYPE_CHECKING:
    from engine.loyalty_desk.ports import Caller
    from engine.loyalty_desk.service import Outcome
    from engine.processes.loyalty import OpenDesk
    from engine.settings import Settings

loyalty_app = typer.Typer(
    no_args_is_help=True, help="The loyalty desk: a member's points and ledger, redemptions and adjustments."
)
out, err = consoles()

DESK_CLIENT = "careloop-desk"  # the source system of the commands' inputs: a ref is unique across the desk
EXIT_REFUSED, EXIT_USAGE, EXIT_QUEUED = 1, 2, 3
WAIT = re.compile(r"(\d+(?:\.\d+)?)(s|m)?")

PatientArg = Annotated[str, typer.Argument(help="The careloop patient id of the member.")]
FormatOpt = Annotated[str, typer.Option("--format", help="table or json.")]
PurposeOpt = Annotated[
    str, typer.Option(help="Why you read the member: care, operations, audit or erasure (the audit trail's).")
]
RefOpt = Annotated[str, typer.Option("--ref", help="Your id of the request: the same ref is the same request.")]
WaitOpt = Annotated[str, typer.Option("--wait", help="How long to wait for the decision: 10s, 1m (then exit 3).")]


def _fail(message: str, code: int = EXIT_REFUSED) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def _checked_format(fmt: str) -> str:
    if fmt not in ("table", "json"):
        raise _fail(f"--format must be table or json, not {fmt!r}", EXIT_USAGE)
    return fmt


def _seconds(wait: str) -> float:
    found = WAIT.fullmatch(wait.strip())
    if found is None:
        raise _fail(f"--wait {wait!r}: expected seconds or minutes, e.g. 10s or 1m", EXIT_USAGE)
    return float(found[1]) * (60 if found[2] == "m" else 1)


def _settings() -> Settings:
    from pydantic import ValidationError

    from engine.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        raise _fail(f"invalid CARELOOP_ settings: {exc.errors(include_url=False)}", EXIT_USAGE) from exc


@contextmanager
def _opened(settings: Settings | None = None) -> Iterator[OpenDesk]:
    """The desk on the deployment's services; the command ends saying what went wrong, in words."""
    from psycopg import Error as DatabaseError

    from engine.language.errors import JourneyFileError
    from engine.loyalty_desk.errors import DeskError
    from engine.plumbing.services import ServicesNotFoundError
    from engine.processes.loyalty import open_desk

    settings = settings or _settings()
    try:
        with open_desk(settings) as opened:
            yield opened
    except JourneyFileError as exc:
        for p in exc.problems:
            err.print(str(p), markup=False)
        raise _fail(f"{settings.journeys} has errors; nothing was sent") from exc
    except ServicesNotFoundError as exc:
        raise _fail(f"{exc} (the desk needs the database, and the broker to send)", EXIT_USAGE) from exc
    except DeskError as exc:
        field = getattr(exc, "field", None)
        raise _fail(f"--{field}: {exc}" if field in ("ref", "quantity") else str(exc)) from exc
    except DatabaseError as exc:
        raise _fail(f"{type(exc).__name__}: {str(exc).strip()}") from exc


def _caller(opened: OpenDesk, purpose: str) -> Caller:
    from engine.cli.access import checked_purpose
    from engine.loyalty_desk.ports import Caller

    return Caller(client=DESK_CLIENT, by=opened.login, purpose=checked_purpose(purpose))


def _json(document: Any) -> None:
    out.print(json.dumps(document, ensure_ascii=False, indent=2), markup=False)


@loyalty_app.command("balance")
def balance(patient: PatientArg, fmt: FormatOpt = "table", purpose: PurposeOpt = "operations") -> None:
    """A member's tier, points (available, pending, the next expiry), privileges and badges."""
    from engine.loyalty_desk.views import balance_json, balance_lines

    _checked_format(fmt)
    with _opened() as opened:
        found = opened.desk.balance(patient, _caller(opened, purpose))
        zone = _zone(found.member.zone, opened)
    if fmt == "json":
        _json(balance_json(found))
        return
    for line in balance_lines(found, zone):
        out.print(line, markup=False)


@loyalty_app.command("ledger")
def ledger(
    patient: PatientArg,
    since: Annotated[str | None, typer.Option(help="From this date or date-time on.")] = None,
    fmt: FormatOpt = "table",
    purpose: PurposeOpt = "operations",
) -> None:
    """A member's ledger entries, oldest first: earnings, releases, expiries, spendings, reversals, adjustments."""
    from engine.cli.moments import parse_moment
    from engine.loyalty_desk.views import entry_json, entry_line

    _checked_format(fmt)
    with _opened() as opened:
        start = parse_moment("--since", since, opened.zone)
        entries = opened.desk.ledger(patient, start, _caller(opened, purpose))
        member = opened.desk.models.member(patient)
        zone = _zone(member.zone if member else None, opened)
    if fmt == "json":
        _json({"patient_id": patient, "entries": [entry_json(e) for e in entries]})
        return
    for e in entries:
        out.print(entry_line(e, zone), markup=False)
    out.print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}", markup=False)


@loyalty_app.command("redeem")
def redeem(
    patient: PatientArg,
    reward: Annotated[str, typer.Argument(help="The reward's id in the journeys file's loyalty: rewards.")],
    ref: RefOpt,
    quantity: Annotated[int, typer.Option(help="How many of the reward.")] = 1,
    wait: WaitOpt = "10s",
    fmt: FormatOpt = "table",
    purpose: PurposeOpt = "operations",
) -> None:
    """Spend a member's points on a reward; the journey core decides (oldest points first) and the answer is its
    decision, or exit 3 when it is not decided within --wait."""
    _checked_format(fmt)
    seconds = _seconds(wait)
    _answer(lambda o: o.desk.redeem(patient, reward, quantity, ref, _caller(o, purpose), seconds), fmt, wait)


@loyalty_app.command("adjust", context_settings={"ignore_unknown_options": True})  # -50 is points
def adjust(
    patient: PatientArg,
    points: Annotated[int, typer.Argument(help="Signed points: +200 credits a new batch, -50 takes points away.")],
    ref: Annotated[str, typer.Option("--ref", help="The adjustment's external id: applied once, whoever repeats it.")],
    reason: Annotated[str, typer.Option("--reason", help="goodwill, correction or migration.")],
    qualifying: Annotated[bool, typer.Option("--qualifying", help="A credit that also counts towards tiers.")] = False,
    wait: WaitOpt = "10s",
    fmt: FormatOpt = "table",
    purpose: PurposeOpt = "operations",
) -> None:
    """A manual adjustment of a member's points; a repeat of the same --ref changes nothing (already applied)."""
    _checked_format(fmt)
    seconds = _seconds(wait)
    _answer(lambda o: o.desk.adjust(patient, points, ref, reason, qualifying, _caller(o, purpose), seconds), fmt, wait)


@loyalty_app.command("refer")
def refer(
    patient: PatientArg,
    code: Annotated[str, typer.Argument(help="The referral code the member gives, e.g. K7QM-2XRP-9D4T.")],
    wait: WaitOpt = "10s",
    fmt: FormatOpt = "table",
    purpose: PurposeOpt = "operations",
) -> None:
    """A referral code the member gives after registration: the member it belongs to is looked up and the claim
    submitted (referral.submitted); the answer is the referee side's decision once the referrer's side answered."""
    from engine.loyalty_desk.views import referral_json, referral_line

    _checked_format(fmt)
    seconds = _seconds(wait)
    with _opened() as opened:
        outcome = opened.desk.refer(patient, code, _caller(opened, purpose), seconds)
    if fmt == "json":
        _json(referral_json(outcome))
    else:
        out.print(referral_line(outcome, wait), markup=False)
    if outcome.status == "refused":
        raise typer.Exit(EXIT_REFUSED)
    if outcome.status == "pending":
        raise typer.Exit(EXIT_QUEUED)


def _answer(ask: Callable[[OpenDesk], Outcome], fmt: str, wait: str) -> None:
    from engine.loyalty_desk.views import outcome_json, outcome_line

    with _opened() as opened:
        outcome = ask(opened)
        member = opened.desk.models.member(outcome.decision.patient_id) if outcome.decision else None
        zone = _zone(member.zone if member else None, opened)
    if fmt == "json":
        _json(outcome_json(outcome))
    else:
        out.print(outcome_line(outcome, zone, wait), markup=False)
    if outcome.status == "refused":
        raise typer.Exit(EXIT_REFUSED)
    if outcome.status == "pending":
        raise typer.Exit(EXIT_QUEUED)


def _zone(name: str | None, opened: OpenDesk) -> Any:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name) if name else opened.zone
    except (ZoneInfoNotFoundError, ValueError):
        return opened.zone


def loyalty_api(host: str, port: int) -> None:
    """Serve the desk over HTTP (engine/loyalty_desk/api.py) until Ctrl-C / SIGTERM: TLS beyond loopback, the
    clients of CARELOOP_HTTP_CLIENTS."""
    from connectors.serving import run_until_signalled
    from engine.cli.connect import listening
    from engine.loyalty_desk.api import MEMBER, serve
    from engine.plumbing.health import listener_announcing

    settings = _settings()
    how = listening(settings, host, http=True)  # before connecting to anything: its settings may be wrong
    with _opened(settings) as opened:
        limit = settings.max_message_bytes
        run_until_signalled(
            lambda ready, stop: serve(opened.desk, host, port, ready, stop, limit, **how.options),
            listener_announcing(
                settings.health_port,
                settings.metrics_host,
                lambda: out.print(
                    f"listening on {how.scheme}://{host}:{port} ({MEMBER}; {how.mode}); Ctrl-C stops", markup=False
                ),
            ),
        )
