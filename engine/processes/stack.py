"""Composition root of `careloop up` (and of the stack `careloop demo` drives): Kafka and PostgreSQL, embedded
unless configured, and the pipeline's processes as children: the worker(s), the projection runner and the
dispatcher.

Each child is `careloop <command>` in its own process, with this stack's services in its CARELOOP_* variables
(engine/embedded/stack.py), so each runs its own composition root: engine/processes/worker.py, projections.py,
dispatcher.py. With the embedded PostgreSQL each connects under its own login, never the owner's (docs/access.md).

``workers`` > 1 starts that many worker processes in one consumer group (CARELOOP_CONSUMER_GROUP): the broker
shares the partitions between them, as it does with `careloop worker` processes started anywhere else
(docs/reliability.md, "Many workers"). ``projection_runners`` > 1 splits the projections over that many runners,
`careloop projections run --group K/N` each (projections/groups.py), as they would run on separate hosts.

Children of one host cannot share a port: worker n serves its metrics on CARELOOP_METRICS_PORT + n - 1, runner k
its probes on CARELOOP_HEALTH_PORT + k - 1, and ports() refuses a stack whose two ranges overlap.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from engine.embedded.stack import Stack
from engine.settings import Settings
from projections.groups import GroupError, groups

# (name, the careloop command that runs it): started in this order, stopped in the reverse order
PIPELINE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("worker", ("worker",)),
    ("projections", ("projections", "run")),
    ("dispatcher", ("dispatch",)),  # into the demo inbox unless CARELOOP_DISPATCH__ names gateways
)


class TooManyWorkersError(ValueError):
    """More workers asked for than the topics have partitions: the message says why and what to do."""


class PortClashError(ValueError):
    """Two children of the stack would listen on the same port: the message names the settings to change."""


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


def runner_children(runners: int) -> list[tuple[str, tuple[str, ...]]]:
    """The projection runners' names (``projections``, ``projections-2``, ...: each its own log file) and
    commands: every projection for one runner, else group k of ``runners`` for the k-th. More runners than
    projections are refused (GroupError, saying how many there are)."""
    if runners == 1:
        return [("projections", dict(PIPELINE)["projections"])]
    try:
        groups(runners)  # refused here, before anything starts, rather than by the runner whose group is empty
    except GroupError as exc:
        raise GroupError(f"--projection-runners {runners}: {exc}") from exc
    return [
        ("projections" if k == 1 else f"projections-{k}", ("projections", "run", "--group", f"{k}/{runners}"))
        for k in range(1, runners + 1)
    ]


def runner_env(settings: Settings, k: int) -> dict[str, str] | None:
    """Runner ``k`` (1 first) serves its probes on CARELOOP_HEALTH_PORT + k - 1."""
    if settings.health_port is None or k == 1:
        return None
    return {"CARELOOP_HEALTH_PORT": str(settings.health_port + k - 1)}


def spawn_runners(stack: Stack, settings: Settings, runners: Sequence[tuple[str, tuple[str, ...]]]) -> None:
    """Spawn the runners of ``runner_children``, the k-th with its probes on its own port (``runner_env``)."""
    for k, (name, args) in enumerate(runners, start=1):
        stack.spawn(name, *args, env=runner_env(settings, k))


def ports(settings: Settings, workers: int, runners: int) -> None:
    """Refuse a stack whose workers' metrics ports and runners' health ports overlap, naming both ranges."""
    if settings.metrics_port is None or settings.health_port is None:
        return
    metrics = range(settings.metrics_port, settings.metrics_port + workers)
    health = range(settings.health_port, settings.health_port + runners)
    if set(metrics) & set(health):
        raise PortClashError(
            f"the workers' metrics ports {_span(metrics)} (CARELOOP_METRICS_PORT, one per worker) overlap the "
            f"projection runners' health ports {_span(health)} (CARELOOP_HEALTH_PORT, one per runner): set them "
            "further apart"
        )


def _span(ports: range) -> str:
    return str(ports.start) if len(ports) == 1 else f"{ports.start}-{ports.stop - 1}"


def children(
    settings: Settings, workers: int, projection_runners: int
) -> tuple[list[str], list[tuple[str, tuple[str, ...]]]]:
    """The workers' names and the runners' names and commands, or the refusal (TooManyWorkersError, GroupError,
    PortClashError) of the counts or of the ports they would take: checked before anything starts."""
    names = worker_names(workers, settings.partitions)
    runners = runner_children(projection_runners)
    ports(settings, workers, projection_runners)
    return names, runners


@contextmanager
def running_stack(
    settings: Settings,
    extra_env: dict[str, str] | None = None,
    dispatcher_env: dict[str, str] | None = None,
    workers: int = 1,
    projection_runners: int = 1,
) -> Iterator[Stack]:
    """The services started and the pipeline's processes spawned (``workers`` worker processes,
    ``projection_runners`` projection runners); everything stopped on exit. ``extra_env`` goes to every child,
    ``dispatcher_env`` to the dispatcher alone."""
    names, runners = children(settings, workers, projection_runners)  # refused before anything starts
    with Stack(settings, extra_env=extra_env or {}) as stack:
        for name, command in PIPELINE:
            if name == "worker":
                for n, worker in enumerate(names, start=1):
                    stack.spawn(worker, *command, env=worker_env(settings, n))
            elif name == "projections":
                spawn_runners(stack, settings, runners)
            else:
                stack.spawn(name, *command, env=dispatcher_env if name == "dispatcher" else None)
        yield stack
