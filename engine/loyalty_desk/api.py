"""`careloop loyalty-api`: the desk over HTTP for the hospital's front-desk and app systems.

    GET  /members/{patient_id}                  the balance (200), 404 not a member
    GET  /members/{patient_id}/ledger?since=T   the entries from T on, oldest first
    POST /members/{patient_id}/redemptions      {"reward", "quantity" (default 1), "ref"}
    POST /members/{patient_id}/adjustments      {"points", "ref", "reason", "qualifying" (default false)}
    POST /members/{patient_id}/referral         {"code"}: a referral code given after registration

A request is answered with the core's decision: 200 decided (``spent``, ``adjusted``, ``already_applied``), 409
``{error, code}`` refused by the core (the refusal codes of events/loyalty.py), 422 ``{error, field}`` not a
request or an unknown reward (nothing was published), 404 not a member, 202 ``{status: pending, request_id}`` when
not decided within ``?wait=`` seconds (default 5, at most 30: ask again with the same ref, the same request). A
referral is 200 ``{status: accepted | attributed, referral_id}``, 409 ``{error, code}`` refused (its code_reason),
202 while the referrer's side has not answered.
401/403/413/503 as the erasure API: every request carries a credential of a client in CARELOOP_HTTP_CLIENTS
(connectors/http_auth.py); the client is the inputs' source system and ``by``, and every read (each answer names
the member's points) is recorded in the audit trail first with the client's name. Logs name the client, never the
member.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from connectors.http_auth import Guard
from connectors.limits import DEFAULT_MAX_MESSAGE_BYTES, SETTING
from connectors.serving import CALLER, Answers, authenticating, json_body, json_error, json_too_large, serve_app
from engine.loyalty_desk.errors import (
    DeskError,
    InvalidRequestError,
    NoProgrammeError,
    NotMemberError,
    TrailError,
    UnavailableError,
)
from engine.loyalty_desk.ports import Caller
from engine.loyalty_desk.referrals import ReferralOutcome
from engine.loyalty_desk.service import Desk, Outcome
from engine.loyalty_desk.views import balance_json, entry_json, outcome_json

log = logging.getLogger("careloop.loyalty_api")
MEMBER = "/members/{patient_id}"
PURPOSE = "operations"  # the audit trail's purpose of the API's reads: running the loyalty programme
DEFAULT_WAIT, MAX_WAIT = 5.0, 30.0
REDEMPTION_FIELDS = {"reward", "quantity", "ref"}
ADJUSTMENT_FIELDS = {"points", "ref", "reason", "qualifying"}
REFERRAL_FIELDS = {"code"}
NOT_JSON = "the body is not JSON"

Handler = Callable[[web.Request], Awaitable[web.Response]]


def caller(request: web.Request) -> Caller:
    client = request[CALLER]
    return Caller(client=client, by=client, purpose=PURPOSE)


def field(body: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    value = body.get(name, default)
    if value is None or type(value) is not kind:  # bool is not an int here: true is no number of points
        raise InvalidRequestError(name, f"{name} must be a {kind.__name__}")
    return value


def checked_body(body: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequestError("body", "the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequestError(unknown[0], f"unknown field {unknown[0]!r}: expected {', '.join(sorted(allowed))}")
    return body


def moment(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidRequestError(name, f"{name} must be an ISO date-time with its offset") from exc
    if at.tzinfo is None:
        raise InvalidRequestError(name, f"{name} must carry its UTC offset")
    return at


def waiting(request: web.Request) -> float:
    try:
        wait = float(request.query.get("wait", DEFAULT_WAIT))
    except ValueError as exc:
        raise InvalidRequestError("wait", "wait must be a number of seconds") from exc
    if not 0 <= wait <= MAX_WAIT:
        raise InvalidRequestError("wait", f"wait must be between 0 and {MAX_WAIT:g} seconds")
    return wait


def answered(outcome: Outcome) -> web.Response:
    if outcome.status == "pending":
        return web.json_response({"status": "pending", "request_id": outcome.request_id}, status=202)
    if outcome.status == "refused" and outcome.decision is not None:
        return web.json_response({"error": outcome.decision.reason, "code": outcome.decision.code}, status=409)
    return web.json_response(outcome_json(outcome))


def referral_answered(outcome: ReferralOutcome) -> web.Response:
    found = outcome.referral
    if outcome.status == "pending" or found is None:
        body = {"status": "pending", "request_id": outcome.request_id, "referral_id": outcome.referral_id}
        return web.json_response(body, status=202)
    if outcome.status == "refused":
        return web.json_response({"error": found.reason, "code": found.refused_code}, status=409)
    return web.json_response(
        {"status": outcome.status, "referral_id": outcome.referral_id, "request_id": outcome.request_id,
         "reason": found.reason, "earlier": outcome.earlier}
    )  # fmt: skip


def failure(exc: DeskError, client: str) -> web.Response:
    if isinstance(exc, InvalidRequestError):
        return json_error(422, str(exc), exc.field)
    if isinstance(exc, NoProgrammeError):
        return json_error(422, str(exc), "reward")
    if isinstance(exc, NotMemberError):
        return json_error(404, str(exc))
    if isinstance(exc, UnavailableError):
        return json_error(503, str(exc))
    if isinstance(exc, TrailError):
        log.error("loyalty request of client %s not answered: %s", client, exc)
        return json_error(500, str(exc))
    raise exc


def build_app(desk: Desk, guard: Guard, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> web.Application:
    answers = Answers(json_error, json_too_large, max_message_bytes, SETTING)
    handlers = Handlers(desk, max_message_bytes)
    app = web.Application(client_max_size=max_message_bytes, middlewares=[authenticating(guard, answers)])
    app.router.add_get(MEMBER, handlers.guarded(handlers.member))
    app.router.add_get(MEMBER + "/ledger", handlers.guarded(handlers.ledger))
    app.router.add_post(MEMBER + "/redemptions", handlers.guarded(handlers.redeem))
    app.router.add_post(MEMBER + "/adjustments", handlers.guarded(handlers.adjust))
    app.router.add_post(MEMBER + "/referral", handlers.guarded(handlers.refer))
    app.router.add_get("/health", handlers.health)
    return app


class Handlers:
    """The routes; each desk call runs in a thread (its database and broker clients are synchronous)."""

    def __init__(self, desk: Desk, max_message_bytes: int) -> None:
        self.desk = desk
        self.limit = max_message_bytes

    def guarded(self, handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.Response:
            try:
                return await handler(request)
            except DeskError as exc:
                return failure(exc, request[CALLER])

        return run

    async def health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def member(self, request: web.Request) -> web.Response:
        patient = request.match_info["patient_id"]
        found = await asyncio.to_thread(self.desk.balance, patient, caller(request))
        return web.json_response(balance_json(found))

    async def ledger(self, request: web.Request) -> web.Response:
        patient, since = request.match_info["patient_id"], moment(request.query.get("since"), "since")
        found = await asyncio.to_thread(self.desk.ledger, patient, since, caller(request))
        return web.json_response({"patient_id": patient, "entries": [entry_json(e) for e in found]})

    async def redeem(self, request: web.Request) -> web.Response:
        body = await json_body(request, self.limit, lambda _: NOT_JSON)
        if isinstance(body, web.Response):
            return body
        asked = checked_body(body, REDEMPTION_FIELDS)
        reward, quantity = field(asked, "reward", str), field(asked, "quantity", int, 1)
        ref, wait, who = field(asked, "ref", str), waiting(request), caller(request)
        patient = request.match_info["patient_id"]
        outcome = await asyncio.to_thread(self.desk.redeem, patient, reward, quantity, ref, who, wait)
        log.info("redemption asked by client %s: %s", who.client, outcome.status)
        return answered(outcome)

    async def adjust(self, request: web.Request) -> web.Response:
        body = await json_body(request, self.limit, lambda _: NOT_JSON)
        if isinstance(body, web.Response):
            return body
        asked = checked_body(body, ADJUSTMENT_FIELDS)
        points, ref, reason = field(asked, "points", int), field(asked, "ref", str), field(asked, "reason", str)
        qualifying, wait, who = field(asked, "qualifying", bool, False), waiting(request), caller(request)
        patient = request.match_info["patient_id"]
        outcome = await asyncio.to_thread(self.desk.adjust, patient, points, ref, reason, qualifying, who, wait)
        log.info("adjustment asked by client %s: %s", who.client, outcome.status)
        return answered(outcome)

    async def refer(self, request: web.Request) -> web.Response:
        body = await json_body(request, self.limit, lambda _: NOT_JSON)
        if isinstance(body, web.Response):
            return body
        code = field(checked_body(body, REFERRAL_FIELDS), "code", str)
        wait, who, patient = waiting(request), caller(request), request.match_info["patient_id"]
        outcome = await asyncio.to_thread(self.desk.refer, patient, code, who, wait)
        log.info("referral code given through client %s: %s", who.client, outcome.status)
        return referral_answered(outcome)


async def serve(
    desk: Desk,
    host: str,
    port: int,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    *,
    guard: Guard,
    tls: ssl.SSLContext | None = None,
) -> None:
    await serve_app(build_app(desk, guard, max_message_bytes), host, port, ready, stop, tls=tls)
