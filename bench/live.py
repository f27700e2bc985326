"""The live pipeline of one workload: its topics and tables, the real worker and projection runner as child
processes (as `careloop up` runs them), and the waits a benchmark needs around them."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.services import database_url
from engine.embedded._process import spawn, stop_process
from engine.embedded.stack import Stack
from engine.plumbing.clock import set_database_clock
from engine.plumbing.connections import connect
from engine.plumbing.topics import Topics
from engine.security.deployment import open_keys
from engine.settings import Settings
from projections import tracking
from projections.catalog import PROJECTIONS


class BenchTimeoutError(RuntimeError):
    """The pipeline did not get there in time; the message says what was awaited and where the logs are."""


@dataclass
class Live:
    settings: Settings
    stack: Stack
    conn: psycopg.Connection[Any]

    @property
    def url(self) -> str:
        return database_url(self.settings)

    @property
    def topics(self) -> Topics:
        assert self.stack.topics is not None, "services are started before a Live exists"
        return self.stack.topics

    @property
    def logs(self) -> Path:
        return self.stack.data_dir / "logs"

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return self.stack.spawn(name, *args)

    def pid(self, name: str) -> int:
        return next(p.pid for n, p in self.stack._children if n == name)

    def set_clock(self, moment: datetime) -> None:
        set_database_clock(self.conn, moment)

    def committed(self, topic: str | None = None) -> int:
        """Messages of ``topic`` (default: clinical) the worker has committed, summed over partitions."""
        row = self.conn.execute(
            "SELECT coalesce(sum(next_offset), 0) FROM careloop_offsets WHERE consumer = %s AND topic = %s",
            (self.settings.consumer_group, topic or self.topics.clinical),
        ).fetchone()
        return int(row[0]) if row else 0

    def projection_lag(self) -> int | None:
        """Notifications the slowest projection of the catalog still has to apply; None while one has not started
        (projections.tracking.behind)."""
        return tracking.behind(self.conn, [p.name for p in PROJECTIONS])

    def relay_lag(self) -> int:
        """Store notifications the worker's relay has still to publish to the engine topic."""
        head = self.scalar("SELECT coalesce(max(notification_id), 0) FROM careloop_events")
        try:
            position = self.scalar("SELECT coalesce(max(position), 0) FROM careloop_relay")
        except psycopg.errors.UndefinedTable:
            position = 0
        return max(head - position, 0)

    def scalar(self, query: str, *params: Any) -> int:
        row = self.conn.execute(query, params).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def wait(self, done: Callable[[], bool], what: str, timeout: float, poll: float = 0.05) -> float:
        """Poll ``done`` until true; returns the monotonic time it became true. Fails fast if a child died."""
        deadline = time.monotonic() + timeout
        while not done():
            self.stack.check_children()
            if time.monotonic() > deadline:
                raise BenchTimeoutError(f"gave up after {timeout:.0f} s waiting for {what}; logs in {self.logs}")
            time.sleep(poll)
        return time.monotonic()


@contextmanager
def live(settings: Settings, extra_env: dict[str, str] | None = None) -> Iterator[Live]:
    """Topics and tables created, no children yet: the workload starts the worker when its data is ready. The
    workload's key file is made under its data folder, as a deployment provides one."""
    open_keys(settings.key_file, settings.data_dir, create=True)
    stack = Stack(settings, extra_env=extra_env or {})
    stack.start_services()
    conn = connect(database_url(settings), "careloop-bench")
    try:
        yield Live(settings, stack, conn)
    finally:
        conn.close()
        stack.stop()


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), from /proc: no sampling can miss the peak."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def child(argv: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A Python helper process (the bare faust agent), stopped on exit."""
    proc = spawn([sys.executable, *argv], log_path=log, death_signal=signal.SIGTERM, env=env)
    try:
        yield proc
    finally:
        stop_process(proc, graceful_signal=signal.SIGTERM, timeout=10)
