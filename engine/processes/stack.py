"""Composition root of `careloop up` (and of the stack `careloop demo` drives): Kafka and PostgreSQL, embedded
unless configured, and the pipeline's processes as children: the worker(s), the projection runner and the
dispatcher.

Each child is `careloop <command>` in its own process, with this stack's services in its CARELOOP_* variables
(engine/embedded/stack.py), so each runs its own composition root: engine/processes/worker.py, projections.py,
dispatcher.py. With the embedded PostgreSQL each connects under its own login, never the owner's (docs/access.md).

``workers`` > 1 starts that many worker processes in one consumer group (CARELOOP_CONSUMER_GROUP): the broker
shares the partitions between them, as it does with `careloop worker` processes started anywhere else
(docs/reliability.md, "Many workers").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from engine.embedded.stack import Stack
from engine.settings import Settings

# (name, the careloop command that runs it): started in this order, stopped in the reverse order
PIPELINE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("worker", ("worker",)),
    ("projections", ("projections", "run")),
    ("dispatcher", ("dispatch",)),  # into the demo inbox unless CARELOOP_DISPATCH__ names gateways
)


class TooManyWorkersError(ValueError):
    """More workers asked for than the topics have partitions: the message says why and what to do."""


def worker_names(workers: int, partitions: int) -> list[str]:
    """The worker children's names: ``worker``, ``worker-2``, ... A partition is consumed by one member of the
    group at a time, so workers beyond the partition count would only stand by: refused, with the reason."""
    if workers < 1:
        raise TooManyWorkersError(f"--workers must be at least 1, not {workers}")
    if workers > partitions:
        raise TooManyWorkersError(
            f"--workers {workers} is more than the {partitions} partitions of the clinical and timer topics "
            "(CARELOOP_PARTITIONS): each partition is consumed by one worker of the group, so the others would "
            "stand idle. Start at most that many, or see docs/reliability.md (Many workers) to add partitions"
        )
    return ["worker", *(f"worker-{n}" for n in range(2, workers + 1))]


def worker_env(settings: Settings, n: int) -> dict[str, str] | None:
    """Worker ``n`` (1 first) serves its metrics on CARELOOP_METRICS_PORT + n - 1: processes on one host
    cannot share a port."""
    if settings.metrics_port is None or n == 1:
        return None
    return {"CARELOOP_METRICS_PORT": str(settings.metrics_port + n - 1)}


@contextmanager
def running_stack(
    settings: Settings,
    extra_env: dict[str, str] | None = None,
    dispatcher_env: dict[str, str] | None = None,
    workers: int = 1,
) -> Iterator[Stack]:
    """The services started and the pipeline's processes spawned (``workers`` worker processes); everything
    stopped on exit. ``extra_env`` goes to every child, ``dispatcher_env`` to the dispatcher alone."""
    names = worker_names(workers, settings.partitions)  # refused before anything starts
    with Stack(settings, extra_env=extra_env or {}) as stack:
        for name, command in PIPELINE:
            if name == "worker":
                for n, worker in enumerate(names, start=1):
                    stack.spawn(worker, *command, env=worker_env(settings, n))
            else:
                stack.spawn(name, *command, env=dispatcher_env if name == "dispatcher" else None)
        yield stack
