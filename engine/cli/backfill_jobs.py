"""The backfill in several processes: each patient's history in one process, in its order.

The history file's patients are shared out by a stable hash of the patient id (``share``), so every event of a
patient, and every timer it sets, is decided by one process in the file's order, as the live worker's partitions
keep a patient on one consumer. The core decides each patient from that patient's own state only (what it hands to
another record goes to the hand-over outbox, for the workers), so the store holds, per patient, what one process
would have recorded. Each process reads the file itself and keeps its share, opens its own store and patient keys,
decides and commits in batches (engine/worker/backfill.py) and brings its own patients to the as-of.

Only plain data crosses between processes: the plan (paths, the journeys file's text, settings) goes to each
process, and back comes each share's counts, its refused lines and, when it stopped, what stopped it and where.
Nothing read from the database crosses. A share that fails does not stop the others: what each committed stays,
and a run again skips it (the applied inputs).
"""

from __future__ import annotations

import gc
import multiprocessing
import sys
import time
import traceback
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.sealing import Sealer
from engine.worker.backfill import Backfill, Loaded
from events.base import Event

if TYPE_CHECKING:
    from engine.store.definitions import JourneysSource

Sealing = Callable[[str], AbstractContextManager[Sealer]]  # a module-level function (pickled by name): url -> sealer
MAX_REFUSED = 50  # refused lines kept per share; beyond, counted
PROGRESS_EVERY = 50  # batches
# The cyclic garbage collector's thresholds while a share loads. Python's own (700, 10, 10) collect the young
# generation every 700 net allocations: a load makes a new patient state, its events and their stored form for
# every decision, all freed by reference counting (the core's states are immutable: no cycles), so those
# collections found next to nothing and cost about a fifth of a load's CPU (BENCHMARKS.md, "Backfill").
GC_THRESHOLDS = (100_000, 20, 10)


@dataclass(frozen=True)
class Plan:
    """What every process is given. ``head``: the deployment the parent recorded, which each process checks it
    decides under; ``sealing`` opens the patients' keys in the process."""

    file: Path
    as_of: datetime
    url: str
    journeys_text: str
    journeys_name: str
    head: int
    sealing: Sealing
    jobs: int = 1
    batch: int = 2000
    cache_size: int = 10_000
    snapshot_after: int = 0
    clinical_topic: str = "careloop.clinical"


@dataclass
class Share:
    """One process's part of the load: its counts, refused lines, progress (wall time, events read), failure."""

    job: int
    events: int = 0
    applied: int = 0
    patients: int = 0
    batches: int = 0
    recorded: int = 0
    held: int = 0
    seconds: float = 0.0
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line, why), the first MAX_REFUSED
    refused_count: int = 0
    progress: list[tuple[float, int]] = field(default_factory=list)  # after each batch of history
    finishing: float = 0.0  # seconds bringing its patients to the as-of
    failure: str | None = None


@dataclass(frozen=True)
class Totals:
    """Every share's counts added up; ``seconds``: the slowest share's, the load's wall time."""

    events: int
    applied: int
    patients: int
    batches: int
    recorded: int
    held: int
    seconds: float


def totals(shares: Sequence[Share]) -> Totals:
    return Totals(
        events=sum(s.events for s in shares),
        applied=sum(s.applied for s in shares),
        patients=sum(s.patients for s in shares),
        batches=sum(s.batches for s in shares),
        recorded=sum(s.recorded for s in shares),
        held=sum(s.held for s in shares),
        seconds=max((s.seconds for s in shares), default=0.0),
    )


def share(patient_id: str, jobs: int) -> int:
    """The process a patient's history goes to: stable across processes and runs (Python's hash() is not)."""
    return zlib.crc32(patient_id.encode("utf-8")) % jobs


def load(plan: Plan) -> list[Share]:
    """Every share loaded, in ``plan.jobs`` processes (with one, here); their results in job order."""
    if plan.jobs <= 1:
        return [run(plan, 0)]
    # spawn, not fork: the parent holds open PostgreSQL connections a forked child would share
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=plan.jobs, mp_context=context) as pool:
        futures = [pool.submit(run, plan, job) for job in range(plan.jobs)]
        return [_result(future, job, plan.jobs) for job, future in enumerate(futures)]


def _result(future: Future[Share], job: int, jobs: int) -> Share:
    try:
        return future.result()
    except Exception as exc:  # the process died (killed, out of memory): run() itself returns its failures
        return Share(job, failure=f"job {job + 1} of {jobs}: its process ended: {type(exc).__name__}: {exc}")


def run(plan: Plan, job: int) -> Share:
    """Share ``job`` of the file loaded: decided, committed, its patients brought to the as-of. Never raises:
    a failure is returned with what stopped it and where, after what was committed before it."""
    result = Share(job)
    where = _Where(plan.file)
    loader: Backfill | None = None
    try:
        with ExitStack() as open_:
            open_.enter_context(_collecting_less())
            loader, sealer = _open(plan, job, result, where, open_)
            loader.feed(_sealed(plan.file, _owned(plan, job, where), sealer, result))
            where.finishing = True
            started = time.perf_counter()
            loader.finish()
            result.finishing = time.perf_counter() - started
    except Exception as exc:  # reported with the other shares' results; the traceback only for the unforeseen
        result.failure = f"job {job + 1} of {plan.jobs}: {_what(exc)} ({where})"
        if not _foreseen(exc):
            traceback.print_exc()
    if loader is not None:  # what its committed batches hold, also when it stopped: claimed neither more nor less
        _counted(loader.loaded, result)
    return result


@contextmanager
def _collecting_less() -> Iterator[None]:
    """GC_THRESHOLDS while the share loads; the process's own after (with one job, the command's process)."""
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


@dataclass
class _Where:
    file: Path
    line: int = 0
    finishing: bool = False

    def __str__(self) -> str:
        if self.finishing:
            return "while bringing its patients to the as-of"
        if self.line == 0:
            return "before its first event"
        return f"having read its events up to {self.file}:{self.line}"


def _open(plan: Plan, job: int, result: Share, where: _Where, open_: ExitStack) -> tuple[Backfill, Sealer]:
    from engine.journeys.backfill import backfilling
    from engine.store.application import JourneyStore, writer_env
    from engine.store.definitions import deploy
    from engine.worker.backfill import BackfillConflictError
    from engine.worker.postgres import Consumer, PostgresJourneys

    sealer = open_.enter_context(plan.sealing(plan.url))
    source = _journeys(plan.journeys_text, plan.journeys_name)
    catalog = deploy(plan.url, source.catalog, source.file, source.text)  # recorded by the parent: read back here
    if catalog.deployments[-1].deployment_id != plan.head:
        raise BackfillConflictError("a deployment was recorded as the backfill started: run it again")
    store = JourneyStore(writer_env(plan.url))
    open_.callback(store.close)
    consumer = Consumer("careloop-backfill", plan.clinical_topic, {})
    journeys = PostgresJourneys(store, consumer, plan.cache_size, plan.snapshot_after, relaying=False)
    started = time.time()

    def progress(loaded: Loaded) -> None:
        if not where.finishing:
            result.progress.append((time.time() - started, loaded.events))
        if loaded.batches % PROGRESS_EVERY == 0:
            print(f"  job {job + 1}: {loaded.events:,} events, {len(loaded.patients):,} patients", file=sys.stderr)

    return Backfill(journeys, backfilling(catalog, plan.as_of), plan.as_of, plan.head, plan.batch, progress), sealer


def _journeys(text: str, name: str) -> JourneysSource:
    from engine.journeys.definition import JourneysFile
    from engine.language.errors import JourneyFileError
    from engine.language.loader import check_text
    from engine.store.definitions import JourneysSource
    from engine.yamlfile.source import read_yaml

    catalog, problems = check_text(text, name)
    doc, _ = read_yaml(text, name)
    if catalog is None or doc is None:  # the parent compiled this very text: a difference is a bug, said loudly
        raise JourneyFileError(problems)
    return JourneysSource(catalog, JourneysFile.model_validate(doc.data), text)


def _owned(plan: Plan, job: int, where: _Where) -> Iterator[tuple[int, Event]]:
    from engine.cli import history

    for line, event in history.events(plan.file):
        if share(event.patient_id, plan.jobs) == job:
            where.line = line
            yield line, event


def _sealed(file: Path, events: Iterator[tuple[int, Event]], sealer: Sealer, result: Share) -> Iterator[Event]:
    """The events sealed with their patients' keys; an erased patient's refused, with its line."""
    from engine.security.errors import ErasedError

    for line, event in events:
        try:
            yield sealer.event(event)
        except ErasedError:
            result.refused_count += 1
            if len(result.refused) < MAX_REFUSED:
                why = f"{file}:{line}: the patient was erased: careloop takes nothing more about them"
                result.refused.append((line, why))


def _counted(loaded: Loaded, result: Share) -> None:
    result.events, result.applied, result.patients = loaded.events, loaded.applied, len(loaded.patients)
    result.batches, result.recorded, result.held, result.seconds = (
        loaded.batches,
        loaded.recorded,
        loaded.held,
        loaded.seconds,
    )


def _foreseen(exc: Exception) -> bool:
    import psycopg
    from eventsourcing.persistence import PersistenceError

    from engine.access.ownership import TablesNotReadyError
    from engine.journeys.errors import JourneyError
    from engine.security.errors import SecurityError
    from engine.worker.backfill import BackfillConflictError

    return isinstance(
        exc, (BackfillConflictError, TablesNotReadyError, JourneyError, SecurityError, psycopg.Error, PersistenceError)
    )


def _what(exc: Exception) -> str:
    import psycopg
    from eventsourcing.persistence import PersistenceError

    if isinstance(exc, (psycopg.Error, PersistenceError)):
        return f"PostgreSQL: {str(exc).strip() or type(exc).__name__}"
    return str(exc) if _foreseen(exc) else f"{type(exc).__name__}: {exc}"
