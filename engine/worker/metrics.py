"""Prometheus metrics of the worker and the projection runner."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("careloop_events_processed_total", "Messages processed by the worker", ["kind"])
DECISIONS = Counter("careloop_engine_events_total", "Engine events recorded", ["type"])
DEAD_LETTERS = Counter("careloop_dead_letters_total", "Messages sent to the dead-letter topic", ["reason"])
BATCH_SECONDS = Histogram(
    "careloop_batch_seconds",
    "Time to process and commit one batch",
    buckets=(0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)
CONSUMER_LAG = Gauge("careloop_consumer_lag", "Messages behind the end of the partition", ["topic", "partition"])
TIMERS_PENDING = Gauge("careloop_timers_pending", "Timers waiting to fire")
TIMERS_FIRED = Counter("careloop_timers_fired_total", "Timer ticks published")
STORE_RETRIES = Counter("careloop_store_retries_total", "Batches retried after a store failure", ["error"])
PROJECTION_LAG = Gauge("careloop_projection_lag", "Events behind the store head", ["projection"])
