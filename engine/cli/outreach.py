"""`careloop outreach`, `careloop questionnaire` and `careloop webhook`: the loop back from outreach.

The CLI posts the same requests as the webhook, through the same intake (connectors/outreach), straight to the
clinical topic; it waits for Kafka's acknowledgement and prints the event ids. Kafka, PostgreSQL and the
connectors are imported inside the commands, so `careloop validate` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.cli.consoles import consoles

if TYPE_CHECKING:
    from connectors.outreach.intake import OutreachIntake
    from engine.settings import Settings

outreach_app = typer.Typer(
    no_args_is_help=True, help="Post delivery receipts, replies, consent changes and pause/resume as events."
)
questionnaire_app = typer.Typer(no_args_is_help=True, help="Questionnaire responses (PHQ-9, EPDS, satisfaction).")
out, err = consoles()

PatientOpt = Annotated[str, typer.Option("--patient", "-p", help="careloop patient id.")]
ChannelOpt = Annotated[str, typer.Option(help="sms, wechat, email, app or phone.")]
ByOpt = Annotated[str | None, typer.Option("--by", "--as", help="Who did it (staff id or system).")]
AtOpt = Annotated[str | None, typer.Option(help="When it happened, ISO 8601 with offset (default: now).")]
IdOpt = Annotated[str | None, typer.Option("--id", help="Your id for this request: a retry with it is recognised.")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def _intake(system: str, settings: Settings | None = None) -> OutreachIntake:
    from engine.language.errors import JourneyFileError
    from engine.plumbing.services import ServicesNotFoundError
    from engine.plumbing.tls import TlsSettingError
    from engine.processes.intake import outreach_intake
    from engine.security.errors import KeyFileError
    from engine.settings import Settings

    try:
        return outreach_intake(settings or Settings(), system)
    except (ServicesNotFoundError, TlsSettingError, KeyFileError, JourneyFileError) as exc:
        raise _fail(str(exc), 2) from exc


def post(kind: str, body: dict[str, Any]) -> None:
    """Publish one request through the intake; print its event id (and a questionnaire's score)."""
    from connectors.outreach.errors import PayloadError, UnavailableError

    request = {k: v for k, v in body.items() if v is not None}
    intake = _intake("careloop-cli")
    try:
        accepted = intake.accept(kind, request)
    except PayloadError as exc:
        raise _fail(str(exc), 2) from exc
    except UnavailableError as exc:
        raise _fail(f"{exc}; nothing was published") from exc
    for result in accepted.as_json()["results"]:
        line = f"published {result['type']} {result['event_id']}"
        if "score" in result:
            line += f": score {result['score']} ({result['band']}), response {result['response_id']}"
        out.print(line, markup=False)
        for warning in result.get("warnings", []):
            out.print(f"  warning: {warning}", markup=False)


@outreach_app.command("receipt")
def receipt(
    message: Annotated[str, typer.Option("--message", "-m", help="The engine's message id.")],
    channel: ChannelOpt,
    status: Annotated[str, typer.Option(help="delivered, read (the patient opened it) or failed.")],
    reason: Annotated[str | None, typer.Option(help="Why it failed (required with --status failed).")] = None,
    gateway_ref: Annotated[str | None, typer.Option(help="The gateway's id for the message.")] = None,
    at: AtOpt = None,
    request_id: IdOpt = None,
) -> None:
    """A gateway's delivery receipt for a message careloop sent."""
    post("receipt", {"message_id": message, "channel": channel, "status": status, "reason": reason,
                     "gateway_ref": gateway_ref, "at": at, "receipt_id": request_id})  # fmt: skip


@outreach_app.command("reply")
def reply(
    channel: ChannelOpt,
    text: Annotated[str, typer.Option(help="What the patient wrote.")],
    message: Annotated[str | None, typer.Option("--message", "-m", help="The message answered.")] = None,
    patient: Annotated[str | None, typer.Option("--patient", "-p", help="Unprompted: the patient.")] = None,
    at: AtOpt = None,
    request_id: IdOpt = None,
) -> None:
    """A patient's reply to a message (--message), or a message they sent unprompted (--patient)."""
    post("reply", {"message_id": message, "patient_id": patient, "channel": channel, "text": text, "at": at,
                   "reply_id": request_id})  # fmt: skip


@outreach_app.command("pause")
def pause(
    patient: PatientOpt,
    reason: Annotated[str, typer.Option(help="Why, in words staff can read (no clinical details).")],
    by: ByOpt = None,
    at: AtOpt = None,
    request_id: IdOpt = None,
) -> None:
    """Stop all outreach to a patient until resumed (pending sends are withdrawn)."""
    post("pause", {"patient_id": patient, "reason": reason, "by": by, "at": at, "request_id": request_id})


@outreach_app.command("resume")
def resume(patient: PatientOpt, by: ByOpt = None, at: AtOpt = None, request_id: IdOpt = None) -> None:
    """Let outreach to a paused patient go on."""
    post("resume", {"patient_id": patient, "by": by, "at": at, "request_id": request_id})


@outreach_app.command("consent")
def consent(
    patient: PatientOpt,
    channel: Annotated[str, typer.Option(help="sms, wechat, email, app, phone or all.")],
    granted: Annotated[bool, typer.Option("--granted/--withdrawn", help="Grant or withdraw consent.")],
    purpose: Annotated[str, typer.Option(help="care, transactional, marketing or research.")] = "care",
    relation: Annotated[
        str | None, typer.Option(help="A relative's own channel (their relation id): only their messages change.")
    ] = None,
    at: AtOpt = None,
    request_id: IdOpt = None,
) -> None:
    """Record a patient (or, with --relation, one of their relatives) granting or withdrawing consent to be contacted
    on a channel."""
    post("consent", {"patient_id": patient, "channel": channel, "status": "granted" if granted else "withdrawn",
                     "purpose": purpose, "relation_id": relation, "at": at, "request_id": request_id})  # fmt: skip


@questionnaire_app.command("submit")
def submit(
    instrument: Annotated[str, typer.Option(help="phq-9, epds or satisfaction.")],
    item: Annotated[list[str], typer.Option("--item", "-i", help="NAME=VALUE, once per item, e.g. q1=2.")],
    patient: Annotated[str | None, typer.Option("--patient", "-p", help="careloop patient id.")] = None,
    message: Annotated[str | None, typer.Option("--message", "-m", help="The message that asked for it.")] = None,
    response_id: Annotated[str | None, typer.Option(help="The form's id for this response.")] = None,
    at: AtOpt = None,
) -> None:
    """Score a questionnaire response from its items and publish questionnaire.completed."""
    items: dict[str, Any] = {}
    for pair in item:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise _fail(f"--item {pair!r}: expected NAME=VALUE, e.g. q1=2", 2)
        items[name.strip()] = value.strip()
    post("questionnaire", {"patient_id": patient, "message_id": message, "instrument": instrument, "items": items,
                           "response_id": response_id, "at": at})  # fmt: skip


def webhook(host: str, port: int, max_message_bytes: int | None) -> None:
    """Serve the outreach webhook until Ctrl-C / SIGTERM; bodies up to ``max_message_bytes`` (else the setting)."""
    from connectors.outreach.http import ROUTES, serve
    from connectors.serving import run_until_signalled
    from engine.cli.connect import listening, settings_with
    from engine.plumbing.health import listener_announcing

    settings = settings_with(max_message_bytes)
    how = listening(settings, host, http=True)
    intake = _intake("careloop-webhook", settings)
    routes = ", ".join(ROUTES)
    run_until_signalled(
        lambda ready, stop: serve(intake, host, port, ready, stop, settings.max_message_bytes, **how.options),
        listener_announcing(
            settings.health_port,
            settings.metrics_host,
            lambda: out.print(
                f"listening on {how.scheme}://{host}:{port} (POST {routes}; {how.mode}); Ctrl-C stops", markup=False
            ),
        ),
    )
