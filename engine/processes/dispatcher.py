"""Composition root of the dispatcher process (`careloop dispatch`, `python -m engine.dispatch`): settings ->
the follower of the event store, the sender with one channel adapter and rate limit per gateway, the outbox
publisher of results; run as the dispatcher's loops (engine/dispatch/loops.py) until a signal stops them.

Nothing connects until build_dispatcher is called.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable

import structlog
from pydantic import ValidationError

from connectors.publisher import EventPublisher
from engine.access.ownership import TablesNotReadyError
from engine.dispatch import APPLICATION
from engine.dispatch.channels.base import Channel
from engine.dispatch.channels.demo_inbox import DemoInbox
from engine.dispatch.channels.http_gateway import HttpGateway
from engine.dispatch.channels.smtp import SmtpEmail
from engine.dispatch.errors import DispatchConfigurationError
from engine.dispatch.follower import Follower
from engine.dispatch.loops import Dispatcher
from engine.dispatch.outbox import OutboxPublisher
from engine.dispatch.outcomes import Approval
from engine.dispatch.rate_limit import TokenBucket, Unlimited
from engine.dispatch.rendering import Contact, Rendered, render_message
from engine.dispatch.sender import Retries, Route, Sender
from engine.dispatch.settings import DispatchSettings, HttpGatewayConfig, SmtpConfig
from engine.journeys.catalog import Catalog
from engine.journeys.errors import JourneyError
from engine.journeys.policy import OutreachPolicy
from engine.journeys.templates import Template
from engine.language.loader import load_catalog
from engine.plumbing.clock import Clock, DatabaseClock, SystemClock
from engine.plumbing.connections import check_reachable, connect
from engine.plumbing.health import Probes, all_of, not_stopping, reachable, serve_health, threads_running
from engine.plumbing.kafka_security import kafka_security
from engine.plumbing.logs import configure_logging
from engine.plumbing.services import ServicesNotFoundError, database_url, kafka_bootstrap
from engine.plumbing.tls import TlsSettingError
from engine.plumbing.topics import ensure_topics
from engine.security.deployment import open_keys
from engine.security.errors import KeyFileError
from engine.security.patient_keys import PatientKeys
from engine.security.patient_keys_postgres import PostgresPatientKeys
from engine.store import deployments
from engine.store.application import JourneyStore, postgres_env
from projections.source import StoreSource

log = structlog.get_logger("careloop.dispatch")


def channel_for(name: str, settings: DispatchSettings, url: str, keys: PatientKeys) -> Channel:
    config = settings.dispatch.gateway(name)
    if isinstance(config, HttpGatewayConfig):
        return HttpGateway(name, config)
    if isinstance(config, SmtpConfig):
        return SmtpEmail(name, config)
    return DemoInbox(name, url, keys)


def routes_for(settings: DispatchSettings, url: str, keys: PatientKeys) -> dict[str, Route]:
    """One adapter and one rate limit per gateway, shared by the channels that use it."""
    built: dict[str, Route] = {}
    for name in sorted(set(settings.dispatch.channels.values())):
        config = settings.dispatch.gateway(name)
        limit = TokenBucket(config.rate, config.burst) if config.rate else Unlimited()
        built[name] = Route(channel_for(name, settings, url, keys), limit)
    return {channel: built[gateway] for channel, gateway in settings.dispatch.channels.items()}


Source = tuple[dict[str, Template], OutreachPolicy, str]  # templates, outreach policy, hospital time zone


class DeployedTemplates:
    """The texts the dispatcher renders with: its own journeys file's, and for a template that file lacks, the
    latest recorded deployment's (a worker reloads its catalog when `careloop deploy` records a file, and may then
    request a template this process never loaded). Read again only when the deployment head moved."""

    def __init__(self, url: str, own: Catalog) -> None:
        self._url = url
        self._own: Source = (own.templates, own.outreach, own.settings.hospital_timezone)
        self._deployed: tuple[int, Source] | None = None

    def source(self, template: str) -> Source:
        if template in self._own[0]:
            return self._own
        with connect(self._url, APPLICATION) as conn:
            if conn.execute("SELECT to_regclass('careloop_deployments') IS NULL").fetchall() == [(True,)]:
                return self._own
            head = deployments.head(conn)
            if self._deployed is None or self._deployed[0] != head:
                latest = deployments.latest(conn)
                if latest is None:
                    return self._own
                f = latest.file
                self._deployed = (head, (f.templates, f.outreach, f.settings.hospital_timezone))
        return self._deployed[1] if template in self._deployed[1][0] else self._own


def renderer_for(templates: DeployedTemplates) -> Callable[[Approval, Contact], Rendered]:
    def render(a: Approval, contact: Contact) -> Rendered:
        texts, outreach, timezone = templates.source(a.template)
        return render_message(texts, outreach, a.template, a.locale, a.variables, contact, a.message_id, timezone)

    return render


def open_store(url: str) -> JourneyStore:
    """The event store, to read its log (its tables created if missing; the worker migrates them)."""
    return JourneyStore(postgres_env(url, pool_size=2, migrate=False))


def build_dispatcher(settings: DispatchSettings) -> Dispatcher:
    try:
        url, bootstrap = database_url(settings), kafka_bootstrap(settings)
        security = kafka_security(settings)
        keys = open_keys(settings.key_file, settings.data_dir)
    except (ServicesNotFoundError, TlsSettingError, KeyFileError) as exc:
        raise DispatchConfigurationError(str(exc)) from exc
    catalog = load_catalog(settings.journeys)
    topics = ensure_topics(settings, bootstrap)
    clock: Clock = DatabaseClock(url, APPLICATION) if settings.clock == "database" else SystemClock()
    check_reachable(url, APPLICATION)  # fail fast with libpq's reason; the store's pool retries 30 s
    store = open_store(url)
    d = settings.dispatch
    # the patients' keys reveal the contact directory's sealed names and addresses (and seal the demo inbox)
    patient_keys = PostgresPatientKeys(url, keys.provider, name=f"{APPLICATION}-keys")
    routes = routes_for(settings, url, patient_keys)
    sender = Sender(
        url,
        routes,
        renderer_for(DeployedTemplates(url, catalog)),
        clock,
        Retries(d.max_tries, d.backoff, d.backoff_max),
        keys.log_key,
        patient_keys,
        d.batch,
        honour_stale=not d.send_stale,
        sealed=settings.seal_patient_data,
    )
    outbox = OutboxPublisher(url, lambda: EventPublisher(bootstrap, topics.clinical, security=security))
    follower = Follower(url, StoreSource(store), d.page_size, d.poll_interval)
    closing = [store.close, patient_keys.close, *(r.channel.close for r in routes.values())]
    return Dispatcher(follower, sender, outbox, d.poll_interval, closing)


def dispatcher_probes(url: str, stop: threading.Event) -> Probes:
    """Alive while its loops (the dispatch-* threads) run and it was not told to stop; ready while PostgreSQL, which
    it follows and records every send in, answers."""
    live = all_of(not_stopping(stop), threads_running("dispatch-"))
    return Probes(live, reachable(lambda: check_reachable(url, APPLICATION), "PostgreSQL"))


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
    except (DispatchConfigurationError, JourneyError, TablesNotReadyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    if settings.dispatch.metrics_port:
        probes = dispatcher_probes(database_url(settings), stop)
        serve_health(settings.dispatch.metrics_port, settings.metrics_host, probes)
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
