"""The dispatcher's three loops, each on its own thread and each a repetition of small steps: follow the log, send
what is due, publish outcomes. A lost database or broker connection is waited out (nothing is lost: every step
restarts from what PostgreSQL holds); any other error stops the process with the error, so the supervisor
(`careloop up`, systemd...) sees it. Built by the dispatcher's composition root, engine/processes/dispatcher.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import structlog

from engine.dispatch.follower import Follower
from engine.dispatch.outbox import OutboxPublisher
from engine.dispatch.sender import Sender
from engine.plumbing.retry import Stopped, call_until_stopped, connection_lost

log = structlog.get_logger("careloop.dispatch")


@dataclass
class Dispatcher:
    follower: Follower
    sender: Sender
    outbox: OutboxPublisher
    poll_interval: float
    closing: list[Callable[[], None]] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set, or one loop fails for a reason other than a lost connection (raised here)."""
        self.follower.setup()
        failures: list[BaseException] = []
        steps = [
            ("sender", self.sender.run_once, self.sender.close),
            ("outbox", self.outbox.run_once, self.outbox.close),
        ]
        loops = [("follower", partial(self.follower.run, stop), self.follower.close)]
        loops += [(name, partial(self._repeat, name, step, close, stop), close) for name, step, close in steps]
        threads = [
            threading.Thread(target=_guarded, args=(loop, close, stop, failures), name=f"dispatch-{name}")
            for name, loop, close in loops
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failures:
            raise failures[0]

    def _repeat(self, name: str, step: Callable[[], int], close: Callable[[], None], stop: threading.Event) -> None:
        """``step`` again and again, waiting ``poll_interval`` when it found nothing to do; a lost connection is
        waited out (the loop's connections closed), any other failure raised."""

        def retrying(exc: BaseException, delay: float) -> None:
            log.warning("connection lost; retrying", loop=name, error=type(exc).__name__, delay=delay)
            close()

        try:
            while not stop.is_set():
                if not call_until_stopped(step, stop, retrying, connection_lost):
                    stop.wait(self.poll_interval)
        except Stopped:
            pass

    def close(self) -> None:
        for close in self.closing:
            close()


def _guarded(
    loop: Callable[[], None], close: Callable[[], None], stop: threading.Event, failures: list[BaseException]
) -> None:
    """One of the dispatcher's threads: a failure stops the others and is kept for ``run`` to raise."""
    try:
        loop()
    except BaseException as exc:
        failures.append(exc)
        stop.set()
    finally:
        close()
