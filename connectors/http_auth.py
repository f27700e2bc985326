"""Who is calling: every request to careloop's HTTP listeners carries a credential of a client in the clients file
(connectors/http_clients.py, CARELOOP_HTTP_CLIENTS), or is refused.

Two ways to authenticate, the second the way SMS and WeChat gateways sign their callbacks:

- a bearer token: ``Authorization: Bearer <token>``; careloop keeps only the token's SHA-256;
- a signed request: ``X-Careloop-Client: <name>``, ``X-Careloop-Timestamp: <unix seconds>`` and
  ``X-Careloop-Signature: sha256=<hex>``, the HMAC-SHA256, under the client's secret, of
  ``<timestamp>\\n<METHOD>\\n<path?query>\\n<body>``. A timestamp further than CARELOOP_SIGNATURE_WINDOW seconds
  from the listener's clock is refused, and so is a signature already accepted (a replay): it is remembered until
  its timestamp leaves the window, after which the timestamp alone refuses it. The memory is the process's own:
  listeners behind one balancer each refuse the replays they see.

No or a wrong credential is 401 (the reason says which); a client calling a path the file does not give it, 403.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from connectors.http_clients import SETTING, HttpClient, HttpClients, load_http_clients

CLIENT, TIMESTAMP, SIGNATURE = "X-Careloop-Client", "X-Careloop-Timestamp", "X-Careloop-Signature"
WINDOW_SETTING = "CARELOOP_SIGNATURE_WINDOW"
NO_CREDENTIAL = (
    f"no credential: send Authorization: Bearer <token>, or sign the request ({CLIENT}, {TIMESTAMP}, {SIGNATURE})"
)


class RefusedError(Exception):
    """The request is not let in: ``status`` 401 (who is calling is not established) or 403 (not allowed)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class NoClientsFileError(RuntimeError):
    """A listener asked to start without CARELOOP_HTTP_CLIENTS."""


@dataclass(frozen=True, slots=True)
class Request:
    """What authentication reads of a request."""

    method: str
    path: str  # what the clients file's paths are matched against
    target: str  # path and query, as signed
    headers: Mapping[str, str]  # case-insensitive (aiohttp's CIMultiDictProxy)
    body: bytes = b""


def sign(secret: bytes, timestamp: str, method: str, target: str, body: bytes) -> str:
    """The signature header's value for a request: what a gateway computes, and what careloop checks."""
    message = b"\n".join((timestamp.encode(), method.upper().encode(), target.encode(), body))
    return "sha256=" + hmac.new(secret, message, hashlib.sha256).hexdigest()


def token_sha256(token: str) -> str:
    """What the clients file holds for a bearer token (the same as ``printf %s TOKEN | sha256sum``)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Guard:
    """Checks each request against the clients; ``clock`` gives the listener's time in Unix seconds."""

    clients: HttpClients
    window: float
    clock: Callable[[], float] = time.time
    _seen: set[str] = field(default_factory=set)  # signatures accepted and not yet expired
    _expiring: list[tuple[float, str]] = field(default_factory=list)  # a heap of (expiry, signature)

    def caller(self, request: Request) -> str:
        """The name of the client that sent ``request``, or RefusedError."""
        if request.headers.get("Authorization") is not None:
            client = self._bearer(request.headers["Authorization"])
        elif request.headers.get(SIGNATURE) is not None:
            client = self._signed(request)
        else:
            raise RefusedError(401, NO_CREDENTIAL)
        if not client.may_call(request.path):
            raise RefusedError(403, f"client {client.name} may not call {request.path} ({SETTING}: its paths)")
        return client.name

    def needs_body(self, headers: Mapping[str, str]) -> bool:
        """Whether checking the credential needs the body (a signed request) before anything else is done."""
        return headers.get("Authorization") is None and headers.get(SIGNATURE) is not None

    def _bearer(self, header: str) -> HttpClient:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise RefusedError(401, "the Authorization header is not 'Bearer <token>'")
        digest = hashlib.sha256(token.strip().encode()).digest()
        found = None
        for client in self.clients.clients.values():  # every hash compared, in constant time each
            for known in client.token_hashes:
                if hmac.compare_digest(digest, known):
                    found = client
        if found is None:
            raise RefusedError(401, "the bearer token is not one of a known client")
        return found

    def _signed(self, request: Request) -> HttpClient:
        name, stamp = request.headers.get(CLIENT), request.headers.get(TIMESTAMP)
        if name is None or stamp is None:
            raise RefusedError(401, f"a signed request names its client ({CLIENT}) and its time ({TIMESTAMP})")
        client = self.clients.clients.get(name)
        if client is None or client.secret is None:
            raise RefusedError(401, f"{CLIENT}: no client of that name signs its requests")
        when = _timestamp(stamp)
        now = self.clock()
        if abs(now - when) > self.window:
            raise RefusedError(401, f"{TIMESTAMP} is {now - when:.0f} s off the listener's clock ({WINDOW_SETTING})")
        given = request.headers[SIGNATURE]
        expected = sign(client.secret, stamp, request.method, request.target, request.body)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise RefusedError(401, f"{SIGNATURE} does not match the request signed with the client's secret")
        self._remember(given, when, now)
        return client

    def _remember(self, signature: str, when: float, now: float) -> None:
        while self._expiring and self._expiring[0][0] < now:  # past its window, its timestamp alone refuses it
            self._seen.discard(heapq.heappop(self._expiring)[1])
        if signature in self._seen:
            raise RefusedError(401, f"a replay: this {SIGNATURE} was accepted already")
        self._seen.add(signature)
        heapq.heappush(self._expiring, (when + self.window, signature))


def _timestamp(stamp: str) -> float:
    try:
        return float(int(stamp.strip()))
    except ValueError:
        raise RefusedError(401, f"{TIMESTAMP} is not Unix seconds (an integer)") from None


def http_guard(clients_file: Path | None, window: float) -> Guard:
    """The guard of a listener from its settings; without a clients file the listener does not start."""
    if clients_file is None:
        raise NoClientsFileError(
            f"{SETTING} is not set: every request to this listener needs a credential of a client listed in that "
            "file (bearer token hashes, signing secrets; see docs/connectors.md, Transport security)"
        )
    return Guard(load_http_clients(clients_file), window)
