"""The live worker (a real faust worker on the embedded broker and PostgreSQL) answers /healthz and /readyz on its
metrics port: ready once the heartbeat timer has run on its event loop, which faust starts with the app."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import Live
from tests.probes import get

pytestmark = pytest.mark.e2e


def test_the_live_worker_is_alive_and_ready_on_its_metrics_port(live: Live) -> None:
    deadline, answer = time.monotonic() + 90, (0, "")
    while time.monotonic() < deadline and answer[0] != 200:
        live.stack.check_children()
        answer = get(live.metrics_port, "/readyz")
        time.sleep(0.5)
    assert answer == (200, "ok\n")
    assert get(live.metrics_port, "/healthz") == (200, "ok\n")
    assert "careloop_" in live.metrics()  # the metrics still on the same port
