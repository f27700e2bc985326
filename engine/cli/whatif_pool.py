"""The what-if on several processes: the history cut into parts that replay apart (each patient, and patients a
merge joins, in one part: engine.journeys.whatif.parts), each part replayed in a process pool, the parts' reports
combined. The result is the same as one process's; only the time differs.

Only plain data crosses between processes: each journeys file as its text (compiled once per process), each part's
events as their JSON, and back the parts' reports (strings, counts, times), which the pool's own processes pickled.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TypeVar

from engine.journeys.catalog import Catalog
from engine.journeys.whatif import WhatIf, combined, parts, related, whatif
from engine.language.errors import JourneyFileError
from engine.language.loader import check_text
from engine.plumbing import collector
from events import parse_event
from events.base import Event

T = TypeVar("T")
Task = Callable[[list[Event], Catalog, Catalog], T]  # a module-level function or a partial of one: it is pickled
PART_EVENTS = 20_000  # events per part at most: what a process holds at once
# A process costs about a second to start and compile the catalogs in: fewer events than this are not worth one.
SMALLEST_PART = 2_000

# In a pool's process: the current and the new catalog, compiled once by _load as the process starts.
_catalogs: tuple[Catalog, Catalog] | None = None


@dataclass(frozen=True)
class Journeys:
    """A journeys file as the caller read it (its text and name, what a pool's processes compile) and compiled it."""

    text: str
    name: str
    catalog: Catalog


def cores() -> int:
    """The cores this process may run on (--jobs' default)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def whatif_in_parallel(
    inputs: Sequence[Event],
    current: Journeys,
    new: Journeys,
    until: datetime,
    since: datetime | None = None,
    patients: list[str] | None = None,
    jobs: int = 1,
) -> WhatIf:
    """``whatif`` of the two journeys files over ``inputs``, in ``jobs`` processes."""
    if patients is not None:  # no part without one of them, and no process for it
        inputs = related(inputs, patients)
    task = partial(_compare, until=until, since=since, patients=patients)
    return combined(since, until, in_parallel(task, cut(inputs, jobs), current, new, jobs))


def _compare(
    events: list[Event],
    before: Catalog,
    after: Catalog,
    until: datetime,
    since: datetime | None,
    patients: list[str] | None,
) -> WhatIf:
    return whatif(events, before, after, until, since, patients)


def cut(inputs: Sequence[Event], jobs: int) -> list[list[Event]]:
    """``inputs`` in parts for ``jobs`` processes: one per process at least, if each gets ``SMALLEST_PART``
    events, and at most ``PART_EVENTS`` events each."""
    return parts(inputs, max(min(jobs, len(inputs) // SMALLEST_PART), -(-len(inputs) // PART_EVENTS)))


def in_parallel(task: Task[T], cut: list[list[Event]], current: Journeys, new: Journeys, jobs: int) -> list[T]:
    """``task`` on each part with the two catalogs, in a pool of up to ``jobs`` processes; the results in the
    parts' order. With one job or one part, here, one part after the other, on the catalogs already compiled."""
    if jobs <= 1 or len(cut) <= 1:
        return [task(part, current.catalog, new.catalog) for part in cut]
    sources = ((current.text, current.name), (new.text, new.name))
    # Python's advice for forked children: what exists now (the whole history, here) is left out of the collector's
    # walks, so that a child's collections do not write into, and so copy, every page of it. Not undone: unfreezing
    # would also release what the process froze itself (engine.plumbing.collector).
    gc.freeze()
    with ProcessPoolExecutor(max_workers=min(jobs, len(cut)), initializer=_load, initargs=sources) as pool:
        return _bounded(pool, task, cut, in_flight=2 * jobs)


def _bounded(pool: ProcessPoolExecutor, task: Task[T], cut: list[list[Event]], in_flight: int) -> list[T]:
    """Each part submitted as its JSON when fewer than ``in_flight`` are waiting: the parent never holds every
    part's copy at once."""
    results: dict[int, T] = {}
    waiting: dict[Future[T], int] = {}
    queue = iter(enumerate(cut))
    try:
        for index, part in _ahead(queue, in_flight):
            waiting[pool.submit(_run, task, [e.model_dump_json() for e in part])] = index
        while waiting:
            done, _ = wait(waiting, return_when=FIRST_COMPLETED)
            for future in done:
                results[waiting.pop(future)] = future.result()
            for index, part in _ahead(queue, in_flight - len(waiting)):
                waiting[pool.submit(_run, task, [e.model_dump_json() for e in part])] = index
    finally:
        for future in waiting:  # a part failed (or Ctrl-C): the others not started are dropped
            future.cancel()
    return [results[i] for i in range(len(cut))]


def _ahead(queue: Iterator[tuple[int, list[Event]]], n: int) -> Iterator[tuple[int, list[Event]]]:
    for _ in range(max(0, n)):
        item = next(queue, None)
        if item is None:
            return
        yield item


def _run(task: Task[T], lines: list[str]) -> T:
    assert _catalogs is not None, "_load ran as the process started"
    return task([parse_event(line) for line in lines], *_catalogs)


def _load(current: tuple[str, str], new: tuple[str, str]) -> None:
    global _catalogs  # noqa: PLW0603 - the pool's per-process state, set once as the process starts
    _catalogs = (_compiled(*current), _compiled(*new))
    collector.tune()  # a replay allocates millions of objects: the collector set as the worker sets it


def _compiled(text: str, name: str) -> Catalog:
    catalog, problems = check_text(text, name)
    if catalog is None:  # the caller checked this very text already: a difference here is a bug, said loudly
        raise JourneyFileError(problems)
    return catalog


__all__ = ["PART_EVENTS", "SMALLEST_PART", "Journeys", "Task", "cores", "cut", "in_parallel", "whatif_in_parallel"]
