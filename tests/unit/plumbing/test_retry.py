"""The one retry policy (engine/plumbing/retry.py): exponential backoff with jitter, waiting out only what it is told
to, stopping when asked."""

from __future__ import annotations

import asyncio
import threading
import time

import psycopg
import pytest
from eventsourcing.persistence import PersistenceError
from tenacity import RetryCallState, Retrying

from engine.plumbing.retry import (
    FIRST_WINDOW,
    MAX_WAIT,
    MIN_WAIT,
    Stopped,
    backoff,
    call_until_stopped,
    connection_lost,
    until_done,
)


def waits_after(failures: int, samples: int = 200) -> list[float]:
    """What the policy waits after the ``failures``-th failure in a row, drawn ``samples`` times."""
    wait = backoff()
    state = RetryCallState(Retrying(), None, (), {})
    state.attempt_number = failures
    return [wait(state) for _ in range(samples)]


def test_the_wait_window_doubles_from_the_first_and_stops_at_the_maximum() -> None:
    for failures in (1, 2, 3, 4, 5, 12, 40):
        window = min(FIRST_WINDOW * 2 ** (failures - 1), MAX_WAIT)
        waits = waits_after(failures)
        assert all(MIN_WAIT <= w <= window for w in waits), (failures, window)
        # The window is used, not just its floor: the longest of 200 draws lies in its upper half
        assert max(waits) > window / 2, (failures, window)


def test_processes_failing_together_do_not_retry_together() -> None:
    # Jitter: ten processes that lost PostgreSQL at the same moment come back at ten different times
    assert len({round(w, 6) for w in waits_after(6, samples=10)}) == 10


def failing(times: int, error: BaseException) -> tuple[list[int], object]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "done"

    return calls, attempt


def test_a_lost_connection_is_retried_until_the_attempt_succeeds() -> None:
    calls, attempt = failing(2, psycopg.OperationalError("server closed the connection unexpectedly"))
    reported: list[tuple[str, float]] = []

    result = call_until_stopped(
        attempt,  # type: ignore[arg-type]
        threading.Event(),
        lambda exc, delay: reported.append((type(exc).__name__, delay)),
        connection_lost,
    )

    assert result == "done"
    assert len(calls) == 3
    assert [name for name, _ in reported] == ["OperationalError", "OperationalError"]
    assert all(MIN_WAIT <= delay <= FIRST_WINDOW * 2 for _, delay in reported)


def test_a_failure_that_is_not_a_lost_connection_is_raised_at_once() -> None:
    calls, attempt = failing(5, ValueError("a bug"))
    reported: list[BaseException] = []
    with pytest.raises(ValueError, match="a bug"):
        call_until_stopped(attempt, threading.Event(), lambda exc, delay: reported.append(exc), connection_lost)  # type: ignore[arg-type]
    assert len(calls) == 1
    assert reported == []


def test_setting_the_stop_event_ends_the_wait_at_once() -> None:
    stop = threading.Event()
    calls, attempt = failing(1000, psycopg.OperationalError("refused"))
    started = time.monotonic()
    with pytest.raises(Stopped):
        call_until_stopped(attempt, stop, lambda exc, delay: stop.set(), connection_lost)  # type: ignore[arg-type]
    assert time.monotonic() - started < 0.5
    assert len(calls) == 1  # no attempt after the stop


def test_a_lost_connection_is_found_anywhere_in_the_cause_chain() -> None:
    try:
        try:
            raise psycopg.OperationalError("terminating connection due to administrator command")
        except psycopg.Error as exc:
            raise RuntimeError("projection reminder_queue failed on notifications 1..10") from exc
    except RuntimeError as wrapped:
        assert connection_lost(wrapped)
    assert connection_lost(PersistenceError("pool timed out"))
    assert not connection_lost(ValueError("invalid event"))
    assert not connection_lost(None)


def test_the_async_worker_retries_any_failure_until_the_batch_is_done() -> None:
    calls: list[int] = []
    reported: list[str] = []

    async def commit() -> int:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("the store is away")
        return 42

    result = asyncio.run(until_done(commit, lambda exc, delay: reported.append(str(exc))))

    assert result == 42
    assert reported == ["the store is away", "the store is away"]


def test_the_work_the_worker_hands_to_a_thread_is_awaited_and_its_result_returned() -> None:
    calls: list[int] = []

    def read_offsets(batch: list[str]) -> list[str]:  # runs in a thread, as the worker's database calls do
        calls.append(1)
        if len(calls) < 2:
            raise psycopg.OperationalError("the database is restarting")
        return [m for m in batch if m != "seen"]

    batch = ["seen", "new"]
    fresh = asyncio.run(until_done(lambda: asyncio.to_thread(read_offsets, batch), lambda exc, delay: None))

    assert fresh == ["new"]
    assert len(calls) == 2
