"""/healthz and /readyz of real processes on real PostgreSQL: `careloop projections run` started as a child with
CARELOOP_HEALTH_PORT answers both once it follows the store, naming the projections it follows (a group's, with
--group), and the dispatcher's readiness asks PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.embedded import free_port
from engine.plumbing.health import serve_health
from engine.processes.dispatcher import dispatcher_probes
from engine.store.application import JourneyStore
from projections.catalog import PROJECTIONS
from projections.groups import groups
from tests.probes import get

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def wait_for(port: int, path: str, child: subprocess.Popen[bytes], timeout: float = 90.0) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert child.poll() is None, f"the process ended with {child.returncode}"
        try:
            answer = get(port, path)
        except OSError:  # not listening yet
            answer = (0, "")
        if answer[0] == 200:
            return answer
        time.sleep(0.5)
    return answer


EVERY = "follows every projection: " + ", ".join(p.name for p in PROJECTIONS)
SECOND_OF_TWO = "follows projections: " + ", ".join(p.name for p in groups(2)[1])


@pytest.mark.parametrize(("options", "follows"), [([], EVERY), (["--group", "2/2"], SECOND_OF_TWO)])
def test_the_projection_runner_is_alive_and_ready_once_it_follows_the_store_and_says_what_it_follows(
    store: JourneyStore, database_url: str, tmp_path: Path, options: list[str], follows: str
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CARELOOP_DATABASE_URL": database_url,
        "CARELOOP_HEALTH_PORT": str(port),
        "CARELOOP_DATA_DIR": str(tmp_path),
    }
    log = (tmp_path / "projections.log").open("wb")
    command = [sys.executable, "-m", "engine.cli.main", "projections", "run", "--poll-interval", "0.5", *options]
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        ready = wait_for(port, "/readyz", child)
        assert ready == (200, f"ok\n{follows}\n"), (tmp_path / "projections.log").read_text()
        assert get(port, "/healthz") == (200, f"ok\n{follows}\n")
        assert get(port, "/metrics")[0] == 200
    finally:
        child.send_signal(signal.SIGTERM)
        assert child.wait(30) == 0, (tmp_path / "projections.log").read_text()
        log.close()


def test_the_dispatcher_is_ready_while_its_postgresql_answers(database_url: str) -> None:
    stop = threading.Event()
    port = free_port()
    server = serve_health(port, "127.0.0.1", dispatcher_probes(database_url, stop))
    try:
        assert get(port, "/readyz") == (200, "ok\n")
        assert get(port, "/healthz") == (200, "ok\n")
    finally:
        server.shutdown()
        server.server_close()
