"""The worker and the dispatcher serve their metrics on CARELOOP_METRICS_HOST (loopback unless a deployer says)."""

from __future__ import annotations

import signal
import sys
import threading
from types import SimpleNamespace
from typing import Any

import faust
import pytest

from engine.dispatch.settings import DispatchSettings
from engine.processes import dispatcher, worker
from engine.settings import Settings


class Served:
    """Stands in for engine/plumbing/health.py's serve_health (metrics and probes): records where a process asked
    to listen."""

    def __init__(self) -> None:
        self.at: list[tuple[int, str]] = []

    def __call__(self, port: int, host: str, probes: Any) -> None:
        self.at.append((port, host))


class TimerApp:
    def timer(self, *_: Any, **__: Any) -> Any:
        return lambda fun: fun


class StoppedDispatcher:
    def run(self, stop: threading.Event) -> None:
        pass

    def close(self) -> None:
        pass


class QuietFaustWorker:
    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    def execute_from_commandline(self) -> None:
        pass


def test_metrics_listen_on_loopback_unless_a_host_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARELOOP_METRICS_HOST", raising=False)
    assert Settings().metrics_host == "127.0.0.1"
    monkeypatch.setenv("CARELOOP_METRICS_HOST", "0.0.0.0")
    assert Settings().metrics_host == "0.0.0.0"
    assert DispatchSettings().metrics_host == "0.0.0.0"


def test_an_empty_metrics_host_is_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARELOOP_METRICS_HOST", "")
    with pytest.raises(ValueError, match="metrics_host"):
        Settings()


def test_the_worker_serves_its_metrics_on_the_configured_host(monkeypatch: pytest.MonkeyPatch) -> None:
    served = Served()
    monkeypatch.setattr(worker, "serve_health", served)
    monkeypatch.setattr(faust, "Worker", QuietFaustWorker)
    monkeypatch.setattr(sys, "argv", ["careloop", "worker"])  # run() trims it for faust

    worker.run(SimpleNamespace(app=TimerApp()), Settings(metrics_port=9464, metrics_host="10.0.0.7"))  # type: ignore[arg-type]

    assert served.at == [(9464, "10.0.0.7")]


def test_the_dispatcher_serves_its_metrics_on_the_configured_host(monkeypatch: pytest.MonkeyPatch) -> None:
    served = Served()
    monkeypatch.setattr(dispatcher, "serve_health", served)
    monkeypatch.setattr(dispatcher, "build_dispatcher", lambda _settings: StoppedDispatcher())
    monkeypatch.setattr(dispatcher, "database_url", lambda _settings: "postgresql://127.0.0.1/careloop")
    monkeypatch.setattr(signal, "signal", lambda *_: None)  # leave pytest's own handlers alone
    # the process's JSON logging would outlive the test: structlog caches loggers configured so (test_snapshots)
    monkeypatch.setattr(dispatcher, "configure_logging", lambda _level: None)
    monkeypatch.setenv("CARELOOP_DISPATCH__METRICS_PORT", "9465")
    monkeypatch.setenv("CARELOOP_METRICS_HOST", "0.0.0.0")

    assert dispatcher.main() == 0

    assert served.at == [(9465, "0.0.0.0")]
