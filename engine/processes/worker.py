"""Composition root of the worker process (`careloop worker`): Settings -> the faust app over the journey store,
the relay, the dead letters and the timer poller; and the faust worker that runs it.

Clinical events and timer ticks in, patients' events, timers and hand-overs committed, engine events out: what a
batch does is engine/worker/handle.py; the parts are engine/worker and engine/store. Nothing connects until
build_worker is called.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import faust
import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay

from connectors.kafka_producer import kafka_producer as connectors_producer
from engine.access.ownership import TablesNotReadyError
from engine.journeys.catalog import Catalog
from engine.plumbing import collector
from engine.plumbing.clock import Clock, DatabaseClock, SystemClock
from engine.plumbing.health import Heartbeat, Probes, serve_health
from engine.plumbing.kafka_security import KafkaSecurity, kafka_security
from engine.plumbing.retry import backoff, connection_lost
from engine.plumbing.tls import TlsSettingError
from engine.plumbing.topics import Topics, ensure_topics
from engine.security.deployment import open_keys
from engine.security.errors import KeyFileError
from engine.settings import Settings
from engine.store.application import JourneyStore, writer_env
from engine.store.definitions import at_head, deploy, read_journeys
from engine.worker import APPLICATION
from engine.worker.app import Parts, build_app
from engine.worker.dead_letters import KafkaDeadLetters
from engine.worker.fetch_wait import UnsupportedVersionError, limit_fetch_wait
from engine.worker.hand_overs import HandOvers
from engine.worker.handle import Deps
from engine.worker.postgres import Consumer, PostgresJourneys
from engine.worker.prometheus import PrometheusMetrics, RetryUntilStopped
from engine.worker.relay import EngineRelay, RelayThread, kafka_producer
from engine.worker.timers import TimerPoller

log = structlog.get_logger("careloop.worker")
T = TypeVar("T")
START_WAIT = 120.0  # seconds a starting worker waits for PostgreSQL and the broker before it gives up


class ConfigurationError(RuntimeError):
    """A setting is missing or inconsistent; the message says which and how to fix it."""


@dataclass
class Worker:
    app: faust.App
    store: JourneyStore
    catalog: Catalog
    topics: Topics


def require_services(settings: Settings) -> tuple[str, str]:
    if not settings.kafka_bootstrap or settings.database_url is None:
        raise ConfigurationError(
            "the worker needs CARELOOP_KAFKA_BOOTSTRAP and CARELOOP_DATABASE_URL; "
            "`careloop up` starts embedded ones and sets both"
        )
    return settings.kafka_bootstrap, settings.database_url.get_secret_value()


def clock_for(settings: Settings, database_url: str) -> Clock:
    return DatabaseClock(database_url, APPLICATION) if settings.clock == "database" else SystemClock()


def reached(attempt: Callable[[], T]) -> T:
    """``attempt()``, PostgreSQL or the broker being away waited out for up to START_WAIT seconds (the retry
    policy's backoff), as a running worker waits them out: a worker (re)started while they restart comes up when
    they do, instead of exiting. Beyond that the last error is raised, so a wrong address or password still fails."""
    retrying = Retrying(
        wait=backoff(),
        retry=retry_if_exception(connection_lost),
        stop=stop_after_delay(START_WAIT),
        before_sleep=_starting,
        reraise=True,
    )
    return retrying(attempt)


def _starting(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    log.warning("PostgreSQL or the broker not reachable at start; retrying", error=type(exc).__name__)


def build_worker(settings: Settings) -> Worker:
    try:
        limit_fetch_wait()  # first: on faust or aiokafka versions it was not written for, nothing starts
    except UnsupportedVersionError as exc:
        raise ConfigurationError(str(exc)) from exc
    bootstrap, database_url = require_services(settings)
    try:
        security = kafka_security(settings)
        # the worker reveals nothing: of the key file it needs only the key of its logs' patient references
        log_key = open_keys(settings.key_file, settings.data_dir).log_key
    except (TlsSettingError, KeyFileError) as exc:
        raise ConfigurationError(str(exc)) from exc
    topics = reached(lambda: ensure_topics(settings, bootstrap))
    try:  # each skips its DDL where `careloop roles apply` made the tables for another role
        store = reached(lambda: JourneyStore(writer_env(database_url)))
        journeys = read_journeys(settings.journeys)
        catalog = reached(lambda: deploy(database_url, journeys.catalog, journeys.file, journeys.text))
    except TablesNotReadyError as exc:
        raise ConfigurationError(str(exc)) from exc
    relay = _relay(settings, bootstrap, security, store, database_url, topics) if settings.engine_topic else None
    dead_letters = KafkaDeadLetters(
        partial(connectors_producer, bootstrap, APPLICATION, settings.max_message_bytes, security=security),
        topics.dead_letter,
    )
    stop = threading.Event()
    poller = TimerPoller(database_url, settings.timer_batch, settings.timer_republish_after)
    deps = _deps(settings, store, catalog, topics, dead_letters, relay, stop, log_key)
    deps.deployment, deps.reload = catalog.deployments[-1].deployment_id, partial(at_head, database_url)
    parts = Parts(deps, dead_letters, poller, clock_for(settings, database_url), relay, HandOvers(database_url), stop)
    app = build_app(settings, bootstrap, topics, parts, security)
    collector.tune()  # after the catalog and the app are built: they live as long as the process
    return Worker(app, store, catalog, topics)


def run(worker: Worker, settings: Settings) -> None:
    """Serve the worker's metrics, /healthz and /readyz (when CARELOOP_METRICS_PORT is set; on
    CARELOOP_METRICS_HOST) and run its app under faust until stopped."""
    if settings.metrics_port:
        serve_health(settings.metrics_port, settings.metrics_host, worker_probes(worker.app))
    sys.argv = [sys.argv[0]]  # faust's worker parses argv; the command's were consumed by typer
    faust.Worker(worker.app, loglevel=settings.log_level, quiet=True).execute_from_commandline()


def _relay(
    settings: Settings, bootstrap: str, security: KafkaSecurity, store: JourneyStore, database_url: str, topics: Topics
) -> RelayThread:
    """The engine-topic relay (CARELOOP_ENGINE_TOPIC): engine events published as large as inputs may be."""
    producer = partial(kafka_producer, bootstrap, settings.max_message_bytes, security=security)
    return RelayThread(EngineRelay(database_url, store), producer, topics.engine)


def worker_probes(app: faust.App, beat_every: float = 5.0, live_for: float = 120.0) -> Probes:
    """Alive while a timer on the app's event loop keeps beating (a loop blocked for ``live_for`` seconds is not);
    ready once it has beaten: faust runs timers only once the app has started."""
    heartbeat = Heartbeat(live_for)

    async def beat() -> None:
        heartbeat.beat()

    app.timer(beat_every, name="careloop.heartbeat")(beat)
    return Probes(heartbeat.stale, heartbeat.started)


def _deps(
    settings: Settings,
    store: JourneyStore,
    catalog: Catalog,
    topics: Topics,
    dead_letters: KafkaDeadLetters,
    relay: RelayThread | None,
    stop: threading.Event,
    log_key: bytes,
) -> Deps:
    metrics = PrometheusMetrics()
    journeys = PostgresJourneys(
        store,
        Consumer(settings.consumer_group, topics.clinical, topics.ids),
        settings.aggregate_cache_size,
        settings.snapshot_after,
        log_key,
        relaying=relay is not None,
    )
    return Deps(journeys, dead_letters, relay, metrics, RetryUntilStopped(stop, metrics), catalog, topics.timers)
