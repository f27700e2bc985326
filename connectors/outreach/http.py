"""`careloop webhook`: outreach gateways, forms and care-team tools POST here; 202 once the events are on Kafka.

POST /outreach/receipts, /outreach/replies, /questionnaires, /consent, /relationships/consent (a relative's
consent: connectors/outreach/payloads.py RelationshipConsent), /outreach/pause, /outreach/resume with a
JSON object (or an array of them). 202 {"event_ids": [...], "results": [...]}; 422 {"error", "field"} for a
request that cannot become an event, or one about an erased patient (do not resend unchanged); 413 {"error",
"max_message_bytes"} for a body over CARELOOP_MAX_MESSAGE_BYTES; 503 {"error"} when Kafka or PostgreSQL did not
answer (resend). aiohttp, which faust already brings, serves it.

Every request carries a credential of a client in CARELOOP_HTTP_CLIENTS (connectors/http_auth.py): a gateway signs
its callbacks, a care-team tool sends its bearer token. 401 {"error"} without one, with a wrong one or a replayed
signature; 403 {"error"} for a path the client is not given. The client's name is logged with what it posted and
recorded as the source system of the events it sent.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from aiohttp import web

from connectors.http_auth import Guard
from connectors.limits import DEFAULT_MAX_MESSAGE_BYTES, SETTING
from connectors.outreach.errors import PayloadError, UnavailableError
from connectors.outreach.intake import OutreachIntake
from connectors.serving import CALLER, Answers, json_body, json_error, json_too_large, listener_app, serve_app

log = logging.getLogger("careloop.webhook")
ROUTES = {
    "/outreach/receipts": "receipt",
    "/outreach/replies": "reply",
    "/questionnaires": "questionnaire",
    "/consent": "consent",
    "/relationships/consent": "relationship_consent",
    "/outreach/pause": "pause",
    "/outreach/resume": "resume",
}


def build_app(
    intake: OutreachIntake, guard: Guard, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> web.Application:
    """The app; bodies are read up to ``max_message_bytes`` (CARELOOP_MAX_MESSAGE_BYTES)."""
    answers = Answers(json_error, json_too_large, max_message_bytes, SETTING)

    def handler(kind: str) -> Any:
        async def receive(request: web.Request) -> web.Response:
            body = await json_body(request, max_message_bytes, lambda exc: f"the body is not JSON: {exc}")
            if isinstance(body, web.Response):
                return body
            try:
                accepted = await asyncio.to_thread(intake.accept, kind, body, request[CALLER])
            except PayloadError as exc:
                return json_error(422, str(exc), exc.field)
            except UnavailableError as exc:
                return json_error(503, str(exc))
            log.info("%s: %d event(s) from client %s", request.path, len(accepted.mapped), request[CALLER])
            return web.json_response(accepted.as_json(), status=202)

        return receive

    return listener_app(guard, answers, max_message_bytes, {path: handler(kind) for path, kind in ROUTES.items()})


async def serve(
    intake: OutreachIntake,
    host: str,
    port: int,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    *,
    guard: Guard,
    tls: ssl.SSLContext | None = None,
) -> None:
    await serve_app(build_app(intake, guard, max_message_bytes), host, port, ready, stop, tls=tls)
