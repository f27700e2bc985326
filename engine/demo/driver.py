"""Driving the live pipeline through virtual time, one step at a time.

Each step publishes the events that arrive before its end, waits until the worker has committed them, moves
the database clock to the step's end and waits until every timer due by then has fired. Because the core
decides in logical time (arrival and due times, never the wall clock), the result equals `careloop simulate`
on the same events, whatever the step size.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from connectors.kafka_reading import end_offsets
from connectors.publisher import EventPublisher
from connectors.sealing import Sealer
from engine.plumbing.clock import set_database_clock
from engine.plumbing.connections import connect
from events.base import Event

# Settings for children driven by a stepped clock: poll timers often, do not wait long to fill a batch.
STEPPED_ENV = {
    "CARELOOP_CLOCK": "database",
    "CARELOOP_TIMER_POLL_INTERVAL": "0.05",
    "CARELOOP_BATCH_WITHIN": "0.05",
    "CARELOOP_TIMER_REPUBLISH_AFTER": "5",
}


class DriverTimeoutError(RuntimeError):
    """The pipeline did not catch up in time; the message says what it was waiting for."""


class SteppedDriver:
    def __init__(
        self,
        bootstrap: str,
        database_url: str,
        clinical_topic: str,
        consumer: str,
        sealer: Sealer,
        timeout: float = 120.0,
        check: Callable[[], None] | None = None,
    ) -> None:
        self._sealer = sealer  # the hospital's events are published as an intake would: their patient data sealed
        self._check = check  # raises if a process the driver depends on died: fail fast, not after the timeout
        self._publisher = EventPublisher(bootstrap, clinical_topic)
        self._conn = connect(database_url, "careloop-demo")
        self._topic = clinical_topic
        self._consumer = consumer
        self._timeout = timeout
        self._published: dict[int, int] = {}
        self._bootstrap = bootstrap

    def run(
        self,
        events: Sequence[Event],
        until: datetime,
        step: timedelta,
        on_step: Callable[[datetime], None] | None = None,
    ) -> None:
        pending = sorted(events, key=lambda e: e.recorded_at)
        clock = pending[0].recorded_at - timedelta(minutes=1) if pending else until
        set_database_clock(self._conn, clock)
        i = 0
        while clock < until:
            # A quiet stretch is skipped: the step ends no earlier than the next arrival or timer.
            next_event = pending[i].recorded_at if i < len(pending) else until
            clock = min(max(clock + step, self._next_activity(next_event)), until)
            j = i
            while j < len(pending) and pending[j].recorded_at <= clock:
                j += 1
            self.publish(pending[i:j])
            i = j
            self.advance_clock(clock)
            if on_step:
                on_step(clock)

    def publish(self, events: Sequence[Event], wait: bool = True, sealed: bool = False) -> None:
        """Publish the hospital's events, sealed here unless an intake already ``sealed`` them."""
        if events:
            for partition, end in self._publisher.publish(events if sealed else self._sealer.events(events)).items():
                self._published[partition] = max(self._published.get(partition, 0), end)
        if wait:
            self.wait_consumed()

    def wait_consumed(self) -> None:
        self._wait(self._consumed, "the worker to commit the published events")

    def wait_all_consumed(self) -> None:
        """Until the worker committed everything on the topic now, whoever published it (the dispatcher's
        reports, the webhook), not only what this driver published."""
        for partition, end in end_offsets(self._bootstrap, self._topic).items():
            self._published[partition] = max(self._published.get(partition, 0), end)
        self.wait_consumed()

    def advance_clock(self, moment: datetime) -> None:
        set_database_clock(self._conn, moment)
        self._wait(lambda: self._timers_due(moment) == 0, f"timers due by {moment.isoformat()} to fire")

    def _next_activity(self, next_event: datetime) -> datetime:
        row = self._conn.execute("SELECT min(due_at) FROM careloop_timers").fetchone()
        next_timer = row[0] if row else None
        return next_event if next_timer is None else min(next_event, next_timer)

    def close(self) -> None:
        self._publisher.close()
        self._conn.close()

    def _consumed(self) -> bool:
        rows = self._conn.execute(
            "SELECT partition, next_offset FROM careloop_offsets WHERE consumer = %s AND topic = %s",
            (self._consumer, self._topic),
        ).fetchall()
        done = {int(p): int(o) for p, o in rows}
        return all(done.get(p, 0) >= end for p, end in self._published.items())

    def _timers_due(self, moment: datetime) -> int:
        row = self._conn.execute("SELECT count(*) FROM careloop_timers WHERE due_at <= %s", (moment,)).fetchone()
        return int(row[0]) if row else 0

    def _wait(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self._timeout
        while not done():
            if self._check is not None:
                self._check()
            if time.monotonic() > deadline:
                raise DriverTimeoutError(f"gave up after {self._timeout:.0f} s waiting for {what}")
            time.sleep(0.02)
