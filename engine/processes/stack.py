"""Composition root of `careloop up` (and of the stack `careloop demo` drives): Kafka and PostgreSQL, embedded
unless configured, and the pipeline's processes as children: the worker, the projection runner and the dispatcher.

Each child is `careloop <command>` in its own process, with this stack's services in its CARELOOP_* variables
(engine/embedded/stack.py), so each runs its own composition root: engine/processes/worker.py, projections.py,
dispatcher.py. With the embedded PostgreSQL each connects under its own login, never the owner's (docs/access.md).
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


@contextmanager
def running_stack(
    settings: Settings, extra_env: dict[str, str] | None = None, dispatcher_env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """The services started and the pipeline's processes spawned; everything stopped on exit. ``extra_env`` goes
    to every child, ``dispatcher_env`` to the dispatcher alone."""
    with Stack(settings, extra_env=extra_env or {}) as stack:
        for name, command in PIPELINE:
            stack.spawn(name, *command, env=dispatcher_env if name == "dispatcher" else None)
        yield stack
