"""A live careloop per test: its own database, topics and consumer group on the session's broker and PostgreSQL,
with the real worker and projection runner as child processes, driven by a database clock."""

from __future__ import annotations

import itertools
import signal
import subprocess
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr

from engine.cli.runtime import wait_for_projections
from engine.demo.driver import STEPPED_ENV, SteppedDriver
from engine.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from engine.embedded._process import stop_process
from engine.embedded.stack import Stack
from engine.plumbing.clock import set_database_clock
from engine.processes.intake import Protection
from engine.processes.stack import runner_children, spawn_runners
from engine.security.patient_keys import PatientKeys
from engine.settings import Settings
from events.base import Event
from tests.keys import postgres_protection

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2025, 1, 1, tzinfo=UTC)
_numbers = itertools.count(1)


@dataclass
class Live:
    settings: Settings
    stack: Stack
    driver: SteppedDriver
    conn: psycopg.Connection[Any]
    database_url: str
    metrics_port: int
    protection: Protection  # the key file's pseudonyms and the patients' keys: what an intake seals with

    @property
    def keys(self) -> PatientKeys:
        return self.protection.keys

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            return str(response.read().decode())

    @property
    def topics(self) -> Any:
        return self.stack.topics

    def publish(self, events: Sequence[Event], wait: bool = True) -> None:
        self.driver.publish(events, wait=wait)

    def advance_clock(self, moment: datetime) -> None:
        self.driver.advance_clock(moment)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def catch_up_projections(self, timeout: float = 60.0) -> None:
        # a timeout fails here, not as a puzzling assertion on rows the projections had not written yet
        assert wait_for_projections(self.database_url, self.stack, timeout), (
            f"the projections did not reach the store's head within {timeout:.0f} s (or a child exited)"
        )

    def worker(self) -> subprocess.Popen[bytes]:
        return next(p for n, p in self.stack._children if n == "worker")

    def kill_worker(self) -> None:
        proc = self.worker()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.stack._children = [(n, p) for n, p in self.stack._children if p is not proc]

    def start_worker(self) -> None:
        self.stack.spawn("worker", "worker")

    def stop_projections(self) -> None:
        for name, proc in list(self.stack._children):
            if name == "projections" or name.startswith("projections-"):
                stop_process(proc, graceful_signal=signal.SIGTERM, timeout=20)
                self.stack._children.remove((name, proc))


class DrivenPublisher:
    """A publisher port (as intakes take) on the stepped driver: publish, then wait until the worker committed."""

    def __init__(self, live: Live) -> None:
        self.live = live

    def publish(self, events: Sequence[Event], timeout: float = 60.0) -> dict[int, int]:
        self.live.driver.publish(events, sealed=True)  # an intake's events: it sealed them
        return {}


def _database(postgres: EmbeddedPostgres, name: str) -> str:
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres.url.rsplit("/", 1)[0] + f"/{name}"


@contextmanager
def live_careloop(
    broker: EmbeddedBroker,
    postgres: EmbeddedPostgres,
    tmp_path: Path,
    name: str,
    journeys: Path = ROOT / "journeys.yaml",
    partitions: int = 4,
    extra_env: dict[str, str] | None = None,
    projection_runners: int = 1,
) -> Iterator[Live]:
    """A live careloop on ``journeys``, on a database, topics and consumer group of its own (named for ``name`` and
    the test's folder), its data under the test's folder, on a stepped database clock; the projections split over
    ``projection_runners`` runners as `careloop up --projection-runners N` splits them."""
    url = _database(postgres, f"e2e_{name}_{tmp_path.name[-12:].replace('-', '_')}")
    settings = Settings(
        kafka_bootstrap=broker.bootstrap,
        database_url=SecretStr(url),
        data_dir=tmp_path,
        journeys=journeys,
        topic_prefix=f"e2e{name}-{tmp_path.name[-8:]}",
        consumer_group=f"e2e{name}-{tmp_path.name[-8:]}",
        partitions=partitions,
        clock="database",
    )
    with running(settings, url, extra_env or {}, timeout=90, projection_runners=projection_runners) as live:
        yield live


@pytest.fixture
def live(broker: EmbeddedBroker, postgres: EmbeddedPostgres, tmp_path: Path) -> Iterator[Live]:
    with live_careloop(broker, postgres, tmp_path, str(next(_numbers))) as started:
        yield started


@contextmanager
def running(
    settings: Settings, url: str, extra_env: dict[str, str], timeout: float, projection_runners: int = 1
) -> Iterator[Live]:
    """The worker and projection runner as children on a stepped database clock; stopped on exit. The key file is
    made under the test's data folder first, as a deployment provides one (the stack makes its own only when
    its services are embedded); the driver publishes the hospital's events sealed, as an intake does."""
    metrics_port = free_port()
    protection = postgres_protection(url, settings.data_dir)
    stack = Stack(settings, extra_env={**STEPPED_ENV, **extra_env, "CARELOOP_METRICS_PORT": str(metrics_port)})
    stack.start_services()
    stack.spawn("worker", "worker")
    spawn_runners(stack, settings, runner_children(projection_runners))
    assert stack.topics is not None
    driver = SteppedDriver(
        stack.bootstrap,
        url,
        stack.topics.clinical,
        settings.consumer_group,
        protection.sealer,
        timeout=timeout,
        check=stack.check_children,
    )
    conn = psycopg.connect(url, autocommit=True)
    # Until a test moves it, the clock stands before every scenario: without a row the worker would read the
    # system time and fire every timer due by today as soon as it sees them.
    set_database_clock(conn, START)
    try:
        yield Live(settings, stack, driver, conn, url, metrics_port, protection)
    finally:
        conn.close()
        driver.close()
        stack.stop()
