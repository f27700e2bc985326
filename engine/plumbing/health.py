"""Liveness and readiness on a process's metrics port: `/healthz` (alive: its loop goes round; an orchestrator
restarts it otherwise), `/readyz` (ready: it has started and reaches what it needs) and every other path the
Prometheus metrics, as prometheus_client serves them.

Each long-running process's composition root (or command) builds its Probes from the checks below and calls
serve_health once it is configured; nothing listens at import time. An answer is 200 `ok`, or 503 with the reason
in plain words: names of loops and dependencies only, never a patient's data; then, where the probes have one, a
line saying what the process does (a projection runner: the projections it follows).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

# None when the check passes, else why not (said in the 503's body)
Check = Callable[[], "str | None"]
LIVE = "/healthz"
READY = "/readyz"


@dataclass(frozen=True)
class Probes:
    live: Check
    ready: Check
    # A line after the answer saying what this process does, when its command line alone does not show it (which
    # projections a runner follows): for whoever curls the probe, never read by an orchestrator
    about: str = ""


class Heartbeat:
    """When a process's loop last went round: the loop calls ``beat``; ``stale`` fails once it has not for
    ``max_age`` seconds, counted from creation until the first beat (so start-up has that long)."""

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_age, self._clock = max_age, clock
        self._last = clock()
        self.beats = 0

    def beat(self) -> None:
        self._last, self.beats = self._clock(), self.beats + 1

    def stale(self) -> str | None:
        age = self._clock() - self._last
        return None if age <= self._max_age else f"the loop has not gone round for {age:.0f} s"

    def started(self) -> str | None:
        return self.stale() if self.beats else "the loop has not gone round yet"


def all_of(*checks: Check) -> Check:
    """The first failing check's reason, in order; None when all pass."""

    def check() -> str | None:
        return next((reason for reason in (c() for c in checks) if reason is not None), None)

    return check


def threads_running(prefix: str) -> Check:
    """Alive while every thread named ``prefix``* seen running so far still runs: a process's loop threads, which
    start after the probes are served (a loop that ends on a failure ends its process too, a while later)."""
    seen: set[str] = set()

    def check() -> str | None:
        running = {t.name for t in threading.enumerate() if t.name.startswith(prefix)}
        seen.update(running)
        stopped = sorted(seen - running)
        return f"stopped: {', '.join(stopped)}" if stopped else None

    return check


def not_stopping(stop: threading.Event) -> Check:
    """Fails once the process was told to stop: it takes no more work from then on."""
    return lambda: "stopping" if stop.is_set() else None


def reachable(connect: Callable[[], Any], what: str, every: float = 5.0) -> Check:
    """``connect()`` succeeds (a probe of the dependency ``what``); its answer is kept ``every`` seconds, so
    frequent probes do not hammer the dependency."""
    lock = threading.Lock()
    last: list[tuple[float, str | None]] = []

    def check() -> str | None:
        with lock:
            if last and time.monotonic() - last[0][0] < every:
                return last[0][1]
            try:
                connect()
                reason = None
            except Exception as exc:  # any failure means not ready; the type, never the message (it may hold a DSN)
                reason = f"{what} is not reachable ({type(exc).__name__})"
            last[:] = [(time.monotonic(), reason)]
            return reason

    return check


class LoopProbe:
    """An asyncio listener's probes: ``announcing`` wraps the command's announcement, called on the loop once the
    listener listens; alive while that loop answers within ``timeout`` seconds, ready once listening and alive."""

    def __init__(self, timeout: float = 5.0) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeout = timeout

    def announcing(self, announce: Callable[[], None]) -> Callable[[], None]:
        def listening() -> None:
            self._loop = asyncio.get_running_loop()
            announce()

        return listening

    def live(self) -> str | None:
        if self._loop is None:
            return None  # starting: it has not listened yet, which readiness says
        if self._loop.is_closed():
            return "the event loop has closed"
        answered = asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self._loop)
        try:
            answered.result(self._timeout)
        except TimeoutError:
            answered.cancel()
            return f"the event loop did not answer within {self._timeout:.0f} s"
        return None

    def ready(self) -> str | None:
        return "not listening yet" if self._loop is None else self.live()

    def probes(self) -> Probes:
        return Probes(self.live, self.ready)


def health_app(probes: Probes, metrics: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """The WSGI application: the two probes, and ``metrics`` (prometheus_client's) for every other path."""
    served = metrics if metrics is not None else make_wsgi_app()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in (LIVE, READY):
            return served(environ, start_response)  # type: ignore[no-any-return]
        reason = _asked(probes.live if path == LIVE else probes.ready)
        body = "".join(f"{line}\n" for line in ("ok" if reason is None else reason, probes.about) if line).encode()
        status = "200 OK" if reason is None else "503 Service Unavailable"
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")]
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return app


def _asked(check: Check) -> str | None:
    try:
        return check()
    except Exception as exc:  # a probe that breaks answers 503, never a 500 an orchestrator may read otherwise
        return f"the check failed ({type(exc).__name__})"


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow client never holds the process's exit


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Quiet(WSGIRequestHandler):
    def log_message(self, *_: Any) -> None:  # probes and scrapes every few seconds would flood stderr
        pass


def serve_health(port: int, host: str, probes: Probes) -> WSGIServer:
    """Serve /healthz, /readyz and /metrics on host:port (IPv4 or IPv6, as the address is) from a daemon thread;
    ``shutdown()`` stops it."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    server_class = _Server6 if family == socket.AF_INET6 else _Server
    server = make_server(host, port, health_app(probes), server_class=server_class, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="careloop-health", daemon=True).start()
    return server


def listener_announcing(port: int | None, host: str, announce: Callable[[], None]) -> Callable[[], None]:
    """For a listener run by connectors.serving.run_until_signalled: with a health ``port`` (CARELOOP_HEALTH_PORT),
    the probes served at once (not ready until it listens) and the announcement that starts watching its loop."""
    if port is None:
        return announce
    probe = LoopProbe()
    serve_health(port, host, probe.probes())
    return probe.announcing(announce)
