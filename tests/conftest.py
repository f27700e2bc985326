"""Session-wide embedded services for the integration and end-to-end tests: one broker, one PostgreSQL."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator

import pytest

from engine.embedded import EmbeddedBroker, EmbeddedPostgres
from engine.embedded.apache_kafka import ApacheKafka

with warnings.catch_warnings():
    # kafka-python 3.0 loads its protocol schemas at import time through
    # importlib.resources.read_text, deprecated on Python 3.11 (not on 3.13):
    # ~200 identical warnings that bury real ones. Import it once, quietly.
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka  # noqa: F401


# CARELOOP_TEST_BROKER=apache runs the integration and end-to-end suites on real Apache Kafka instead of the
# embedded Tansu (`make test-apache`); tests of Tansu itself are marked tansu and skipped then.
TEST_BROKER = os.environ.get("CARELOOP_TEST_BROKER", "tansu")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if TEST_BROKER == "tansu":
        return
    skip = pytest.mark.skip(reason=f"tests the embedded Tansu broker; this run uses {TEST_BROKER}")
    for item in items:
        if item.get_closest_marker("tansu"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker | ApacheKafka]:
    if TEST_BROKER not in ("tansu", "apache"):
        raise pytest.UsageError(f"CARELOOP_TEST_BROKER must be tansu or apache, not {TEST_BROKER!r}")
    service = EmbeddedBroker if TEST_BROKER == "tansu" else ApacheKafka
    with service(tmp_path_factory.mktemp("broker")) as started:
        yield started


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    with EmbeddedPostgres(tmp_path_factory.mktemp("postgres")) as started:
        yield started


@pytest.fixture(scope="session")
def apache_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApacheKafka]:
    """Real Apache Kafka 4.x from deploy/kafka/kafka.sh, data on disk; the first run fetches its jars with Maven."""
    with ApacheKafka(tmp_path_factory.mktemp("apache-kafka")) as started:
        yield started
