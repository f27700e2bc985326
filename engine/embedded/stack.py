"""The one-command stack: embedded (or external) Kafka and PostgreSQL, their topics and tables, and careloop
processes as children (which ones: engine/processes/stack.py for `careloop up`; the tests and benchmarks start
their own).

Children are started with the services' addresses in CARELOOP_* variables, log to <data_dir>/logs, die
with this process, and are stopped in reverse order.

A stack that starts its own PostgreSQL is the owner of careloop's tables there: it applies the roles (`careloop
roles apply`) and makes a login per process (engine/access/logins.py), and each child connects under its
command's login, never the owner's (docs/access.md). With a configured PostgreSQL the deployer made the logins, and
a child gets the CARELOOP_DATABASE_URL it is given.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from engine.access import logins, roles
from engine.embedded import EmbeddedBroker, EmbeddedPostgres
from engine.embedded._process import spawn, stop_process
from engine.plumbing.services import clear_services, write_services
from engine.plumbing.topics import Topics, ensure_topics
from engine.security.deployment import DeploymentKeys, open_keys
from engine.settings import Settings
from engine.store.application import JourneyStore, postgres_env

MALLOC_ARENAS = "2"


@dataclass
class Stack:
    settings: Settings
    extra_env: dict[str, str] = field(default_factory=dict)
    bootstrap: str = ""
    database_url: str = ""
    topics: Topics | None = None
    keys: DeploymentKeys | None = None
    logins: dict[str, str] = field(default_factory=dict)  # process -> its login's URL (engine/access/logins.py)
    _broker: EmbeddedBroker | None = None
    _postgres: EmbeddedPostgres | None = None
    _children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir.absolute()

    def start_services(self) -> None:
        """The key file, Kafka and PostgreSQL (embedded unless configured), topics and tables."""
        # The embedded stack alone makes its key file (under the data folder); with a configured Kafka or PostgreSQL
        # the deployment provides one, and the stack refuses to start without it (KeyFileError says how).
        embedded = self.settings.database_url is None and self.settings.kafka_bootstrap is None
        self.keys = open_keys(self.settings.key_file, self.data_dir, create=embedded)
        if self.settings.database_url is None:
            self._postgres = EmbeddedPostgres(self.data_dir / "postgres")
            self.database_url = self._postgres.start()
        else:
            self.database_url = self.settings.database_url.get_secret_value()
        if self.settings.kafka_bootstrap is None:
            self._broker = EmbeddedBroker(self.data_dir / "kafka")
            self.bootstrap = self._broker.start()
        else:
            self.bootstrap = self.settings.kafka_bootstrap
        self.topics = ensure_topics(self.settings, self.bootstrap)
        if self._postgres is not None:  # ours: every table, the roles and a login per process, as their owner
            roles.apply(self.database_url)
            self.logins = logins.create(self.database_url)
        else:
            JourneyStore(postgres_env(self.database_url)).close()  # creates the event store and engine tables
        # Other careloop commands (publish, dlq, projections) find the running stack through this file.
        write_services(self.data_dir, self.bootstrap, self.database_url, self.logins)

    def env(self) -> dict[str, str]:
        """The children's settings: this stack's services and the settings that must agree across processes."""
        s = self.settings
        return {
            # glibc gives each thread that contends for malloc an arena of its own (up to 8 per core), and with the
            # worker's threads those arenas held freed memory: two keep its peak resident set within the memory
            # target (BENCHMARKS.md, "Memory"). glibc reads it at a process's start, so it is set for the children
            # here and in the image (deploy/container/Dockerfile); an operator's own value wins.
            "MALLOC_ARENA_MAX": MALLOC_ARENAS,
            **os.environ,
            "CARELOOP_KAFKA_BOOTSTRAP": self.bootstrap,
            "CARELOOP_DATABASE_URL": self.database_url,
            "CARELOOP_DATA_DIR": str(self.data_dir),
            **({"CARELOOP_KEY_FILE": str(self.keys.path.absolute())} if self.keys is not None else {}),
            "CARELOOP_JOURNEYS": str(s.journeys.absolute()),
            "CARELOOP_TOPIC_PREFIX": s.topic_prefix,
            "CARELOOP_PARTITIONS": str(s.partitions),
            "CARELOOP_CONSUMER_GROUP": s.consumer_group,
            "CARELOOP_CLOCK": s.clock,
            **self.extra_env,
        }

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """``careloop <args>`` as a child, under its command's login where this stack made one; ``env`` wins."""
        argv = [sys.executable, "-m", "engine.cli.main", *args]
        log_path = self.data_dir / "logs" / f"{name}.log"
        login = logins.for_command(self.logins, args)
        own = {"CARELOOP_DATABASE_URL": login} if login is not None else {}
        proc = spawn(argv, log_path=log_path, death_signal=signal.SIGTERM, env={**self.env(), **own, **(env or {})})
        self._children.append((name, proc))
        return proc

    def exited(self) -> list[tuple[str, int]]:
        return [(name, code) for name, proc in self._children if (code := proc.poll()) is not None]

    def check_children(self) -> None:
        """Raise, naming the log, if a child process has died."""
        if dead := self.exited():
            names = ", ".join(f"{name} (exit {code})" for name, code in dead)
            raise ChildProcessError(f"{names} stopped; see the logs in {self.data_dir / 'logs'}")

    def stop(self) -> None:
        for _, proc in reversed(self._children):
            stop_process(proc, graceful_signal=signal.SIGTERM, timeout=20)
        self._children.clear()
        clear_services(self.data_dir)
        if self._broker is not None:
            self._broker.stop()
        if self._postgres is not None:
            self._postgres.stop()

    def __enter__(self) -> Stack:
        try:
            self.start_services()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
