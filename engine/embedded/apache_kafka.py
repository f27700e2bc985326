"""Real Apache Kafka 4.x (single-node KRaft) from Maven Central jars, as a child process.

Everything Kafka-specific lives in ``deploy/kafka/kafka.sh``, the user-facing way to run
this broker: fetching the jars with Maven into a cache (``~/.cache/careloop/kafka-<version>``
unless ``CARELOOP_CACHE`` says otherwise), writing ``server.properties``, formatting the
storage. This class runs the script's foreground ``run`` command as a direct child (so the
broker is tied to careloop's lifetime, see ``engine.embedded._process``) and waits until the
broker serves. Unlike the Tansu broker, topics and messages live on disk under the data
directory and survive ``stop()`` / ``start()``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

from engine.embedded._process import ChildService, EmbeddedServiceError, failure, spawn, stop_process
from engine.embedded.broker import _accepts_kafka_requests
from engine.embedded.ports import LOOPBACK, free_port

LOG_NAME = "kafka.log"
PID_NAME = "kafka.pid"
SCRIPT_ENV = "CARELOOP_KAFKA_SCRIPT"
DEFAULT_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "kafka.sh"

# Logged by KafkaRaftServer once the broker is unfenced and its listener is open. An answer to
# ApiVersions alone comes a little earlier than a broker that can host new partitions.
_READY_MESSAGE = b"Kafka Server started"


class ApacheKafka(ChildService):
    """Apache Kafka on a loopback port, its data in ``data_dir``, as a child process of careloop.

    Use as a context manager, or call ``start()`` / ``stop()`` / ``restart()``. Start it from a
    long-lived thread: the child is tied to the spawning thread's lifetime. Without ``port``,
    the first start picks a free one and later starts of this object reuse it, so clients
    keep their bootstrap address across a restart.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        script: Path | None = None,
        fetch_timeout: float = 900.0,
        start_timeout: float = 120.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = LOOPBACK  # kafka.sh binds 127.0.0.1 only
        self.log_path = self.data_dir / LOG_NAME
        self.script = Path(script or os.environ.get(SCRIPT_ENV) or DEFAULT_SCRIPT)
        self._requested_port = port
        self._last_port: int | None = None
        self._port: int | None = None
        self._fetch_timeout = fetch_timeout
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients; only valid while started."""
        return f"{self.host}:{self._started_port('Apache Kafka')}"

    def fetch(self) -> Path:
        """Make sure Kafka's jars are in the cache (``kafka.sh fetch``); return the libs directory.

        The first call downloads ~45 jars (~45 MB) with Maven; later calls return at once.
        """
        if not self.script.is_file():
            raise EmbeddedServiceError(f"no Kafka script at {self.script}; set {SCRIPT_ENV} to deploy/kafka/kafka.sh")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # Maven's messages go to the log; stdout carries only the libs path.
            proc = subprocess.Popen(
                ["bash", str(self.script), "fetch"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
            try:
                out, _ = proc.communicate(timeout=self._fetch_timeout)
            except subprocess.TimeoutExpired:
                # Maven runs as a grandchild: take the whole session down.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise failure(
                    f"fetching Kafka with Maven took longer than {self._fetch_timeout:g} s", self.log_path
                ) from None
        if proc.returncode != 0:
            raise failure(f"fetching Kafka with Maven failed (exit code {proc.returncode})", self.log_path)
        return Path(out.decode().strip())

    def start(self) -> str:
        """Start Kafka and block until it serves Kafka requests; return the bootstrap address."""
        if self.running:
            return self.bootstrap
        self.fetch()
        port = self._requested_port or self._last_port or free_port(self.host)
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        argv = ["bash", str(self.script), "run", str(self.data_dir), str(port)]
        # SIGTERM on parent death: Kafka then shuts down cleanly (flushes its logs and
        # checkpoints), so the next start needs no log recovery.
        self._proc = spawn(argv, log_path=self.log_path, death_signal=signal.SIGTERM)
        self._port = port
        self._wait_until_ready(
            self._proc,
            port,
            lambda: self._logged_since(log_offset, _READY_MESSAGE) and _accepts_kafka_requests(self.host, port),
            "Apache Kafka",
            "Kafka requests",
            "did not accept Kafka requests",
            poll=0.1,
        )
        self._last_port = port  # only a port that worked: a lost free-port race picks anew
        return self.bootstrap

    def _logged_since(self, offset: int, message: bytes) -> bool:
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return message in log.read()
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout``; a no-op when not running. Data stays."""
        if self._proc is not None:
            pid = self._proc.pid
            stop_process(self._proc, graceful_signal=signal.SIGTERM, timeout=self._stop_timeout)
            pid_file = self.data_dir / PID_NAME
            with contextlib.suppress(OSError):
                if pid_file.read_text().strip() == str(pid):
                    pid_file.unlink()
        self._forget()

    def restart(self) -> str:
        """Stop and start again on the same port with the same data; return the bootstrap address."""
        self.stop()
        return self.start()
