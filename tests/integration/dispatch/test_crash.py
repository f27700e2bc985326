"""SIGKILL of the dispatcher process between the gateway call and the record of its outcome, then a restart:
the patient gets exactly one message, and the engine exactly one outreach.sent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.dispatch.settings import DispatchSettings
from engine.embedded._process import stop_process
from engine.store.application import JourneyStore
from tests.integration.dispatch.conftest import Request, TestGateway, approved, read_topic, record, registered, rows

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def start(argv: list[str], settings: DispatchSettings, gateway: TestGateway, log: Path) -> subprocess.Popen[bytes]:
    """The dispatcher as a child process, configured as an operator would: CARELOOP_ variables only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELOOP_")}
    env |= {
        "CARELOOP_DATABASE_URL": settings.database_url.get_secret_value() if settings.database_url else "",
        "CARELOOP_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "CARELOOP_JOURNEYS": str(settings.journeys),
        "CARELOOP_TOPIC_PREFIX": settings.topic_prefix,
        "CARELOOP_PARTITIONS": str(settings.partitions),
        "CARELOOP_DATA_DIR": str(settings.data_dir),
        "CARELOOP_DISPATCH__GATEWAYS": f'{{"sms-gw": {{"kind": "http", "url": "{gateway.url}", "token": "t0ken"}}}}',
        "CARELOOP_DISPATCH__CHANNELS": '{"sms": "sms-gw"}',
        "CARELOOP_DISPATCH__POLL_INTERVAL": "0.05",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *argv], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_for(what: str, done: Callable[[], bool], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; dispatcher log:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.05)


def test_a_dispatcher_killed_between_the_gateway_call_and_the_record_sends_exactly_once_after_a_restart(
    store: JourneyStore,
    gateway: TestGateway,
    settings: Callable[..., DispatchSettings],
    database_url: str,
    tmp_path: Path,
) -> None:
    config, log = settings(), tmp_path / "dispatcher.log"
    record(store, registered("P-kill", phone="+8613800000099"), approved("P-kill", "m-kill"))
    processes: list[subprocess.Popen[bytes]] = []

    # The gateway sends the SMS on the first request, then the dispatcher is SIGKILLed before it hears back
    def kill_on_first(request: Request) -> None:
        if len(gateway.requests) == 1:
            gateway.delivered[request.key or ""] = request.body
            os.kill(processes[0].pid, signal.SIGKILL)
            processes[0].wait(timeout=10)

    gateway.on_request = kill_on_first
    processes.append(start(["-m", "engine.dispatch"], config, gateway, log))
    try:
        wait_for("the kill", lambda: processes[0].poll() is not None, log)
        assert processes[0].returncode == -signal.SIGKILL

        # The send is in doubt: marked 'sending', no outcome recorded, nothing for the engine yet
        query = "SELECT status, tries FROM dispatch_messages WHERE message_id = 'm-kill'"
        assert rows(database_url, query) == [("sending", 1)]
        assert rows(database_url, "SELECT count(*) FROM dispatch_outbox") == [(0,)]

        # Restarted (through the CLI this time), it sends again with the same idempotency key...
        processes.append(start(["-m", "engine.cli.main", "dispatch"], config, gateway, log))
        unpublished = "SELECT count(*) FROM dispatch_outbox WHERE published_at IS NULL"
        wait_for("the outcome", lambda: rows(database_url, query) == [("sent", 2)], log)
        wait_for("publishing", lambda: rows(database_url, unpublished) == [(0,)], log)
    finally:
        for p in processes:
            stop_process(p, graceful_signal=signal.SIGTERM, timeout=20)
    assert processes[1].returncode == 0, log.read_text(errors="replace")[-3000:]

    # ...which the gateway answers with its first result: two requests, one message to the patient
    assert [r.key for r in gateway.requests] == ["m-kill:1", "m-kill:1"]
    assert list(gateway.delivered) == ["m-kill:1"]

    # The engine hears exactly one outreach.sent
    events = read_topic(config.kafka_bootstrap or "", f"{config.topic_prefix}.clinical")
    assert [(e["type"], e["message_id"], e["attempt"]) for e in events] == [("outreach.sent", "m-kill", 1)]
    assert "+8613800000099" not in log.read_text(errors="replace")  # no PHI in the logs
