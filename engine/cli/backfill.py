"""`careloop backfill FILE --as-of T`: years of history loaded into the event store, nothing sent for the past.

FILE is JSON Lines of canonical events in arrival order (what `careloop publish ... --dry-run` prints, or an export
of them). Every line is checked first (it parses, it is recorded by the as-of); nothing is written when one is not.
Each event is sealed with its patient's key as the intakes seal it, then decided as the live worker would at its
own time, under the journeys the worker would load, with outreach held before the as-of (engine/journeys/
backfill.py); every patient is then brought to the as-of. --jobs processes share the patients out, each patient's
history in one of them (engine/cli/backfill_jobs.py): the store ends as one process leaves it. Stop the workers
while it runs. Exit 0 loaded, 1 refused lines or a failure, 2 usage.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

from engine.cli.consoles import consoles
from engine.cli.moments import parse_moment

if TYPE_CHECKING:
    from datetime import datetime

    from connectors.sealing import Sealer
    from engine.cli.backfill_jobs import Plan, Share
    from engine.settings import Settings
    from engine.store.definitions import JourneysSource

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
    jobs: Annotated[
        int | None,
        typer.Option(
            min=1, help="Processes, each loading the patients a hash of their id gives it [default: the cores]."
        ),
    ] = None,
) -> None:
    """Load history into the event store as the worker would have decided it, sending nothing for the past: messages
    due before --as-of are recorded as held (rule backfill), every journey is positioned at --as-of, and the workers
    send what falls due after it. Stop the workers while it runs."""
    from engine.cli import history
    from engine.cli.deploy import database_url, load
    from engine.cli.whatif_pool import cores
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
    with _reported(database_url()) as url:
        plan = _plan(settings, url, source, file, moment, batch, jobs or cores())
    from engine.cli.backfill_jobs import load as load_shares

    shares = load_shares(plan)
    _report(file, count, shares, moment)
    _refused_and_failed(shares)


@contextmanager
def _reported(url: str) -> Iterator[str]:
    """What stops a backfill before it starts, in one line."""
    import psycopg
    from eventsourcing.persistence import PersistenceError

    from engine.access.ownership import TablesNotReadyError
    from engine.journeys.errors import JourneyError
    from engine.security.errors import KeyFileError

    try:
        yield url
    except KeyFileError as exc:
        raise _fail(f"{exc}; nothing was written") from exc
    except (TablesNotReadyError, JourneyError) as exc:
        raise _fail(f"{exc}; nothing was written") from exc
    except (psycopg.Error, PersistenceError) as exc:
        raise _fail(f"PostgreSQL: {str(exc).strip() or type(exc).__name__}; nothing was written") from exc


def _plan(
    settings: Settings, url: str, source: JourneysSource, file: Path, as_of: datetime, batch: int, jobs: int
) -> Plan:
    """The deployment's key file opened and the journeys deployed, as a worker's start (the journeys it decides
    under), before any process starts: what each needs, for its own connections."""
    from engine.cli.backfill_jobs import Plan
    from engine.plumbing.topics import Topics
    from engine.processes.intake import deployment_keys
    from engine.store.definitions import deploy

    deployment_keys(settings)  # KeyFileError now, not once per process
    catalog = deploy(url, source.catalog, source.file, source.text)
    return Plan(
        file=file,
        as_of=as_of,
        url=url,
        journeys_text=source.text,
        journeys_name=str(settings.journeys),
        head=catalog.deployments[-1].deployment_id,
        sealing=sealing,
        jobs=jobs,
        batch=batch,
        cache_size=settings.aggregate_cache_size,  # patients cached and snapshotted as the worker does them, so it
        snapshot_after=settings.snapshot_after,  # loads them quickly after
        clinical_topic=Topics.for_prefix(settings.topic_prefix).clinical,
    )


@contextmanager
def sealing(url: str) -> Iterator[Sealer]:
    """The patients' keys in PostgreSQL, on a connection of the process's own: events sealed as the intakes seal
    them (engine/processes/intake.py). Module-level: a backfill's processes are given it by name."""
    from connectors.sealing import Sealer
    from engine.processes.intake import deployment_keys
    from engine.security.patient_keys_postgres import PostgresPatientKeys
    from engine.settings import Settings

    settings = Settings()
    keys = PostgresPatientKeys(url, deployment_keys(settings).provider, name="careloop-backfill")
    try:
        yield Sealer(keys, settings.seal_patient_data)
    finally:
        keys.close()


def _refused_and_failed(shares: list[Share]) -> None:
    refused = sorted(refusal for s in shares for refusal in s.refused)
    for _, why in refused[:MAX_REFUSED]:
        err.print(why, markup=False)
    failed = [s.failure for s in shares if s.failure is not None]
    for failure in failed:
        err.print(f"error: {failure}", markup=False)
    if failed:
        raise _fail(
            f"{len(failed)} of {len(shares)} job(s) stopped; the batches committed before stay, the other jobs' "
            "loads are whole; run it again to go on (what was applied is skipped)"
        )
    if refused:
        raise _fail(
            f"{sum(s.refused_count for s in shares)} event(s) of erased patients were not loaded (the rest was)"
        )


def _report(file: Path, count: int, shares: list[Share], as_of: datetime) -> None:
    from engine.cli.backfill_jobs import totals

    t = totals(shares)
    rate = t.events / max(t.seconds, 1e-9)
    out.print(
        f"backfilled {file} in {len(shares)} job(s): {t.applied:,} of {count:,} events applied "
        f"({t.events - t.applied:,} the store had already) for {t.patients:,} patients in {t.seconds:.1f} s "
        f"({rate:,.0f}/s); {t.recorded:,} engine events recorded, {t.held:,} messages held for being before "
        f"{as_of.isoformat()}; what falls due after it is left to the workers",
        markup=False,
    )
