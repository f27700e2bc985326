"""Prometheus metrics of the dispatcher (served with CARELOOP_DISPATCH__METRICS_PORT)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SENDS = Counter(
    "careloop_dispatch_sends_total",
    "Sends by outcome: sent, retry, failed, withdrawn",
    ["channel", "gateway", "outcome"],
)
SEND_SECONDS = Histogram(
    "careloop_dispatch_send_seconds",
    "Time a gateway took to answer one send",
    ["gateway"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
RATE_LIMITED_SECONDS = Counter(
    "careloop_dispatch_rate_limited_seconds_total", "Time spent waiting for a gateway's rate limit", ["gateway"]
)
IN_DOUBT = Counter(
    "careloop_dispatch_in_doubt_total", "Sends found in flight after a crash and sent again", ["channel"]
)
PUBLISHED = Counter("careloop_dispatch_published_total", "Outcome events published to the clinical topic", ["type"])
FOLLOWED = Gauge("careloop_dispatch_position", "The last notification of the event store the dispatcher applied")
