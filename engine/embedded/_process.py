"""Child-process plumbing shared by the embedded broker and PostgreSQL.

Both services run as direct children of the careloop process. Three rules keep
them from outliving it or leaking into the terminal:

* each child starts in its own session (``start_new_session``), so a Ctrl-C in
  the terminal reaches only careloop, which then stops the children in order;
* on Linux each child asks the kernel for a parent-death signal
  (``PR_SET_PDEATHSIG``), so a careloop killed with SIGKILL still takes its
  children down. The kernel sends it when the *thread* that spawned the child
  exits, so start the services from a long-lived thread (the main thread);
* ``stop`` sends the service's graceful signal to the child, waits, and then
  SIGKILLs the child's process group. (PostgreSQL puts each backend in its own
  session; they exit by themselves once the postmaster is gone.)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_TAIL_LINES = 25


class EmbeddedServiceError(RuntimeError):
    """An embedded service failed to start or stop; the message names its log file."""


@dataclass(frozen=True, slots=True)
class RunAs:
    """An unprivileged OS account to run a child under (used when careloop runs as root)."""

    name: str
    uid: int
    gid: int


def log_tail(log_path: Path, lines: int = _TAIL_LINES) -> str:
    """Last ``lines`` lines of a log, for error messages; empty if unreadable."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def failure(what: str, log_path: Path) -> EmbeddedServiceError:
    """Build an error that names the log and quotes its tail, so CI output is enough to debug."""
    tail = log_tail(log_path)
    quoted = f"\n--- last lines of {log_path} ---\n{tail}" if tail else ""
    return EmbeddedServiceError(f"{what}; see log {log_path}{quoted}")


def _death_signal_setter(death_signal: int) -> Callable[[], None] | None:
    """Return a preexec_fn that arms PR_SET_PDEATHSIG, or None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    # Load libc in the parent: the preexec_fn runs between fork and exec and
    # should do as little as possible.
    libc = ctypes.CDLL(None, use_errno=True)
    parent_pid = os.getpid()

    def arm() -> None:
        # subprocess runs this after switching uid (``user=``), which matters:
        # the kernel clears the death signal on credential changes.
        libc.prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
        if os.getppid() != parent_pid:
            # The parent died before the signal was armed; act as if it fired.
            os.kill(os.getpid(), death_signal)

    return arm


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    death_signal: int,
    run_as: RunAs | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: int | None = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with stdout and stderr appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        log.write(f"\n=== careloop {stamp}: {' '.join(argv)}\n".encode())
        log.flush()
        try:
            return subprocess.Popen(
                list(argv),
                stdin=stdin,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                # Threads are the hazard here (a lock held at fork time); arm() takes no
                # locks and imports nothing, and PDEATHSIG has no other way in from Python.
                preexec_fn=_death_signal_setter(death_signal),  # noqa: PLW1509
                # extra_groups=[] drops root's supplementary groups as well.
                user=run_as.uid if run_as else None,
                group=run_as.gid if run_as else None,
                extra_groups=[] if run_as else None,
            )
        except OSError as exc:
            raise failure(f"could not execute {argv[0]}: {exc}", log_path) from exc


def stop_process(proc: subprocess.Popen[bytes], *, graceful_signal: int, timeout: float) -> int:
    """Send ``graceful_signal``, wait up to ``timeout`` s, then SIGKILL the process group.

    Returns the exit code. Safe to call on a process that already exited.
    """
    if proc.poll() is None:
        try:
            proc.send_signal(graceful_signal)
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    # The leader may be gone while children it forked still hold the group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()


class ChildService:
    """What every embedded service shares: start() on entering a with-block, stop() on leaving it."""

    _proc: subprocess.Popen[bytes] | None
    _port: int | None
    host: str
    log_path: Path
    _start_timeout: float

    def start(self) -> str:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _started_port(self, what: str) -> int:
        if self._port is None:
            raise EmbeddedServiceError(f"{what} is not started")
        return self._port

    def _wait_until_ready(
        self,
        proc: subprocess.Popen[bytes],
        port: int,
        ready: Callable[[], bool],
        what: str,
        accepting: str,
        not_ready: str,
        poll: float = 0.02,
    ) -> None:
        """Until ``ready()``; a child that exits first, or a timeout (which stops it), is an error naming the log."""
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            code = proc.poll()
            if code is not None:
                self._forget()
                raise failure(
                    f"{what} exited with code {code} before accepting {accepting} on {self.host}:{port}", self.log_path
                )
            if ready():
                return
            time.sleep(poll)
        self.stop()
        raise failure(f"{what} {not_ready} on {self.host}:{port} within {self._start_timeout:g} s", self.log_path)

    def _forget(self) -> None:
        self._proc = None
        self._port = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
