"""`careloop projections`: follow the event store into the read models, rebuild them, show how far they are.

The database URL comes from CARELOOP_DATABASE_URL, read here (through the process's settings) and passed down.
PostgreSQL and eventsourcing are imported inside the commands, so `careloop validate` stays light.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

from engine.cli.consoles import consoles
from engine.yamlfile.suggest import did_you_mean
from projections.catalog import PROJECTIONS

if TYPE_CHECKING:
    from projections.runner import Runner

projections_app = typer.Typer(
    no_args_is_help=True, help="PostgreSQL read models of the event store: run, rebuild, status."
)
out, err = consoles()

PageSizeOpt = Annotated[int, typer.Option(min=1, help="Notifications per page (one transaction per page).")]
NAMES = [p.name for p in PROJECTIONS]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", markup=True)
    return typer.Exit(code)


def _database_url() -> str:
    from pydantic import ValidationError

    from engine.plumbing.services import ServicesNotFoundError, database_url
    from engine.settings import Settings

    try:
        return database_url(Settings())
    except ValidationError as exc:
        raise _fail(f"invalid CARELOOP_ settings: {exc.errors(include_url=False)}", 2) from exc
    except ServicesNotFoundError as exc:
        raise _fail(f"{exc} (CARELOOP_DATABASE_URL is the event store's database)", 2) from exc


def _where(url: str) -> str:
    """host:port/database: the URL without its user and password, for messages."""
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}:{parts.port or 5432}{parts.path or '/'}"


@contextmanager
def _runner(url: str, page_size: int) -> Iterator[Runner]:
    """The runner, with database and projection errors turned into one clear line and a non-zero exit."""
    import psycopg
    from eventsourcing.persistence import PersistenceError

    from engine.access.ownership import TablesNotReadyError
    from engine.processes.projections import projection_runner
    from projections.errors import ProjectionError

    try:
        with projection_runner(url, page_size) as runner:
            yield runner
    except (ProjectionError, TablesNotReadyError) as exc:
        raise _fail(str(exc)) from exc
    except (psycopg.Error, PersistenceError) as exc:
        raise _fail(f"PostgreSQL at {_where(url)}: {str(exc).strip() or type(exc).__name__}") from exc


def _serve_health(url: str, stop: threading.Event) -> None:
    """/healthz and /readyz (and /metrics) on CARELOOP_HEALTH_PORT, when set."""
    from engine.plumbing.health import serve_health
    from engine.processes.projections import probes
    from engine.settings import Settings

    settings = Settings()
    if settings.health_port:
        serve_health(settings.health_port, settings.metrics_host, probes(url, stop))


@projections_app.command("run")
def run(
    page_size: PageSizeOpt = 1000,
    poll_interval: Annotated[float, typer.Option(min=0.1, help="Seconds between checks when no NOTIFY arrives.")] = 5.0,
) -> None:
    """Follow the event store and keep every projection up to date, until Ctrl-C or SIGTERM."""
    from engine.processes.projections import follow

    url = _database_url()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with _runner(url, page_size) as runner:
        _serve_health(url, stop)
        out.print(f"following the event store at {_where(url)} into {', '.join(NAMES)}; Ctrl-C stops")
        follow(runner, stop, poll_interval)
        positions = runner.positions()
    out.print("stopped at " + ", ".join(f"{name} {position}" for name, position in positions.items()))


@projections_app.command("rebuild")
def rebuild(
    name: Annotated[str | None, typer.Argument(help=f"One projection: {', '.join(NAMES)} (default: all).")] = None,
    page_size: PageSizeOpt = 1000,
    chunk_size: Annotated[
        int,
        typer.Option(
            min=1,
            help="Events folded in memory before their rows are written, with the position, in one transaction "
            "(memory grows with it, not with the history).",
        ),
    ] = 200_000,
) -> None:
    """Empty the projection's tables and replay the whole event store into them chunk by chunk, with a progress
    bar."""
    if name is not None and name not in NAMES:
        hint = did_you_mean(name, NAMES) or f" (projections: {', '.join(NAMES)})"
        raise _fail(f"no projection {name!r}{hint}", 2)
    url = _database_url()
    with _runner(url, page_size) as runner:
        started = time.perf_counter()
        events = runner.rebuild(name, progress=True, chunk_size=chunk_size)
        elapsed = max(time.perf_counter() - started, 1e-9)
        counts = runner.row_counts(name)
    out.print(f"rebuilt {name or 'all projections'}: {events} events in {elapsed:.1f} s ({events / elapsed:,.0f}/s)")
    for table, rows in counts.items():
        out.print(f"  {table:<20} {rows:>10,} rows")


@projections_app.command("status")
def status() -> None:
    """Each projection's position in the event store and how many notifications it is behind."""
    url = _database_url()
    with _runner(url, 1000) as runner:
        positions = runner.positions()
        lag = runner.lag()
    out.print(f"{'projection':<20} {'position':>10} {'lag':>10}")
    for name, position in positions.items():
        out.print(f"{name:<20} {position:>10} {lag[name]:>10}")
