"""The FHIR intake over HTTP: POST a resource or a Bundle; 200 once its events are on Kafka.

Every request carries a credential of a client in CARELOOP_HTTP_CLIENTS (connectors/http_auth.py): 401 with an
OperationOutcome (code ``login``) without one or with a wrong one, 403 (``forbidden``) for a path the client is not
given; the client's name is recorded as the caller in the payload's source (``https://<client>@<peer>/fhir/...``).

422 with an OperationOutcome naming the problem when it cannot be mapped (it is dead-lettered: do not resend);
413 with one naming the limit for a body over CARELOOP_MAX_MESSAGE_BYTES (not read, not dead-lettered: the sender
still has it); 503 when the broker did not acknowledge (resend). aiohttp, which faust already brings, serves it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from typing import Any

from aiohttp import web

from connectors.http_auth import Guard
from connectors.http_body import BodyTooLargeError, read_body
from connectors.live_intake import LiveIntake, Verdict
from connectors.serving import CALLER, Answers, listener_app, serve_app

log = logging.getLogger("careloop.fhir_http")
ACCEPTED_TYPES = ("application/fhir+json", "application/json")


def outcome(severity: str, code: str, text: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": code, "diagnostics": text}]}


def response_for(verdict: Verdict) -> web.Response:
    if verdict.status == "accepted":
        body, status = outcome("information", "informational", f"accepted: {verdict.events} event(s) published"), 200
    elif verdict.status == "rejected" and verdict.category == "too_large":
        body, status = outcome("error", "too-long", verdict.reason), 413
    elif verdict.status == "rejected":
        body, status = (
            outcome("error", "processing" if verdict.category != "unparseable" else "structure", verdict.reason),
            422,
        )
    else:
        body, status = outcome("error", "transient", verdict.reason), 503
    return _reply(status, body)


def _reply(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/fhir+json")


def _refused(status: int, reason: str) -> web.Response:
    return _reply(status, outcome("error", "login" if status == 401 else "forbidden", reason))


def _too_large(exc: BodyTooLargeError) -> web.Response:
    return _reply(413, outcome("error", "too-long", str(exc)))


def build_app(intake: LiveIntake, guard: Guard, scheme: str = "http") -> web.Application:
    """The app; bodies are read up to the intake's ``max_payload_bytes`` (a Bundle), each resource in them is
    bounded by ``max_message_bytes``; ``scheme`` (https over TLS) is how the payloads' source names it."""
    limit = intake.max_payload_bytes
    answers = Answers(_refused, _too_large, limit, intake.payload_setting)

    async def receive(request: web.Request) -> web.Response:
        if request.content_type not in ACCEPTED_TYPES:
            return _reply(415, outcome("error", "not-supported", f"Content-Type must be {' or '.join(ACCEPTED_TYPES)}"))
        try:
            data = await read_body(request, limit, intake.payload_setting)
        except BodyTooLargeError as exc:
            log.warning("FHIR body from %s refused: %s", request.remote, exc)
            return _too_large(exc)
        source = f"{scheme}://{request[CALLER]}@{request.remote or '?'}{request.path}"
        verdict = await asyncio.to_thread(intake.accept, data, source)
        return response_for(verdict)

    return listener_app(guard, answers, limit, {"/fhir": receive, "/fhir/{resource_type}": receive})


async def serve(
    intake: LiveIntake,
    host: str,
    port: int,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    *,
    guard: Guard,
    tls: ssl.SSLContext | None = None,
) -> None:
    app = build_app(intake, guard, "https" if tls is not None else "http")
    await serve_app(app, host, port, ready, stop, tls=tls)
