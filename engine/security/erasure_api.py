"""`careloop erasure-api`: `careloop erase PATIENT` over HTTP, for the deployer's data subject request tools.

POST /patients/{patient_id}/erasure with {"reason": CODE, "ref": REQUEST-ID} (engine/security/erasure_requests.py)
erases the patient and the records merged into them as the command does (engine/security/erasure.py), asked by the
authenticated client, whose name patient.erased and the audit trail record as who asked. 200 with what was done:

    {"patient_id": "pt-...", "status": "erased" | "already_erased",
     "records": [{"patient_id", "key": "destroyed" | "no_live_key", "key_epoch", "removed": {table: rows},
                  "event_id"}]}

``already_erased``: no record had a live key (erased before, or none was ever made); the same patient.erased is
published again, which the worker recognises, so a repeated call is harmless. 422 {"error", "field"} for a request
that is not one (do not resend unchanged); 413 over CARELOOP_MAX_MESSAGE_BYTES; 503 when the database or the
broker did not answer (resend: every step is idempotent); 500 when this listener's login may not erase.

Every request carries a credential of a client in CARELOOP_HTTP_CLIENTS (connectors/http_auth.py): 401 without one
or with a wrong one, 403 for a client not given /patients. Logs name the client, never the patient.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable
from typing import Any, Protocol

from aiohttp import web

from connectors.http_auth import Guard
from connectors.limits import DEFAULT_MAX_MESSAGE_BYTES, SETTING
from connectors.serving import CALLER, Answers, json_body, json_error, json_too_large, listener_app, serve_app
from engine.security.erasure import Erased, Request
from engine.security.erasure_requests import InvalidRequestError, erasure_request

log = logging.getLogger("careloop.erasure_api")
ROUTE = "/patients/{patient_id}/erasure"

NOT_JSON = 'the body is not JSON: {"reason": CODE, "ref": REQUEST-ID}'


class UnavailableError(Exception):
    """The database or the broker did not answer: the erasure may be half done; sending it again completes it."""


class NotPermittedError(Exception):
    """The listener's own login may not erase (it needs careloop_eraser): no request can succeed until it does."""


class Erases(Protocol):
    def erase(self, request: Request) -> Iterable[Erased]:
        """Erase the patient and the records merged into them; UnavailableError or NotPermittedError."""
        ...


def answer(patient_id: str, done: list[Erased]) -> dict[str, Any]:
    """The 200's body: each record erased, its key's fate, the rows removed and the event published."""
    records = [
        {
            "patient_id": d.patient_id,
            "key": "destroyed" if d.shredded.had_key else "no_live_key",
            "key_epoch": d.shredded.epoch,
            "removed": dict(d.removed),
            "event_id": str(d.event.event_id),
        }
        for d in done
    ]
    status = "erased" if any(d.shredded.had_key for d in done) else "already_erased"
    return {"patient_id": patient_id, "status": status, "records": records}


def build_app(eraser: Erases, guard: Guard, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> web.Application:
    answers = Answers(json_error, json_too_large, max_message_bytes, SETTING)
    # The eraser's connections are synchronous and not shared between threads: one erasure at a time (they are
    # rare, and each takes a few round trips).
    one_at_a_time = asyncio.Lock()

    async def erase(request: web.Request) -> web.Response:
        body = await json_body(request, max_message_bytes, lambda _: NOT_JSON)
        if isinstance(body, web.Response):
            return body
        client = request[CALLER]
        try:
            wanted = erasure_request(request.match_info["patient_id"], body, client)
        except InvalidRequestError as exc:
            return json_error(422, str(exc), exc.field)
        try:
            async with one_at_a_time:
                done = await asyncio.to_thread(lambda: list(eraser.erase(wanted)))
        except UnavailableError as exc:
            return json_error(503, str(exc))
        except NotPermittedError as exc:
            log.error("erasure asked by client %s not carried out: %s", client, exc)
            return json_error(500, str(exc))
        log.info("erasure (%s) asked by client %s: %d record(s)", wanted.reason, client, len(done))
        return web.json_response(answer(wanted.patient_id, done))

    return listener_app(guard, answers, max_message_bytes, {ROUTE: erase})


async def serve(
    eraser: Erases,
    host: str,
    port: int,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    *,
    guard: Guard,
    tls: ssl.SSLContext | None = None,
) -> None:
    await serve_app(build_app(eraser, guard, max_message_bytes), host, port, ready, stop, tls=tls)
