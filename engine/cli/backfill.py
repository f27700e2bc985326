"""`careloop backfill FILE --as-of T`: years of history loaded into the event store, nothing sent for the past.

FILE is JSON Lines of canonical events in arrival order (what `careloop publish ... --dry-run` prints, or an export
of them). Every line is checked first (it parses, it is recorded by the as-of); nothing is written when one is not.
Each event is sealed with its patient's key as the intakes seal it, then decided as the live worker would at its
own time, under the journeys the worker would load, with outreach held before the as-of (engine/journeys/
backfill.py); every patient is then brought to the as-of. Stop the workers while it runs. Exit 0 loaded, 1 refused
lines or a failure, 2 usage.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

from engine.cli.consoles import consoles
from engine.cli.moments import parse_moment

if TYPE_CHECKING:
    from datetime import datetime

    from connectors.sealing import Sealer
    from engine.settings import Settings
    from engine.store.definitions import JourneysSource
    from engine.worker.backfill import Backfill, Loaded
    from events.base import Event

out, err = consoles()
MAX_REFUSED = 50


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def backfill_command(
    file: Annotated[Path, typer.Argument(help="JSON Lines of canonical events, in arrival order.")],
    as_of: Annotated[
        str, typer.Option("--as-of", help="Now, for the history (ISO; without an offset, the hospital's).")
    ],
    batch: Annotated[int, typer.Option(min=1, help="Events decided and committed per transaction.")] = 2000,
) -> None:
    """Load history into the event store as the worker would have decided it, sending nothing for the past: messages
    due before --as-of are recorded as held (rule backfill), every journey is positioned at --as-of, and the workers
    send what falls due after it. Stop the workers while it runs."""
    from engine.cli import history
    from engine.cli.deploy import database_url, load
    from engine.settings import Settings

    settings = Settings()
    source = load(settings.journeys)
    moment = parse_moment("--as-of", as_of, ZoneInfo(source.catalog.settings.hospital_timezone))
    assert moment is not None  # a required option
    try:
        count = history.check(file, moment)
    except history.HistoryFileError as exc:
        for problem in exc.problems:
            err.print(problem, markup=False)
        raise _fail(
            f"{exc.more + len(exc.problems)} line(s) of {file} cannot be backfilled; nothing was written"
        ) from exc
    refused: list[str] = []
    with _reported(database_url()) as url, ExitStack() as open_:
        loader, sealer = _backfill(settings, url, source, moment, batch, open_)
        loader.feed(_sealed(file, sealer, refused))
        loaded = loader.finish()
    _report(file, count, loaded, moment)
    if refused:
        for line in refused[:MAX_REFUSED]:
            err.print(line, markup=False)
        raise _fail(f"{len(refused)} event(s) of erased patients were not loaded (the rest was)")


@contextmanager
def _reported(url: str) -> Iterator[str]:
    """What stops a backfill half-way, in one line: what was committed stays (a run again skips it)."""
    import psycopg
    from eventsourcing.persistence import PersistenceError

    from engine.access.ownership import TablesNotReadyError
    from engine.journeys.errors import JourneyError
    from engine.security.errors import KeyFileError
    from engine.worker.backfill import BackfillConflictError

    again = "the batches committed before stay; run it again to go on (what they applied is skipped)"
    try:
        yield url
    except KeyFileError as exc:
        raise _fail(f"{exc}; nothing was written") from exc
    except (BackfillConflictError, TablesNotReadyError, JourneyError) as exc:
        raise _fail(f"{exc}; {again}") from exc
    except (psycopg.Error, PersistenceError) as exc:
        raise _fail(f"PostgreSQL: {str(exc).strip() or type(exc).__name__}; {again}") from exc


def _backfill(
    settings: Settings, url: str, source: JourneysSource, as_of: datetime, batch: int, open_: ExitStack
) -> tuple[Backfill, Sealer]:
    from connectors.sealing import Sealer
    from engine.journeys.backfill import backfilling
    from engine.plumbing.topics import Topics
    from engine.processes.intake import deployment_keys
    from engine.security.patient_keys_postgres import PostgresPatientKeys
    from engine.store.application import JourneyStore, writer_env
    from engine.store.definitions import deploy
    from engine.worker.backfill import Backfill
    from engine.worker.postgres import Consumer, PostgresJourneys

    keys = PostgresPatientKeys(url, deployment_keys(settings).provider, name="careloop-backfill")
    open_.callback(keys.close)
    catalog = deploy(url, source.catalog, source.file, source.text)  # as a worker's start: the journeys it decides
    store = JourneyStore(writer_env(url))
    open_.callback(store.close)
    clinical = Topics.for_prefix(settings.topic_prefix).clinical
    consumer = Consumer("careloop-backfill", clinical, {})
    journeys = PostgresJourneys(
        store, consumer, settings.aggregate_cache_size, settings.snapshot_after, relaying=False
    )  # patients cached and snapshotted as the worker does them, so it loads them quickly after
    head = catalog.deployments[-1].deployment_id
    loader = Backfill(journeys, backfilling(catalog, as_of), as_of, head, batch, on_batch=_progress)
    return loader, Sealer(keys, settings.seal_patient_data)  # as the intakes seal (engine/processes/intake.py)


def _sealed(file: Path, sealer: Sealer, refused: list[str]) -> Iterator[Event]:
    """The file's events sealed with their patients' keys; an erased patient's refused, with its line."""
    from engine.cli import history
    from engine.security.errors import ErasedError

    for line, event in history.events(file):
        try:
            yield sealer.event(event)
        except ErasedError:
            refused.append(f"{file}:{line}: the patient was erased: careloop takes nothing more about them")


def _progress(loaded: Loaded) -> None:
    if loaded.batches % 50 == 0:
        err.print(f"  {loaded.events:,} events, {len(loaded.patients):,} patients", markup=False)


def _report(file: Path, count: int, loaded: Loaded, as_of: datetime) -> None:
    rate = loaded.events / max(loaded.seconds, 1e-9)
    out.print(
        f"backfilled {file}: {loaded.applied:,} of {count:,} events applied ({loaded.events - loaded.applied:,} the "
        f"store had already) for {len(loaded.patients):,} patients in {loaded.seconds:.1f} s ({rate:,.0f}/s); "
        f"{loaded.recorded:,} engine events recorded, {loaded.held:,} messages held for being before "
        f"{as_of.isoformat()}; what "
        "falls due after it is left to the workers",
        markup=False,
    )
