"""The worker's metrics port on Prometheus (engine/worker/metrics.py), and the retry policy it reports to."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import structlog

from engine.plumbing.retry import call_until_stopped
from engine.worker import metrics
from engine.worker.handle import COMMITTING, CONFLICT
from engine.worker.messages import DeadLetter
from engine.worker.ports import Metrics, Outcome

T = TypeVar("T")
log = structlog.get_logger("careloop.worker")


class PrometheusMetrics:
    def handled(self, outcome: Outcome, seconds: float) -> None:
        metrics.BATCH_SECONDS.observe(seconds)
        metrics.EVENTS.labels("clinical").inc(outcome.clinical)
        metrics.EVENTS.labels("tick").inc(outcome.ticks)
        metrics.EVENTS.labels("duplicate").inc(outcome.duplicates)
        for type_, n in outcome.engine_events.items():
            metrics.DECISIONS.labels(type_).inc(n)

    def dead_lettered(self, letter: DeadLetter) -> None:
        metrics.DEAD_LETTERS.labels(letter.kind).inc()

    def retrying(self, what: str, error: BaseException) -> None:
        """Store retries: a batch's commit, by the error's type, and conflicts."""
        if what == CONFLICT:
            metrics.STORE_RETRIES.labels("conflict").inc()
        elif what == COMMITTING:
            metrics.STORE_RETRIES.labels(type(error).__name__).inc()


class RetryUntilStopped:
    """engine/plumbing/retry.py's policy (exponential backoff with full jitter, never giving up) for handle(): any
    failure is waited out and logged; ``stop`` set (the worker shutting down) ends the wait with
    engine.plumbing.retry.Stopped."""

    def __init__(self, stop: threading.Event, metrics: Metrics) -> None:
        self._stop = stop
        self._metrics = metrics

    def __call__(self, attempt: Callable[[], T], what: str) -> T:
        def retrying(exc: BaseException, delay: float) -> None:
            self._metrics.retrying(what, exc)
            log.error(f"{what} failed; retrying", error=str(exc), error_type=type(exc).__name__, retry_in=delay)

        return call_until_stopped(attempt, self._stop, retrying, retry_on=lambda exc: isinstance(exc, Exception))
