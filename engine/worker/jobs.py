"""The worker's periodic jobs (faust timers, registered by build_app): due timers sent as ticks, hand-overs sent,
and the gauges reported. Each failure is logged and tried again next time (``guarded``): faust would otherwise
crash the whole worker on one."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import faust
import structlog

from engine.plumbing.clock import Clock
from engine.worker import metrics
from engine.worker.hand_overs import HandOvers
from engine.worker.messages import encode_tick
from engine.worker.timers import DueTimer, TimerPoller

log = structlog.get_logger("careloop.worker")
RAW: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}  # careloop encodes its own messages


def guarded(job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """A periodic job that fails (PostgreSQL restarting, the broker away) logs and tries again next time."""

    @functools.wraps(job)
    async def run() -> None:
        try:
            await job()
        except Exception as exc:
            metrics.STORE_RETRIES.labels(f"{job.__name__}:{type(exc).__name__}").inc()
            log.warning("periodic job failed; retrying next tick", job=job.__name__, error=str(exc))

    return run


def ticks(due: list[DueTimer], now: datetime) -> list[tuple[bytes, bytes]]:
    """One tick per patient, keyed by patient: it fires all the patient's timers due by ``now``, in due order,
    each at its own due time."""
    by_patient: dict[str, list[str]] = {}
    for t in due:
        by_patient.setdefault(t.patient_id, []).append(t.timer_id)
    return [(pid.encode(), encode_tick(pid, now, timer_ids)) for pid, timer_ids in by_patient.items()]


class Periodic:
    def __init__(
        self,
        app: faust.App,
        group: str,
        timers_topic: str,
        poller: TimerPoller,
        clock: Clock,
        hand_overs: HandOvers | None,
    ) -> None:
        self._app = app
        self._group = group
        self._ticks = app.topic(timers_topic, **RAW)
        self._poller = poller
        self._clock = clock
        self._hand_overs = hand_overs

    async def fire_timers(self) -> None:
        now = self._clock.now()
        due = await asyncio.to_thread(self._poller.claim, now, datetime.now(UTC))
        await _sent([await self._ticks.send(key=key, value=value) for key, value in ticks(due, now)])
        metrics.TIMERS_FIRED.inc(len(due))

    async def send_hand_overs(self) -> None:
        """Sent, then marked sent: a crash in between sends again, which the receiver recognises by event id."""
        if self._hand_overs is None:
            return
        rows = await asyncio.to_thread(self._hand_overs.pending)
        await _sent([await self._app.topic(topic, **RAW).send(key=key, value=value) for _, topic, key, value in rows])
        if rows:
            await asyncio.to_thread(self._hand_overs.mark_sent, [row[0] for row in rows])

    async def report_pending(self) -> None:
        metrics.TIMERS_PENDING.set(await asyncio.to_thread(self._poller.pending))
        for name, lag in (await asyncio.to_thread(self._poller.projection_lag)).items():
            metrics.PROJECTION_LAG.labels(name).set(lag)

    async def report_lag(self) -> None:
        assigned = list(self._app.consumer.assignment())
        if not assigned:
            return
        committed = await asyncio.to_thread(self._poller.committed_offsets, self._group)
        for tp in assigned:
            highwater = self._app.consumer.highwater(tp)
            if highwater is not None:
                lag = max(0, highwater - committed.get((tp.topic, tp.partition), 0))
                metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(lag)


async def _sent(futures: list[Any]) -> None:
    """Every send acknowledged by the broker."""
    for future in futures:
        await future
