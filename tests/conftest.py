"""Session-wide embedded services for the integration and end-to-end tests (one broker, one PostgreSQL), and the
corpus tier's hooks: skip (or, with CI=true, fail) corpus tests without the data, and say so at the end."""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Iterator

import pytest
import structlog

from engine.embedded import EmbeddedBroker, EmbeddedPostgres
from engine.embedded.apache_kafka import ApacheKafka
from tests.corpus import locate

with warnings.catch_warnings():
    # kafka-python 3.0 loads its protocol schemas at import time through
    # importlib.resources.read_text, deprecated on Python 3.11 (not on 3.13):
    # ~200 identical warnings that bury real ones. Import it once, quietly.
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka  # noqa: F401


# CARELOOP_TEST_BROKER=apache runs the integration and end-to-end suites on real Apache Kafka instead of the
# embedded Tansu (`make test-apache`); tests of Tansu itself are marked tansu and skipped then.
TEST_BROKER = os.environ.get("CARELOOP_TEST_BROKER", "tansu")


def fast_rejoin(broker: str = TEST_BROKER) -> dict[str, str]:
    """Worker settings for tests that kill a worker. A killed worker's group membership expires after the session
    timeout, and the survivors' rebalance waits for it: a short session keeps each kill cheap on Tansu (the default
    6 s makes a kill cycle cost ~14 s). Apache Kafka refuses sessions under group.min.session.timeout.ms (6 s, the
    default), and rejoins fast anyway: there the default stays."""
    return {} if broker == "apache" else {"CARELOOP_SESSION_TIMEOUT": "2.0"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if TEST_BROKER == "tansu":
        return
    skip = pytest.mark.skip(reason=f"tests the embedded Tansu broker; this run uses {TEST_BROKER}")
    for item in items:
        if item.get_closest_marker("tansu"):
            item.add_marker(skip)


# The corpus tier (tests/corpus): tests marked corpus read real public test data from outside the repository.
CORPUS_TESTS = pytest.StashKey[int]()


def pytest_collection_finish(session: pytest.Session) -> None:
    # Counted after deselection (-m, -k), so the skip reason says how many of this run's tests need the data.
    session.config.stash[CORPUS_TESTS] = sum(1 for item in session.items if item.get_closest_marker("corpus"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before any fixture: a corpus test without the data is skipped (failed when CI=true) before it reads any.
    marked = item.get_closest_marker("corpus") is not None
    locate.enter(marked)
    if marked:
        locate.require(item.config.stash.get(CORPUS_TESTS, None))


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    locate.leave()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    count = config.stash.get(CORPUS_TESTS, 0)
    if not count:
        return
    stats = terminalreporter.stats
    skipped = [r for r in stats.get("skipped", []) if "corpus" in r.keywords]
    refused = [r for r in stats.get("error", []) if "corpus" in r.keywords and locate.STRICT in str(r.longrepr)]
    where = locate.root()
    terminalreporter.section("corpus tier")
    if where is not None:
        terminalreporter.write_line(f"{count} corpus test(s) read the public test data in {where}")
    elif not skipped and not refused:  # e.g. --collect-only
        terminalreporter.write_line(f"{count} corpus test(s) need the public test data, which is absent")
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} corpus test(s) skipped: {_reasons(skipped)}")
    if refused:
        terminalreporter.write_line(f"{len(refused)} corpus test(s) failed: CI=true and {_reasons(refused)}")
    if where is None:
        terminalreporter.write_line(f"({locate.searched()})")


def _reasons(reports: list[pytest.TestReport]) -> str:
    """The distinct reasons, most common first (normally one: the corpus is absent)."""
    texts = Counter(_reason(r) for r in reports)
    return "; ".join(text if n == len(reports) else f"{text} ({n})" for text, n in texts.most_common())


def _reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ").removesuffix(f" {locate.STRICT}")


@pytest.fixture(autouse=True)
def _structlog_uncached() -> Iterator[None]:
    """A test that runs a process's main (careloop worker, dispatch) configures its JSON logs, which cache each
    logger at first use: every later test's capture_logs would then see nothing. Put structlog back after it."""
    yield
    if structlog.get_config().get("cache_logger_on_first_use"):
        structlog.reset_defaults()


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
