"""The faust app: one agent over the clinical and timer topics, one timer that sends due ticks.

Faust acks a message even when an agent raises, so nothing escapes the agent: bad messages go to the
dead-letter topic, store failures are retried (engine/retry.py) until they succeed, and only then does the
batch's iteration end (take_events acks after our code returns).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import faust
import structlog

from engine import metrics
from engine.clock import Clock
from engine.retry import until_done
from engine.settings import Settings
from engine.topics import Topics
from engine.worker.batch import BatchProcessor, BatchResult, StoreConflictError
from engine.worker.messages import DeadLetter, Inbound, encode_tick
from engine.worker.outbox import Outbox
from engine.worker.relay import RelayThread
from engine.worker.timers import TimerPoller

log = structlog.get_logger("careloop.worker")


def guarded(job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """A periodic job that fails (PostgreSQL restarting, the broker away) logs and tries again next time:
    faust would otherwise crash the whole worker."""

    @functools.wraps(job)
    async def run() -> None:
        try:
            await job()
        except Exception as exc:
            metrics.STORE_RETRIES.labels(f"{job.__name__}:{type(exc).__name__}").inc()
            log.warning("periodic job failed; retrying next tick", job=job.__name__, error=str(exc))

    return run


def build_app(
    settings: Settings,
    bootstrap: str,
    topics: Topics,
    processor: BatchProcessor,
    poller: TimerPoller,
    clock: Clock,
    relay: RelayThread | None = None,
    outbox: Outbox | None = None,
) -> faust.App:
    app = faust.App(
        settings.consumer_group,
        broker=f"kafka://{bootstrap}",
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
    raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
    source = app.topic(topics.clinical, topics.timers, **raw)
    dead_letters = app.topic(topics.dead_letter, **raw)
    ticks = app.topic(topics.timers, **raw)

    async def handle(batch: list[Inbound]) -> None:
        batch = await _until_done(processor.fresh, batch)
        if not batch:
            return
        with metrics.BATCH_SECONDS.time():
            await _send_dead_letters(dead_letters, processor.decode(batch))
            result = await _process_until_committed(processor, batch)
        if relay is not None and result.committed is not None:
            relay.offer(result.committed)
        _count(result)

    @app.agent(source)
    async def journeys(stream: faust.StreamT[Any]) -> None:
        async for events in stream.take_events(settings.batch_max, within=settings.batch_within):
            await handle([_inbound(e) for e in events])

    @app.timer(settings.timer_poll_interval)
    @guarded
    async def fire_timers() -> None:
        now = clock.now()
        due = await asyncio.to_thread(poller.claim, now, datetime.now(UTC))
        by_patient: dict[str, list[str]] = {}
        for t in due:
            by_patient.setdefault(t.patient_id, []).append(t.timer_id)
        # One tick per patient fires all its timers due by now, in due order, each at its own due time.
        sent = [
            await ticks.send(key=pid.encode(), value=encode_tick(pid, now, timer_ids))
            for pid, timer_ids in by_patient.items()
        ]
        for future in sent:
            await future
        metrics.TIMERS_FIRED.inc(len(due))

    @app.task
    async def start_relay() -> None:
        if relay is not None and not relay.is_alive():
            relay.start()

    @app.on_before_shutdown.connect
    def _stop_relay(app: faust.App, **kwargs: Any) -> None:
        if relay is not None:
            relay.stop()

    @app.timer(0.5)
    @guarded
    async def send_outbox() -> None:
        if outbox is None:
            return
        rows = await asyncio.to_thread(outbox.pending)
        sent = [await app.topic(topic, **raw).send(key=key, value=value) for _, topic, key, value in rows]
        for future in sent:
            await future
        if rows:
            await asyncio.to_thread(outbox.mark_sent, [row[0] for row in rows])

    @app.timer(15.0)
    @guarded
    async def report_pending() -> None:
        metrics.TIMERS_PENDING.set(await asyncio.to_thread(poller.pending))
        for name, lag in (await asyncio.to_thread(poller.projection_lag)).items():
            metrics.PROJECTION_LAG.labels(name).set(lag)

    @app.timer(5.0)
    @guarded
    async def report_lag() -> None:
        assigned = list(app.consumer.assignment())
        if not assigned:
            return
        committed = await asyncio.to_thread(poller.committed_offsets, settings.consumer_group)
        for tp in assigned:
            highwater = app.consumer.highwater(tp)
            if highwater is not None:
                lag = max(0, highwater - committed.get((tp.topic, tp.partition), 0))
                metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(lag)

    @app.on_partitions_revoked.connect
    async def _revoked(app: faust.App, revoked: Any, **kwargs: Any) -> None:
        processor.forget()

    return app


async def _send_dead_letters(topic: Any, letters: list[DeadLetter]) -> None:
    """Sent and acknowledged before the batch commits the offsets past them: nothing is lost. The broker being
    away is waited out, never skipped."""

    def retrying(exc: BaseException, delay: float) -> None:
        log.error("dead-lettering failed; retrying", error=str(exc), retry_in=delay)

    for dead in letters:

        async def send(dead: DeadLetter = dead) -> None:
            await (await topic.send(key=dead.original.key, value=dead.original.value or b"", headers=dead.headers()))

        await until_done(send, retrying)
        metrics.DEAD_LETTERS.labels(dead.kind).inc()
        log.warning(
            "dead-lettered",
            reason=dead.reason,
            topic=dead.original.topic,
            partition=dead.original.partition,
            offset=dead.original.offset,
        )


async def _until_done(work: Callable[[list[Inbound]], list[Inbound]], batch: list[Inbound]) -> list[Inbound]:
    def retrying(exc: BaseException, delay: float) -> None:  # the database is away: wait for it, never skip
        log.error("reading committed offsets failed; retrying", error=str(exc), retry_in=delay)

    return await until_done(lambda: asyncio.to_thread(work, batch), retrying)


async def _process_until_committed(processor: BatchProcessor, batch: list[Inbound]) -> BatchResult:
    def retrying(exc: BaseException, delay: float) -> None:  # a store or database outage: never drop the batch
        metrics.STORE_RETRIES.labels(type(exc).__name__).inc()
        log.error("batch failed; retrying", error=str(exc), error_type=type(exc).__name__, retry_in=delay)

    async def process() -> BatchResult:
        while True:  # another worker wrote one of the patients (a rebalance): reload them and go again at once
            try:
                return await asyncio.to_thread(processor.process, batch)
            except StoreConflictError as exc:
                metrics.STORE_RETRIES.labels("conflict").inc()
                log.info("store conflict; reloading patients", patients=exc.patient_refs)

    return await until_done(process, retrying)


def _inbound(event: Any) -> Inbound:
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


def _count(result: BatchResult) -> None:
    metrics.EVENTS.labels("clinical").inc(result.clinical)
    metrics.EVENTS.labels("tick").inc(result.ticks)
    metrics.EVENTS.labels("duplicate").inc(result.duplicates)
    for type_, n in result.engine_events.items():
        metrics.DECISIONS.labels(type_).inc(n)
