"""The faust app: one agent over the clinical and timer topics, which hands each batch to handle() in a thread,
and the periodic jobs (engine/worker/jobs.py). Wiring only: what a batch does is engine/worker/handle.py.

Faust acks a message even when an agent raises, so nothing escapes the agent: handle() dead-letters bad messages
and retries store failures until they succeed, and only then does the batch's iteration end (take_events acks
after our code returns).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import faust

from engine.plumbing.clock import Clock
from engine.plumbing.kafka_security import KafkaSecurity
from engine.plumbing.retry import Stopped
from engine.plumbing.topics import Topics
from engine.settings import Settings
from engine.worker.dead_letters import KafkaDeadLetters
from engine.worker.hand_overs import HandOvers
from engine.worker.handle import Deps, handle
from engine.worker.jobs import RAW, Periodic, guarded
from engine.worker.messages import Inbound
from engine.worker.relay import RelayThread
from engine.worker.timers import TimerPoller


@dataclass(frozen=True)
class Parts:
    """What the worker's composition root (engine/processes/worker.py) built for its app."""

    deps: Deps  # what handle() needs
    dead_letters: KafkaDeadLetters
    poller: TimerPoller
    clock: Clock
    relay: RelayThread | None
    hand_overs: HandOvers | None
    stop: threading.Event  # set on shutdown: ends handle()'s waits


def build_app(settings: Settings, bootstrap: str, topics: Topics, parts: Parts, security: KafkaSecurity) -> faust.App:
    app = _app(settings, bootstrap, security)
    consuming = Consuming(parts, settings.batch_max, settings.batch_within)
    jobs = Periodic(app, settings.consumer_group, topics.timers, parts.poller, parts.clock, parts.hand_overs)
    app.agent(app.topic(topics.clinical, topics.timers, **RAW), name=f"{__name__}.journeys")(consuming.batches)
    app.timer(settings.timer_poll_interval)(guarded(jobs.fire_timers))
    app.timer(0.5)(guarded(jobs.send_hand_overs))
    app.timer(15.0)(guarded(jobs.report_pending))
    app.timer(5.0)(guarded(jobs.report_lag))
    app.task(consuming.start_relay)
    app.on_before_shutdown.connect(consuming.shutting_down)
    app.on_partitions_revoked.connect(consuming.revoked)
    return app


def _app(settings: Settings, bootstrap: str, security: KafkaSecurity) -> faust.App:
    return faust.App(
        settings.consumer_group,
        broker=f"kafka://{bootstrap}",
        broker_credentials=faust_credentials(security),
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=min(2.0, settings.session_timeout / 3),
        consumer_auto_offset_reset="earliest",
        topic_disable_leader=True,
        topic_allow_declare=False,
        topic_partitions=settings.partitions,
        web_enabled=False,
        store="memory://",
        datadir=str(settings.data_dir / "faust"),  # not '<app id>-data' in whatever directory it was started from
        producer_acks=-1,
        # aiokafka's max_poll_records defaults to None: every fetched batch is turned into ConsumerRecords at once.
        # Tansu ignores max_partition_fetch_bytes, so a backlog put a whole fetch's records in memory at once
        # (BENCHMARKS.md, "What changed since the first run").
        broker_max_poll_records=settings.batch_max,
    )


def faust_credentials(security: KafkaSecurity) -> faust.types.auth.CredentialsT | None:
    """The deployment's Kafka security as faust's credentials, which faust gives to every aiokafka client it builds
    (consumer, producer, admin): TLS with the settings' context, SASL with TLS (SASL_SSL) or without."""
    if security.mechanism is not None:
        password = security.password.get_secret_value() if security.password else None
        return faust.SASLCredentials(
            username=security.username, password=password, ssl_context=security.context, mechanism=security.mechanism
        )
    if security.context is not None:
        return faust.SSLCredentials(security.context)
    return None


class Consuming:
    """The agent's loop and the app's lifecycle around it."""

    def __init__(self, parts: Parts, batch_max: int, within: float) -> None:
        self._parts = parts
        self._batch_max = batch_max
        self._within = within

    async def batches(self, stream: Any) -> None:  # a faust Stream (its type declares no take_events)
        async for events in stream.take_events(self._batch_max, within=self._within):
            try:
                await asyncio.to_thread(handle, [inbound(e) for e in events], self._parts.deps)
            except Stopped:
                return  # shutting down while the store or the broker was away: the batch is redelivered

    async def start_relay(self) -> None:
        relay = self._parts.relay
        if relay is not None and not relay.is_alive():
            relay.start()

    def shutting_down(self, app: Any, /, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        self._parts.stop.set()
        if self._parts.relay is not None:
            self._parts.relay.stop()
        self._parts.dead_letters.close()

    async def revoked(self, app: Any, /, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        self._parts.deps.store.forget()  # another worker may own these patients now


def inbound(event: Any) -> Inbound:
    message = event.message
    headers = message.headers or []
    if isinstance(headers, dict):
        headers = list(headers.items())
    return Inbound(
        message.topic,
        message.partition,
        message.offset,
        message.key,
        message.value,
        tuple((str(k), bytes(v or b"")) for k, v in headers),
    )
