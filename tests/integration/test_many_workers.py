"""Two worker processes in one consumer group on a topic of 4 partitions, on the embedded broker and PostgreSQL:
they share the partitions, every patient's store equals what the Simulation decides (each timer fired once), and
when one is killed mid-run the other takes over its partitions and the result is still the same."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from engine.demo.compare import compare
from engine.demo.hospital import generate
from engine.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from engine.store import deployments
from engine.store.definitions import deploy, read_journeys
from tests.conftest import TEST_BROKER, fast_rejoin
from tests.e2e.conftest import ROOT, Live, live_careloop
from tests.integration.scratch_database import scratch_database

pytestmark = pytest.mark.e2e


@pytest.fixture
def two_workers(broker: EmbeddedBroker, postgres: EmbeddedPostgres, tmp_path: Path) -> Iterator[tuple[Live, int]]:
    """The live stack with a second `careloop worker` started on its own, joining the first one's group; the
    second's metrics port."""
    with live_careloop(broker, postgres, tmp_path, "workers", partitions=4, extra_env=fast_rejoin()) as live:
        port = free_port()
        live.stack.spawn("worker-2", "worker", env={"CARELOOP_METRICS_PORT": str(port)})
        yield live, port


def processed(port: int) -> float:
    """Clinical events and timer ticks one worker has processed, from its Prometheus metrics."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0.0  # not serving yet
    found = re.findall(r'^careloop_events_processed_total\{kind="(?:clinical|tick)"\} (\S+)$', text, re.MULTILINE)
    return sum(float(v) for v in found)


def child(live: Live, name: str) -> subprocess.Popen[bytes]:
    return next(p for n, p in live.stack._children if n == name)


def kill(live: Live, name: str) -> None:
    proc = child(live, name)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    live.stack._children = [(n, p) for n, p in live.stack._children if p is not proc]


@pytest.mark.skipif(
    TEST_BROKER == "apache",
    reason="on Apache Kafka, in the loaded suite, a worker joining a running group was not given a partition within "
    "60 s (twice in CI; alone it passes in 20 s): not investigated yet. The fault suite runs two workers on Apache "
    "Kafka from the start, with a third joining and killed, and checks the same invariants",
)
def test_two_workers_share_the_partitions_and_one_takes_over_when_the_other_is_killed_mid_run(
    two_workers: tuple[Live, int],
) -> None:
    live, second_port = two_workers
    events = generate(patients=160, seed=19, days=60)
    until = max(e.recorded_at for e in events) + timedelta(days=31)
    live.advance_clock(events[0].recorded_at - timedelta(minutes=1))
    chunks = [events[i : i + 50] for i in range(0, len(events), 50)]
    killed_at = len(chunks) // 2

    # Given two workers consuming the clinical and timer topics' 4 partitions, timers firing as the clock moves
    for n, chunk in enumerate(chunks):
        live.publish(chunk, wait=False)
        if n == killed_at:
            # both have worked by now: the group shared the partitions
            assert processed(live.metrics_port) > 0 and processed(second_port) > 0
            # When the second worker is SIGKILLed while it consumes, decides and commits
            time.sleep(0.3)
            kill(live, "worker-2")
        live.driver.wait_consumed()  # the first takes over the second's partitions, or this times out
        live.advance_clock(max(e.recorded_at for e in chunk))
        if n == killed_at - 1:
            deadline = time.monotonic() + 60
            while processed(second_port) == 0:  # the second joined later: wait for the rebalance to reach it
                assert time.monotonic() < deadline, "the second worker was never given a partition"
                time.sleep(0.2)
    live.advance_clock(until)

    # Then every patient's recorded history equals the Simulation of the same events: nothing lost, nothing
    # decided twice, each timer fired once, whichever worker held the patient's partition when
    comparison = compare(live.database_url, events, until, live.keys)
    assert comparison.differences == []
    assert comparison.live_effects == comparison.simulated_effects
    assert comparison.live_effects["message.requested"] > 100  # timers fired: the messages are their steps'
    assert live.rows("SELECT count(*) FROM careloop_timers WHERE due_at <= %s", until) == [(0,)]
    # and the survivor consumed all 4 partitions to their end
    assert {p for (p,) in live.rows("SELECT DISTINCT partition FROM careloop_offsets")} == {0, 1, 2, 3}


def test_workers_starting_together_on_a_fresh_database_each_deploy_the_journeys_and_record_one_deployment(
    postgres: EmbeddedPostgres,
) -> None:
    source = read_journeys(ROOT / "journeys.yaml")

    def start(url: str, together: threading.Barrier) -> int:
        together.wait()  # as `careloop up --workers 4` starts them
        return len(deploy(url, source.catalog, source.file, source.text).deployments)

    for attempt in range(3):  # a race: several rounds, each on a database no worker has started on
        with scratch_database(postgres.url, f"workers{attempt}") as url:
            together = threading.Barrier(4)
            with ThreadPoolExecutor(4) as pool:
                seen = list(pool.map(start, [url] * 4, [together] * 4))
            with psycopg.connect(url) as conn:
                recorded = deployments.history(conn)
            assert len(recorded) == 1
            assert seen == [1, 1, 1, 1]
