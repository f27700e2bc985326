"""Two worker processes in one consumer group on a topic of 4 partitions, on the embedded broker and PostgreSQL:
a second worker joins the running first one's group and they share the partitions, every patient's store equals
what the Simulation decides (each timer fired once), and when one is killed mid-run the other takes over its
partitions and the result is still the same."""

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
from tests.conftest import fast_rejoin
from tests.e2e.conftest import ROOT, Live, live_careloop
from tests.integration.scratch_database import scratch_database

pytestmark = pytest.mark.e2e


@pytest.fixture
def first_worker(broker: EmbeddedBroker, postgres: EmbeddedPostgres, tmp_path: Path) -> Iterator[Live]:
    with live_careloop(broker, postgres, tmp_path, "workers", partitions=4, extra_env=fast_rejoin()) as live:
        yield live


def join_second_worker(live: Live, timeout: float = 90.0) -> int:
    """A second `careloop worker` started on its own, joining the running first one's group; its metrics port, once
    it is ready: a worker's /readyz answers only once faust has started its app, which it does on the worker's
    first assignment. Until then the second gets no work: events published before it joined are the first
    worker's, and a worker takes seconds to start, longer under load."""
    port = free_port()
    live.stack.spawn("worker-2", "worker", env={"CARELOOP_METRICS_PORT": str(port)})
    deadline = time.monotonic() + timeout
    while not ready(port):
        live.stack.check_children()
        assert time.monotonic() < deadline, f"the second worker was not ready within {timeout:.0f} s"
        time.sleep(0.2)
    return port


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return bool(response.status == 200)
    except OSError:  # not serving yet, or 503: not ready
        return False


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


def test_two_workers_share_the_partitions_and_one_takes_over_when_the_other_is_killed_mid_run(
    first_worker: Live,
) -> None:
    live = first_worker
    events = generate(patients=160, seed=19, days=60)
    until = max(e.recorded_at for e in events) + timedelta(days=31)
    live.advance_clock(events[0].recorded_at - timedelta(minutes=1))
    chunks = [events[i : i + 50] for i in range(0, len(events), 50)]
    killed_at = len(chunks) // 2
    second_port = 0

    # Given one worker consuming the clinical and timer topics' 4 partitions, timers firing as the clock moves,
    # and a second joining its group once the first has worked
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
        if n == 0:
            second_port = join_second_worker(live)
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
