"""Composition roots: each process builds its parts here, from Settings, and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver

from engine import collector
from engine.clock import Clock, DatabaseClock, SystemClock
from engine.journeys.catalog import Catalog
from engine.journeys.loader import load_catalog
from engine.settings import Settings
from engine.store.application import JourneyStore, postgres_env
from engine.store.definitions import deploy
from engine.topics import Topics, ensure_topics
from engine.worker.app import build_app
from engine.worker.batch import BatchProcessor
from engine.worker.outbox import Outbox
from engine.worker.relay import EngineRelay, RelayThread, kafka_producer
from engine.worker.timers import TimerPoller

# faust-streaming 0.15 builds its aiokafka consumer with fetch_max_wait_ms=1500, and no setting changes it. A
# fetch finding nothing new waits that long before the next fetch can see what just arrived: measured with a bare
# agent at 1,000 msg/s on the embedded broker, p50/p99 receive latency 416/876 ms at 1500 ms, 131/244 ms at
# 100 ms, 112/214 ms at 10 ms (BENCHMARKS.md). Data already there is returned at once either way.
FETCH_MAX_WAIT_MS = 100


def limit_fetch_wait(max_wait_ms: int = FETCH_MAX_WAIT_MS) -> None:
    """Make faust's worker consumer wait at most ``max_wait_ms`` per fetch (a patch of faust's consumer factory,
    applied once per process before the app starts)."""
    create = driver.AIOKafkaConsumerThread._create_worker_consumer
    if getattr(create, "careloop_fetch_wait", None) == max_wait_ms:
        return

    def create_with_wait(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = max_wait_ms  # read by AIOKafkaConsumer.start() when it builds its Fetcher
        return consumer

    create_with_wait.careloop_fetch_wait = max_wait_ms  # type: ignore[attr-defined]
    driver.AIOKafkaConsumerThread._create_worker_consumer = create_with_wait  # type: ignore[method-assign]


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
    return DatabaseClock(database_url) if settings.clock == "database" else SystemClock()


def build_worker(settings: Settings) -> Worker:
    bootstrap, database_url = require_services(settings)
    topics = ensure_topics(settings, bootstrap)
    store = JourneyStore(postgres_env(database_url))
    catalog = deploy(database_url, load_catalog(settings.journeys))
    processor = BatchProcessor(
        store,
        catalog,
        settings.consumer_group,
        topics.timers,
        settings.aggregate_cache_size,
        settings.pseudonym_key.get_secret_value().encode(),
        topics.clinical,
        topics.ids,
        settings.snapshot_after,
    )
    poller = TimerPoller(database_url, settings.timer_batch, settings.timer_republish_after)
    limit_fetch_wait()
    relay = RelayThread(EngineRelay(database_url, store), lambda: kafka_producer(bootstrap), topics.engine)
    app = build_app(
        settings, bootstrap, topics, processor, poller, clock_for(settings, database_url), relay, Outbox(database_url)
    )
    collector.tune()  # after the catalog and the app are built: they live as long as the process
    return Worker(app, store, catalog, topics)
