"""Serving an aiohttp intake until told to stop: shared by the FHIR intake and the outreach webhook.

Every request passes ``authenticating`` first (connectors/http_auth.py): without a credential of a known client it
gets no further, and the handler finds the caller's name under ``CALLER``. A listener serves TLS when given a
context, and refuses to listen beyond loopback without one (engine/plumbing/listening.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import ssl
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from connectors.http_auth import Guard, RefusedError, Request
from connectors.http_body import BodyTooLargeError, read_body
from engine.plumbing.listening import listening_mode

log = logging.getLogger("careloop.serving")
CALLER = web.RequestKey("careloop.caller", str)  # the authenticated client's name, for the handlers


@dataclass(frozen=True, slots=True)
class Answers:
    """How a listener answers in its own format (an OperationOutcome, a JSON error) before its handlers run."""

    refused: Callable[[int, str], web.Response]
    too_large: Callable[[BodyTooLargeError], web.Response]
    limit: int  # the body's limit in bytes
    setting: str  # the setting that gave it


def authenticating(guard: Guard, answers: Answers) -> Middleware:
    """The middleware that lets in only requests of a known client, allowed on the path they call."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        body = b""
        if guard.needs_body(request.headers):  # a signature covers the body: read it (within the limit) first
            try:
                body = await read_body(request, answers.limit, answers.setting)
            except BodyTooLargeError as exc:
                return answers.too_large(exc)
        try:
            request[CALLER] = guard.caller(
                Request(request.method, request.path, request.raw_path, request.headers, body)
            )
        except RefusedError as exc:
            log.warning("%s %s from %s refused (%d): %s", request.method, request.path, request.remote, exc.status, exc)
            response = answers.refused(exc.status, str(exc))
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="careloop"'
            return response
        return await handler(request)

    return authenticate


def json_error(status: int, message: str, field: str | None = None, **more: Any) -> web.Response:
    """A JSON listener's error (the webhook, the erasure API): ``field`` named on a 422."""
    body: dict[str, Any] = {"error": message, **more}
    if status == 422:
        body["field"] = field
    return web.json_response(body, status=status)


def json_too_large(exc: BodyTooLargeError) -> web.Response:
    return json_error(413, str(exc), max_message_bytes=exc.limit)


async def json_body(request: web.Request, limit: int, not_json: Callable[[ValueError], str]) -> Any:
    """The request's JSON body, or the answer to a request without one: 415 (not declared JSON), 413 (over
    ``limit`` bytes), 422 (not JSON; ``not_json`` says so in the listener's words)."""
    if request.content_type != "application/json":
        return json_error(415, "Content-Type must be application/json")
    try:
        return json.loads(await read_body(request, limit))
    except BodyTooLargeError as exc:
        return json_too_large(exc)
    except ValueError as exc:
        return json_error(422, not_json(exc))


def listener_app(guard: Guard, answers: Answers, max_body: int, posts: Mapping[str, Handler]) -> web.Application:
    """A listener's application: every request authenticated first, ``posts`` (path -> handler) and an
    authenticated ``GET /health``."""

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=max_body, middlewares=[authenticating(guard, answers)])
    for path, handler in posts.items():
        app.router.add_post(path, handler)
    app.router.add_get("/health", health)
    return app


async def serve_app(
    app: web.Application,
    host: str,
    port: int,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    *,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Listen on host:port (TLS with ``tls``); ``ready`` is set once listening; runs until ``stop`` is set (forever
    without one). Raises PlainListenerError, before binding, for a host beyond loopback without TLS."""
    mode = listening_mode(host, tls)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=tls)
    await site.start()
    log.info("listening on %s:%s, %s", host, port, mode)
    try:
        if ready is not None:
            ready.set()
        await (stop.wait() if stop is not None else asyncio.Future())
    finally:
        await runner.cleanup()


def run_until_signalled(
    serve: Callable[[asyncio.Event, asyncio.Event], Coroutine[None, None, None]], announce: Callable[[], None]
) -> None:
    """Run ``serve(ready, stop)``; ``announce`` once it listens; SIGINT or SIGTERM stop it cleanly."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        ready = asyncio.Event()
        task = asyncio.create_task(serve(ready, stop))
        listening = asyncio.create_task(ready.wait())
        await asyncio.wait({task, listening}, return_when=asyncio.FIRST_COMPLETED)
        if not listening.done():  # it ended before listening (the port taken, TLS refused): its error is raised
            listening.cancel()
        else:
            announce()
        await task

    asyncio.run(main())
