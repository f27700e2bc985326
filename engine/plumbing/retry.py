"""The one retry policy: what careloop does when PostgreSQL or the broker is away.

Every loop that waits out a lost connection (the log followers, the dispatcher's sender and outbox, the worker's
batches and dead letters) retries through tenacity with the same wait: exponential backoff with full jitter, a
window that starts at ``FIRST_WINDOW`` seconds and doubles up to ``MAX_WAIT``. Jitter matters when PostgreSQL
restarts: the worker, the relay, the runner and the dispatcher's loops all lose it at the same moment, and
without it they would come back in lockstep, doubling together.

Nothing here gives up: a batch is never dropped, a position never skipped. A thread's loop stops only when its
stop event is set (``Stopped``), or on a failure its caller does not call transient, which is raised as it is.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg
from eventsourcing.persistence import PersistenceError
from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, retry_if_exception_type
from tenacity.wait import wait_base, wait_random_exponential

with warnings.catch_warnings():  # kafka-python 3 warns about its own deprecated internals on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.errors import KafkaError

T = TypeVar("T")
OnRetry = Callable[[BaseException, float], None]  # the failure, and the seconds until the next try

FIRST_WINDOW = 0.2  # seconds: the first retry comes within this
MIN_WAIT = 0.05  # never retry at once: a connection refused in a tight loop would only load the server
MAX_WAIT = 30.0  # the window stops doubling here: a long outage is retried at least every 30 s


def backoff() -> wait_base:
    """Exponential backoff with full jitter: try n waits a random time in [MIN_WAIT, min(0.2 * 2**(n-1), 30)]."""
    return wait_random_exponential(multiplier=FIRST_WINDOW, min=MIN_WAIT, max=MAX_WAIT)


class Stopped(Exception):  # noqa: N818 (a signal that the loop was asked to stop, not an error)
    """The stop event was set while a failure was being waited out."""


def connection_lost(exc: BaseException | None) -> bool:
    """A lost database or broker connection somewhere in the cause chain: worth waiting out, not a bug."""
    while exc is not None:
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | PersistenceError | KafkaError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def call_until_stopped(
    attempt: Callable[[], T], stop: threading.Event, on_retry: OnRetry, retry_on: Callable[[BaseException], bool]
) -> T:
    """``attempt()``, tried again after every failure ``retry_on`` accepts, until it succeeds. Raises Stopped when
    ``stop`` is set during a wait, and any failure ``retry_on`` refuses as it is."""

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise Stopped

    retrying = Retrying(
        sleep=sleep,
        wait=backoff(),
        retry=retry_if_exception(retry_on),
        before_sleep=_reporting(on_retry),
        reraise=True,
    )
    return retrying(attempt)


async def until_done(attempt: Callable[[], Awaitable[T]], on_retry: OnRetry) -> T:
    """``await attempt()``, tried again after any failure until it succeeds (cancelling the task stops it)."""
    retrying = AsyncRetrying(
        wait=backoff(), retry=retry_if_exception_type(Exception), before_sleep=_reporting(on_retry), reraise=True
    )

    async def awaited() -> T:  # tenacity awaits only coroutine functions; ``attempt`` may be a lambda
        return await attempt()

    return await retrying(awaited)


def _reporting(on_retry: OnRetry) -> Callable[[RetryCallState], None]:
    def report(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        if failure is not None:
            on_retry(failure, delay)

    return report
