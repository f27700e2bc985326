"""/healthz and /readyz (engine/plumbing/health.py), served for real on a loopback port and asked over HTTP, as an
orchestrator's probes and Prometheus ask: each process's probes say alive and ready, or 503 with the reason."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from prometheus_client import Counter

from engine.embedded import free_port
from engine.plumbing.health import (
    Heartbeat,
    LoopProbe,
    Probes,
    all_of,
    listener_announcing,
    not_stopping,
    reachable,
    serve_health,
    threads_running,
)
from engine.processes import dispatcher, projections, worker
from projections.groups import groups
from tests.probes import get

UNREACHABLE = "postgresql://careloop@127.0.0.1:9/careloop?connect_timeout=2"  # port 9 (discard): refused at once


@contextmanager
def served(probes: Probes) -> Iterator[int]:
    port = free_port()
    server = serve_health(port, "127.0.0.1", probes)
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def passing() -> str | None:
    return None


# --- the server ----------------------------------------------------------------------------------------------------


def test_both_endpoints_answer_ok_when_the_checks_pass_and_the_metrics_stay_on_the_same_port() -> None:
    Counter("careloop_health_test_probe", "A counter only this test defines.").inc()
    with served(Probes(passing, passing)) as port:
        assert get(port, "/healthz") == (200, "ok\n")
        assert get(port, "/readyz") == (200, "ok\n")
        status, metrics = get(port, "/metrics")
    assert status == 200
    assert "careloop_health_test_probe_total 1.0" in metrics


def test_a_failing_check_answers_503_with_its_reason_and_the_other_endpoint_is_unaffected() -> None:
    with served(Probes(passing, lambda: "PostgreSQL is not reachable (OperationalError)")) as port:
        assert get(port, "/readyz") == (503, "PostgreSQL is not reachable (OperationalError)\n")
        assert get(port, "/healthz") == (200, "ok\n")


def test_a_check_that_raises_answers_503_naming_the_error_type_only() -> None:
    def broken() -> str | None:
        raise RuntimeError("postgresql://owner:secret@db/careloop")

    with served(Probes(broken, passing)) as port:
        assert get(port, "/healthz") == (503, "the check failed (RuntimeError)\n")


def test_the_probes_listen_on_an_ipv6_address_too() -> None:
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        port = int(s.getsockname()[1])
    server = serve_health(port, "::1", Probes(passing, passing))
    try:
        with urllib.request.urlopen(f"http://[::1]:{port}/healthz", timeout=10) as response:
            assert (response.status, response.read()) == (200, b"ok\n")
    finally:
        server.shutdown()
        server.server_close()


# --- the checks ----------------------------------------------------------------------------------------------------


def test_a_heartbeat_is_alive_until_its_loop_stops_beating_for_longer_than_its_age() -> None:
    clock = Clock()
    heartbeat = Heartbeat(max_age=60, clock=clock)
    assert heartbeat.stale() is None  # start-up has max_age to beat
    assert heartbeat.started() == "the loop has not gone round yet"
    clock.now += 30
    heartbeat.beat()
    assert heartbeat.started() is None
    clock.now += 61
    assert heartbeat.stale() == "the loop has not gone round for 61 s"
    assert heartbeat.started() == "the loop has not gone round for 61 s"


def test_all_of_gives_the_first_failing_reason_in_order() -> None:
    stop = threading.Event()
    check = all_of(not_stopping(stop), lambda: "second", lambda: "third")
    assert check() == "second"
    stop.set()
    assert check() == "stopping"
    assert all_of(passing, passing)() is None


def test_loop_threads_seen_running_fail_the_probe_once_one_of_them_ends() -> None:
    check = threads_running("careloop-test-loop-")
    assert check() is None  # none started yet: starting up
    ending = threading.Event()
    threads = [
        threading.Thread(target=ending.wait, name=f"careloop-test-loop-{name}", daemon=True) for name in ("a", "b")
    ]
    for t in threads:
        t.start()
    assert check() is None
    ending.set()
    for t in threads:
        t.join()
    assert check() == "stopped: careloop-test-loop-a, careloop-test-loop-b"


def test_an_unreachable_dependency_is_named_and_its_answer_kept_for_a_while() -> None:
    calls: list[int] = []

    def refused() -> None:
        calls.append(1)
        raise ConnectionRefusedError("127.0.0.1:5432")

    check = reachable(refused, "PostgreSQL", every=60)
    assert check() == "PostgreSQL is not reachable (ConnectionRefusedError)"
    assert check() == "PostgreSQL is not reachable (ConnectionRefusedError)"
    assert len(calls) == 1


# --- each process's probes -----------------------------------------------------------------------------------------


class TimerApp:
    """Records the timers a composition root puts on a faust app, as faust.App.timer does."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, Any]] = []

    def timer(self, interval: float, **_: Any) -> Any:
        def register(fun: Any) -> Any:
            self.timers.append((interval, fun))
            return fun

        return register


def test_the_worker_is_ready_once_its_timer_has_beaten_on_the_apps_loop() -> None:
    app = TimerApp()
    probes = worker.worker_probes(app, beat_every=5.0)  # type: ignore[arg-type]
    [(interval, beat)] = app.timers
    assert interval == 5.0
    with served(probes) as port:
        assert get(port, "/healthz") == (200, "ok\n")
        assert get(port, "/readyz") == (503, "the loop has not gone round yet\n")
        asyncio.run(beat())
        assert get(port, "/readyz") == (200, "ok\n")


def test_the_dispatcher_is_not_ready_without_postgresql_and_not_alive_once_stopping() -> None:
    stop = threading.Event()
    with served(dispatcher.dispatcher_probes(UNREACHABLE, stop)) as port:
        assert get(port, "/readyz") == (503, "PostgreSQL is not reachable (OperationalError)\n")
        assert get(port, "/healthz") == (200, "ok\n")
        stop.set()
        assert get(port, "/healthz") == (503, "stopping\n")


def test_the_projection_runner_is_not_ready_without_postgresql_and_not_alive_once_its_thread_ended() -> None:
    stop = threading.Event()
    made: list[Probes] = []
    group = groups(2)[0]  # one of two runners: the answers say which projections it follows
    runner = threading.Thread(target=lambda: made.append(projections.probes(UNREACHABLE, stop, group)))
    runner.start()
    runner.join()
    follows = "follows projections: " + ", ".join(p.name for p in group)
    with served(made[0]) as port:
        assert get(port, "/healthz") == (503, f"the runner's thread has ended\n{follows}\n")
        assert get(port, "/readyz") == (503, f"PostgreSQL is not reachable (OperationalError)\n{follows}\n")


# --- a listener's loop ---------------------------------------------------------------------------------------------


@contextmanager
def listener_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def test_a_listener_is_ready_once_it_announces_and_alive_while_its_loop_answers() -> None:
    probe = LoopProbe(timeout=1.0)
    announced: list[str] = []
    with served(probe.probes()) as port, listener_loop() as loop:
        assert get(port, "/readyz") == (503, "not listening yet\n")
        assert get(port, "/healthz") == (200, "ok\n")

        async def listening() -> None:
            probe.announcing(lambda: announced.append("listening"))()

        asyncio.run_coroutine_threadsafe(listening(), loop).result(5)
        assert announced == ["listening"]
        assert get(port, "/readyz") == (200, "ok\n")
        loop.call_soon_threadsafe(time.sleep, 2.5)  # a handler that blocks the loop
        time.sleep(0.1)
        assert get(port, "/healthz") == (503, "the event loop did not answer within 1 s\n")
        time.sleep(2.5)
        assert get(port, "/healthz") == (200, "ok\n")


def test_a_listener_without_a_health_port_keeps_its_announcement_and_serves_nothing() -> None:
    def announce() -> None:
        pass

    assert listener_announcing(None, "127.0.0.1", announce) is announce


def test_a_listener_with_a_health_port_serves_probes_before_it_listens() -> None:
    port = free_port()
    listener_announcing(port, "127.0.0.1", lambda: None)
    assert get(port, "/readyz") == (503, "not listening yet\n")


@pytest.mark.parametrize("path", ["/", "/metrics"])
def test_every_other_path_is_the_metrics(path: str) -> None:
    with served(Probes(passing, passing)) as port:
        status, body = get(port, path)
    assert status == 200
    assert "# TYPE" in body
