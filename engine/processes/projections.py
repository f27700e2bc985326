"""Composition root of the projection runner (`careloop projections run|rebuild|status`): the event store to read
from and the runner that writes the projections' rows (projections/): every projection, or the group this process
follows (projections/groups.py). Nothing connects until projection_runner is entered.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from engine.plumbing import collector
from engine.plumbing.connections import check_reachable
from engine.plumbing.health import Probes, all_of, not_stopping, reachable
from engine.store.application import JourneyStore, postgres_env
from projections.base import Projection
from projections.catalog import PROJECTIONS
from projections.runner import NAME, Runner
from projections.source import StoreSource


@contextmanager
def projection_runner(
    database_url: str, page_size: int = 1000, projections: Sequence[Projection] = PROJECTIONS
) -> Iterator[Runner]:
    """A runner over ``projections`` (every one by default), reading the journey store at ``database_url``; closed
    on exit."""
    # Fail fast with libpq's own reason (refused, unknown host, bad password): the store's pool would retry 30 s.
    check_reachable(database_url, NAME)
    store = JourneyStore(postgres_env(database_url, pool_size=2, migrate=False))  # the worker migrates it
    try:
        with Runner(database_url, StoreSource(store), projections, page_size) as runner:
            yield runner
    finally:
        store.close()


def follow(runner: Runner, stop: threading.Event, poll_interval: float) -> None:
    """`careloop projections run`: keep the runner's projections up to date until ``stop`` is set."""
    collector.tune()  # after start-up: the runner and its projections live as long as the process
    runner.run_forever(stop, poll_interval)


def probes(database_url: str, stop: threading.Event, projections: Sequence[Projection] = PROJECTIONS) -> Probes:
    """Alive while the thread that follows runs and was not told to stop (a failure ends the process); ready while
    the event store's PostgreSQL answers. Both answers name the projections it follows: with several runners, which
    one this is."""
    follows = threading.current_thread()

    def running() -> str | None:
        return None if follows.is_alive() else "the runner's thread has ended"

    live = all_of(not_stopping(stop), running)
    ready = reachable(lambda: check_reachable(database_url, NAME), "PostgreSQL")
    return Probes(live, ready, about=following(projections))


def following(projections: Sequence[Projection]) -> str:
    """What a runner says it follows, in its probes and when it starts."""
    names = ", ".join(p.name for p in projections)
    return f"follows {'every projection' if len(projections) == len(PROJECTIONS) else 'projections'}: {names}"
