"""Composition root of the dispatcher process: settings -> follower, sender, outbox publisher; and its loops.

Three threads, each a loop of small steps: follow the log, send what is due, publish outcomes. A lost database
or broker connection is waited out (nothing is lost: every step restarts from what PostgreSQL holds); any other
error stops the process with the error, so the supervisor (`careloop up`, systemd...) sees it.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import structlog
from prometheus_client import start_http_server
from pydantic import ValidationError

from connectors.publisher import EventPublisher
from engine.dispatch import APPLICATION
from engine.dispatch.channels.base import Channel
from engine.dispatch.channels.demo_inbox import DemoInbox
from engine.dispatch.channels.http_gateway import HttpGateway
from engine.dispatch.channels.smtp import SmtpEmail
from engine.dispatch.errors import DispatchConfigurationError
from engine.dispatch.follower import Follower
from engine.dispatch.outbox import OutboxPublisher
from engine.dispatch.outcomes import Approval
from engine.dispatch.rate_limit import TokenBucket, Unlimited
from engine.dispatch.rendering import Contact, Rendered, render_message
from engine.dispatch.sender import Retries, Route, Sender
from engine.dispatch.settings import DispatchSettings, HttpGatewayConfig, SmtpConfig
from engine.journeys.catalog import Catalog
from engine.journeys.errors import JourneyError
from engine.language.loader import load_catalog
from engine.plumbing.clock import Clock, DatabaseClock, SystemClock
from engine.plumbing.connections import check_reachable
from engine.plumbing.logs import configure_logging
from engine.plumbing.retry import Stopped, call_until_stopped, connection_lost
from engine.plumbing.services import ServicesNotFoundError, database_url, kafka_bootstrap
from engine.plumbing.topics import ensure_topics
from engine.store.application import JourneyStore, postgres_env
from projections.source import StoreSource

log = structlog.get_logger("careloop.dispatch")


@dataclass
class Dispatcher:
    follower: Follower
    sender: Sender
    outbox: OutboxPublisher
    poll_interval: float
    closing: list[Callable[[], None]] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set, or one loop fails for a reason other than a lost connection (raised here)."""
        self.follower.setup()
        failures: list[BaseException] = []
        steps = [
            ("sender", self.sender.run_once, self.sender.close),
            ("outbox", self.outbox.run_once, self.outbox.close),
        ]
        loops = [("follower", partial(self.follower.run, stop), self.follower.close)]
        loops += [(name, partial(self._repeat, name, step, close, stop), close) for name, step, close in steps]
        threads = [
            threading.Thread(target=_guarded, args=(loop, close, stop, failures), name=f"dispatch-{name}")
            for name, loop, close in loops
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failures:
            raise failures[0]

    def _repeat(self, name: str, step: Callable[[], int], close: Callable[[], None], stop: threading.Event) -> None:
        """``step`` again and again, waiting ``poll_interval`` when it found nothing to do; a lost connection is
        waited out (the loop's connections closed), any other failure raised."""

        def retrying(exc: BaseException, delay: float) -> None:
            log.warning("connection lost; retrying", loop=name, error=type(exc).__name__, delay=delay)
            close()

        try:
            while not stop.is_set():
                if not call_until_stopped(step, stop, retrying, connection_lost):
                    stop.wait(self.poll_interval)
        except Stopped:
            pass

    def close(self) -> None:
        for close in self.closing:
            close()


def _guarded(
    loop: Callable[[], None], close: Callable[[], None], stop: threading.Event, failures: list[BaseException]
) -> None:
    """One of the dispatcher's threads: a failure stops the others and is kept for ``run`` to raise."""
    try:
        loop()
    except BaseException as exc:
        failures.append(exc)
        stop.set()
    finally:
        close()


def channel_for(name: str, settings: DispatchSettings, url: str) -> Channel:
    config = settings.dispatch.gateway(name)
    if isinstance(config, HttpGatewayConfig):
        return HttpGateway(name, config)
    if isinstance(config, SmtpConfig):
        return SmtpEmail(name, config)
    return DemoInbox(name, url)


def routes_for(settings: DispatchSettings, url: str) -> dict[str, Route]:
    """One adapter and one rate limit per gateway, shared by the channels that use it."""
    built: dict[str, Route] = {}
    for name in sorted(set(settings.dispatch.channels.values())):
        config = settings.dispatch.gateway(name)
        limit = TokenBucket(config.rate, config.burst) if config.rate else Unlimited()
        built[name] = Route(channel_for(name, settings, url), limit)
    return {channel: built[gateway] for channel, gateway in settings.dispatch.channels.items()}


def renderer_for(catalog: Catalog) -> Callable[[Approval, Contact], Rendered]:
    def render(a: Approval, contact: Contact) -> Rendered:
        return render_message(
            catalog.templates,
            catalog.outreach,
            a.template,
            a.locale,
            a.variables,
            contact,
            a.message_id,
            catalog.settings.hospital_timezone,
        )

    return render


def open_store(url: str) -> JourneyStore:
    """The event store, to read its log (opening it creates its tables if missing, one process at a time)."""
    return JourneyStore(postgres_env(url, pool_size=2))


def build_dispatcher(settings: DispatchSettings) -> Dispatcher:
    try:
        url, bootstrap = database_url(settings), kafka_bootstrap(settings)
    except ServicesNotFoundError as exc:
        raise DispatchConfigurationError(str(exc)) from exc
    catalog = load_catalog(settings.journeys)
    topics = ensure_topics(settings, bootstrap)
    clock: Clock = DatabaseClock(url, APPLICATION) if settings.clock == "database" else SystemClock()
    check_reachable(url, APPLICATION)  # fail fast with libpq's reason; the store's pool retries 30 s
    store = open_store(url)
    d = settings.dispatch
    routes = routes_for(settings, url)
    sender = Sender(
        url,
        routes,
        renderer_for(catalog),
        clock,
        Retries(d.max_tries, d.backoff, d.backoff_max),
        settings.pseudonym_key.get_secret_value().encode(),
        d.batch,
        honour_stale=not d.send_stale,
    )
    outbox = OutboxPublisher(url, lambda: EventPublisher(bootstrap, topics.clinical))
    follower = Follower(url, StoreSource(store), d.page_size, d.poll_interval)
    closing = [store.close, *(r.channel.close for r in routes.values())]
    return Dispatcher(follower, sender, outbox, d.poll_interval, closing)


def main() -> int:
    """`careloop dispatch` and `python -m engine.dispatch`: 0 when stopped by a signal, 1 on failure, 2 on bad
    settings."""
    try:
        settings = DispatchSettings()
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            name = "CARELOOP_" + "__".join(str(p) for p in err["loc"]).upper()
            print(f"error: {name}: {err['msg']}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    logging.getLogger("kafka").setLevel(logging.WARNING)  # kafka-python narrates every connection at INFO
    try:
        dispatcher = build_dispatcher(settings)
    except (DispatchConfigurationError, JourneyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if settings.dispatch.metrics_port:
        start_http_server(settings.dispatch.metrics_port, addr="127.0.0.1")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log.info("dispatcher started", channels=dict(settings.dispatch.channels))
    try:
        dispatcher.run(stop)
    except Exception as exc:
        log.exception("dispatcher failed", error=str(exc))
        return 1
    finally:
        dispatcher.close()
    return 0
