"""The worker's shell around handle(): the retry policy it runs with, the metrics it reports, and the ticks the
timer poller sends."""

from __future__ import annotations

import json
import threading

import pytest
from prometheus_client import REGISTRY

from engine.plumbing.retry import Stopped
from engine.worker.handle import COMMITTING, CONFLICT, DEAD_LETTERING
from engine.worker.jobs import ticks
from engine.worker.memory import MemoryMetrics
from engine.worker.prometheus import PrometheusMetrics, RetryUntilStopped
from engine.worker.timers import DueTimer
from tests.builders import at


def test_a_failure_is_waited_out_and_reported_until_the_attempt_succeeds() -> None:
    reported = MemoryMetrics()
    outcomes = iter([ConnectionError("the database is away"), ConnectionError("still away"), "committed"])

    def attempt() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert RetryUntilStopped(threading.Event(), reported)(attempt, COMMITTING) == "committed"
    assert reported.retries == [(COMMITTING, "ConnectionError")] * 2


def test_shutting_down_ends_the_wait_with_stopped() -> None:
    stop = threading.Event()
    stop.set()

    def away() -> None:
        raise ConnectionError("the broker is away")

    with pytest.raises(Stopped):
        RetryUntilStopped(stop, MemoryMetrics())(away, DEAD_LETTERING)


def test_store_retries_are_counted_by_error_type_and_conflicts_apart() -> None:
    def count(label: str) -> float:
        return REGISTRY.get_sample_value("careloop_store_retries_total", {"error": label}) or 0.0

    before = {label: count(label) for label in ("conflict", "TimeoutError")}
    reporting = PrometheusMetrics()
    reporting.retrying(CONFLICT, RuntimeError("concurrent write"))
    reporting.retrying(COMMITTING, TimeoutError())
    reporting.retrying(DEAD_LETTERING, TimeoutError())  # the broker, not the store
    assert count("conflict") == before["conflict"] + 1
    assert count("TimeoutError") == before["TimeoutError"] + 1


def test_one_tick_per_patient_fires_every_timer_due_for_it_in_due_order() -> None:
    now = at("2026-03-06 00:00")
    due = [
        DueTimer("t1", "P1", at("2026-03-05 10:00")),
        DueTimer("t2", "P2", at("2026-03-05 11:00")),
        DueTimer("t3", "P1", at("2026-03-05 12:00")),
    ]
    sent = ticks(due, now)
    assert [key for key, _ in sent] == [b"P1", b"P2"]
    first = json.loads(sent[0][1])
    assert (first["patient_id"], first["timers"]) == ("P1", ["t1", "t3"])
    assert first["until"] == now.isoformat()
