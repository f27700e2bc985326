"""The one adjustment careloop makes inside faust and aiokafka: how long the worker's consumer waits per fetch.

faust-streaming builds its aiokafka consumer with ``fetch_max_wait_ms=1500`` and no setting changes it. A fetch
that finds nothing new waits that long before the next fetch can see what just arrived, which adds up to that
much latency to a quiet pipeline (data already there is returned at once either way); BENCHMARKS.md has the
measurements. This replaces faust's private consumer factory and sets aiokafka's private attribute that its
``start()`` reads, so it holds only for the versions it was written for: on any other it refuses to start,
naming what it found, rather than silently doing nothing or breaking the consumer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

FETCH_MAX_WAIT_MS = 100
# The distributions whose private parts this module touches, at the versions it was written and tested for.
WRITTEN_FOR: Mapping[str, str] = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}


class UnsupportedVersionError(RuntimeError):
    """faust-streaming or aiokafka is not at the version the fetch-wait adjustment was written for."""


def installed(names: Mapping[str, str] = WRITTEN_FOR) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def check_versions(found: Mapping[str, str | None], expected: Mapping[str, str] = WRITTEN_FOR) -> None:
    wrong = {name: found.get(name) for name, wanted in expected.items() if found.get(name) != wanted}
    if not wrong:
        return
    have = ", ".join(f"{name} {found.get(name) or 'not installed'}" for name in expected)
    want = ", ".join(f"{name} {wanted}" for name, wanted in expected.items())
    raise UnsupportedVersionError(
        f"the worker's consumer adjustment (engine/worker/fetch_wait.py) was written for {want}; found {have}. "
        "Install the versions pyproject.toml pins (`make install`), or check that module against the versions "
        "found and update WRITTEN_FOR."
    )


def limit_fetch_wait(max_wait_ms: int = FETCH_MAX_WAIT_MS) -> None:
    """Make faust's worker consumer wait at most ``max_wait_ms`` per fetch, once per process before the app
    starts; raises UnsupportedVersionError on faust-streaming or aiokafka versions it was not written for."""
    check_versions(installed())
    from faust.transport.drivers import aiokafka as driver  # noqa: PLC0415 (only once the versions are known)

    create: Callable[[Any, Any], Any] = driver.AIOKafkaConsumerThread._create_worker_consumer
    if getattr(create, "careloop_fetch_wait", None) == max_wait_ms:
        return

    def create_with_wait(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = max_wait_ms  # read by AIOKafkaConsumer.start() when it builds its Fetcher
        return consumer

    create_with_wait.careloop_fetch_wait = max_wait_ms  # type: ignore[attr-defined]
    driver.AIOKafkaConsumerThread._create_worker_consumer = create_with_wait  # type: ignore[method-assign]
