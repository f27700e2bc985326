"""One follower of the event store's notification log, for all that follow it: the projection runner, the
dispatcher and the engine-topic relay.

The follower reads the log page by page after where its readers stand, hands each page to the readers at that
position, and keeps going until stopped: LISTEN on the store's channel (the store NOTIFYs after each insert),
polling every ``poll_interval`` seconds when LISTEN is not possible or not wanted, a lost connection waited out
with the retry policy (engine/plumbing/retry.py), a clean stop between pages when asked.

What stays with each follower's owner, a ``Subscriber``: where each reader's position is kept, and what a page
does. ``apply`` moves a reader's position past the page together with what the page did (projections write
their rows and position in one transaction; the relay moves it once the broker acknowledged the page), and
after checking that the reader still stands where the page starts. So a page is applied once, even by two
followers at a time, and a crash in between only makes it read again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sized
from typing import Any, Generic, Protocol, TypeVar

import psycopg
from psycopg import sql

from engine.plumbing.kept_connection import KeptConnection
from engine.plumbing.retry import OnRetry, Stopped, call_until_stopped, connection_lost

log = logging.getLogger(__name__)


class Page(Protocol):
    """Notifications ``after`` < id <= ``last``, and what a reader reads of them (``events``: counted)."""

    @property
    def after(self) -> int: ...
    @property
    def last(self) -> int: ...
    @property
    def events(self) -> Sized: ...


PageT = TypeVar("PageT", bound=Page)
PageT_co = TypeVar("PageT_co", bound=Page, covariant=True)
PageT_contra = TypeVar("PageT_contra", bound=Page, contravariant=True)


class Log(Protocol[PageT_co]):
    def head(self) -> int:
        """The id of the newest notification, 0 for an empty log."""
        ...

    def read(self, after: int, limit: int) -> PageT_co:
        """The next page: at most ``limit`` notifications after ``after`` (empty at the end of the log)."""
        ...


class Subscriber(Protocol[PageT_contra]):
    def positions(self) -> Mapping[str, int]:
        """Where each reader stands (the id of the last notification it applied). Empty: none follows now."""
        ...

    def apply(self, name: str, page: PageT_contra) -> bool:
        """The page into one reader, its position moved to ``page.last`` with it; False, doing nothing, when the
        reader no longer stands at ``page.after``."""
        ...

    def close(self) -> None:
        """Drop connections after a failure: the next call opens them again."""
        ...


class LogGapError(RuntimeError):
    def __init__(self, after: int, head: int) -> None:
        super().__init__(f"the log has no notification after {after} although its head is {head}")


class Notifications:
    """LISTEN on the store's channel, on a connection of its own; polling while that connection is down."""

    def __init__(self, database_url: str, channel: str, name: str) -> None:
        self._channel = channel
        self._conn = KeptConnection(database_url, name, on_connect=self._listen)

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))

    def listen(self) -> None:
        """Start listening (before the first catch-up, so no notification falls in between), if possible."""
        try:
            self._conn.connection  # noqa: B018 (connecting runs LISTEN)
        except psycopg.Error as exc:
            log.warning("cannot LISTEN on %s (%s); polling instead", self._channel, exc)
            self._conn.close()

    def wait(self, stop: threading.Event, timeout: float) -> None:
        """Return on a notification, on ``stop``, or after ``timeout`` seconds; wake at least every second."""
        deadline = time.monotonic() + timeout
        if not self._conn.connected:
            self.listen()  # it may be back; a notification sent meanwhile is covered by the next catch-up
        while not stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
            if not self._conn.connected:
                stop.wait(min(remaining, 1.0))
                continue
            try:
                conn = self._conn.connection
                if any(True for _ in conn.notifies(timeout=min(remaining, 1.0), stop_after=1)):
                    for _ in conn.notifies(timeout=0):  # drain: one catch-up serves them all
                        pass
                    return
            except psycopg.Error as exc:
                log.warning("lost the LISTEN connection (%s); polling until it is back", exc)
                self._conn.close()

    def close(self) -> None:
        self._conn.close()


class LogFollower(Generic[PageT]):
    def __init__(
        self,
        log: Log[PageT],
        subscriber: Subscriber[PageT],
        page_size: int,
        *,
        notifications: Notifications | None = None,
        poll_interval: float = 5.0,
        on_retry: OnRetry | None = None,
        retry_on: Callable[[BaseException], bool] = connection_lost,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self._log = log
        self._subscriber = subscriber
        self._page_size = page_size
        self._notifications = notifications
        self._poll_interval = poll_interval
        self._on_retry = on_retry or _log_retry
        self._retry_on = retry_on
        self._woken = threading.Event()

    def step(self, until: int | None = None) -> int | None:
        """One page into the readers furthest behind: the events it held, or None when no reader is behind
        ``until`` (or, without it, when the log has nothing after them)."""
        positions = self._subscriber.positions()
        behind = [name for name, position in positions.items() if until is None or position < until]
        if not behind:
            return None
        after = min(positions[name] for name in behind)
        page = self._log.read(after, self._page_size)
        if page.last == page.after:
            if until is None:
                return None
            raise LogGapError(after, until)
        for name in behind:
            if positions[name] == after:
                self._subscriber.apply(name, page)
        return len(page.events)

    def catch_up(
        self,
        until: int | None = None,
        on_progress: Callable[[int], None] | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """Pages until every reader reaches ``until`` (the head as it is now by default), or ``stop`` is set; the
        events read. ``on_progress`` is told the slowest reader's position after each page."""
        head = self._log.head() if until is None else until
        read = 0
        while not (stop is not None and stop.is_set()) and (events := self.step(head)) is not None:
            read += events
            if on_progress is not None:
                on_progress(min(self._subscriber.positions().values(), default=head))
        return read

    def wake(self) -> None:
        """Look at the log now rather than at the next poll (for a follower without LISTEN)."""
        self._woken.set()

    def run(self, stop: threading.Event) -> None:
        """Catch up, wait for a NOTIFY (or ``poll_interval``, or ``wake``) and catch up again, until ``stop`` is set.
        A failure ``retry_on`` accepts is waited out with the subscriber's connections dropped; any other is
        raised."""
        if self._notifications is not None:
            self._notifications.listen()
        try:
            while not stop.is_set():
                call_until_stopped(lambda: self.catch_up(stop=stop), stop, self._failed, self._retry_on)
                self._wait(stop)
        except Stopped:
            pass
        finally:
            if self._notifications is not None:
                self._notifications.close()

    def _failed(self, exc: BaseException, delay: float) -> None:
        self._subscriber.close()
        self._on_retry(exc, delay)

    def _wait(self, stop: threading.Event) -> None:
        if self._notifications is not None:
            self._notifications.wait(stop, self._poll_interval)
            return
        deadline = time.monotonic() + self._poll_interval
        while not stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
            if self._woken.wait(min(remaining, 1.0)):
                break
        self._woken.clear()


def _log_retry(exc: BaseException, delay: float) -> None:
    log.warning("following the event store failed (%s); retrying in %.1f s", exc, delay)
