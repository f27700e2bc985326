"""`careloop projections`: follow the event store into the read models, rebuild them, show how far they are.

The database URL comes from CARELOOP_DATABASE_URL, read here (through the process's settings) and passed down.
PostgreSQL and eventsourcing are imported inside the commands, so `careloop validate` stays light.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

from engine.cli.consoles import consoles
from engine.yamlfile.suggest import did_you_mean
from projections.catalog import PROJECTIONS
from projections.groups import GroupError, group, groups, named

if TYPE_CHECKING:
    from projections.base import Projection
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
def _runner(url: str, page_size: int, projections: Sequence[Projection] = PROJECTIONS) -> Iterator[Runner]:
    """The runner, with database and projection errors turned into one clear line and a non-zero exit."""
    import psycopg
    from eventsourcing.persistence import PersistenceError

    from engine.access.ownership import TablesNotReadyError
    from engine.processes.projections import projection_runner
    from projections.errors import ProjectionError

    try:
        with projection_runner(url, page_size, projections) as runner:
            yield runner
    except (ProjectionError, TablesNotReadyError) as exc:
        raise _fail(str(exc)) from exc
    except (psycopg.Error, PersistenceError) as exc:
        raise _fail(f"PostgreSQL at {_where(url)}: {str(exc).strip() or type(exc).__name__}") from exc


def _serve_health(url: str, stop: threading.Event, projections: Sequence[Projection]) -> None:
    """/healthz and /readyz (and /metrics) on CARELOOP_HEALTH_PORT, when set; both name the projections followed."""
    from engine.plumbing.health import serve_health
    from engine.processes.projections import probes
    from engine.settings import Settings

    settings = Settings()
    if settings.health_port:
        serve_health(settings.health_port, settings.metrics_host, probes(url, stop, projections))


def _chosen(only: list[str] | None, of: str | None) -> tuple[Projection, ...]:
    """What `run` follows: the projections named, one group of the split, or every projection."""
    if only and of:
        raise _fail("--only and --group choose the projections both ways: give one of them", 2)
    try:
        return named(only) if only else group(of) if of else PROJECTIONS
    except GroupError as exc:
        raise _fail(str(exc), 2) from exc


# One string per paragraph: the help shows the lines of a docstring as they are broken in the source
RUN_HELP = (
    "Follow the event store and keep every projection up to date (or those of --only or --group), until Ctrl-C or "
    "SIGTERM.\n\n"
    "One runner follows every projection, each page in a transaction per projection. When it falls behind the "
    "workers (`careloop projections status` shows the lag growing), split the projections over N runner processes, "
    "on one host or several: --group 1/N, ..., --group N/N. The split depends only on N and the release: run the "
    "same release everywhere. Each projection keeps its own position, so a runner can stop and restart, and two "
    "runners given the same group apply each page once between them."
)


@projections_app.command(
    "run", help=RUN_HELP, short_help="Follow the event store into the projections (all, --only or --group)."
)
def run(
    page_size: PageSizeOpt = 1000,
    poll_interval: Annotated[float, typer.Option(min=0.1, help="Seconds between checks when no NOTIFY arrives.")] = 5.0,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="NAME[,NAME...]",
            help="Follow only these projections (repeat the option or separate names with commas); another runner "
            "must follow the rest.",
        ),
    ] = None,
    of: Annotated[
        str | None,
        typer.Option(
            "--group",
            metavar="K/N",
            help="Follow group K of the projections split into N groups: start N runners, --group 1/N to --group "
            "N/N, and every projection is followed by exactly one of them (`careloop projections groups N` lists "
            "them).",
        ),
    ] = None,
) -> None:
    """Follow the event store into the chosen projections until stopped (its help: RUN_HELP)."""
    from engine.processes.projections import follow, following

    chosen = _chosen(only, of)
    url = _database_url()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with _runner(url, page_size, chosen) as runner:
        _serve_health(url, stop, chosen)
        out.print(f"following the event store at {_where(url)}: {following(chosen)}; Ctrl-C stops")
        follow(runner, stop, poll_interval)
        positions = runner.positions()
    out.print("stopped at " + ", ".join(f"{name} {position}" for name, position in positions.items()))


@projections_app.command("groups")
def show_groups(
    n: Annotated[int, typer.Argument(min=1, help=f"Runner processes: 1 to {len(PROJECTIONS)}.")],
) -> None:
    """The projections each of N runners follows with `careloop projections run --group K/N`."""
    try:
        split = groups(n)
    except GroupError as exc:
        raise _fail(str(exc), 2) from exc
    for k, projections in enumerate(split, start=1):
        out.print(f"--group {k}/{n}: {', '.join(p.name for p in projections)}")


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
