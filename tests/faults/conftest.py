"""The live stack of tests/e2e on either broker: embedded Tansu or real Apache Kafka.

The suite is slow (minutes per broker) and runs only when selected: `pytest -m faults` (or `make faults`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr

from engine.embedded import EmbeddedPostgres, free_port
from engine.settings import Settings
from tests.conftest import fast_rejoin
from tests.e2e.conftest import Live, running

ROOT = Path(__file__).resolve().parents[2]
BROKERS = ["tansu", "apache"]
_numbers = itertools.count(1)
STANDING_WORKER = "worker-b"  # in the group from start to end, beside "worker" (killed) and "worker-2" (joins)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "faults" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="fault-injection suite: run with -m faults (make faults)")
    for item in items:
        if item.get_closest_marker("faults"):
            item.add_marker(skip)


def bootstrap_for(request: pytest.FixtureRequest, kind: str) -> str:
    if kind == "tansu":
        return str(request.getfixturevalue("broker").bootstrap)
    return str(request.getfixturevalue("apache_kafka").bootstrap)


@pytest.fixture(params=BROKERS)
def broker_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def faulty_live(
    request: pytest.FixtureRequest, broker_kind: str, postgres: EmbeddedPostgres, tmp_path: Path
) -> Iterator[Live]:
    """A per-test database, topics and consumer group on the session's services; two workers and projections."""
    bootstrap = bootstrap_for(request, broker_kind)
    n = next(_numbers)
    name = f"faults_{broker_kind}_{n}_{tmp_path.name[-8:].replace('-', '_')}"
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = postgres.url.rsplit("/", 1)[0] + f"/{name}"
    settings = Settings(
        kafka_bootstrap=bootstrap,
        database_url=SecretStr(url),
        data_dir=tmp_path,
        journeys=ROOT / "journeys.yaml",
        topic_prefix=f"faults{n}-{broker_kind}-{tmp_path.name[-8:]}",
        consumer_group=f"faults{n}-{broker_kind}-{tmp_path.name[-8:]}",
        partitions=4,
        clock="database",
    )
    with running(settings, url, fast_rejoin(broker_kind), timeout=120) as live:
        # Several workers throughout: a standing second one shares the group's 4 partitions with the one the
        # suite kills again and again (its own metrics port: the first one's is taken)
        live.stack.spawn(STANDING_WORKER, "worker", env={"CARELOOP_METRICS_PORT": str(free_port())})
        yield live
