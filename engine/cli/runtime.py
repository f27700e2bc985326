"""Commands that run the live pipeline: the worker, and (with embedded services) up and demo."""

from __future__ import annotations

import shutil
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import typer
from pydantic import ValidationError
from rich.progress import Progress, TextColumn

from connectors.sealing import Sealer
from engine.demo.behaviour import Behaviour, BehaviourError
from engine.demo.compare import compare
from engine.demo.driver import STEPPED_ENV, SteppedDriver
from engine.demo.hospital import generate
from engine.demo.overlay import Holdout, OverlayError, with_global_holdout
from engine.dispatch.channels.demo_inbox import reveal
from engine.embedded import EmbeddedServiceError
from engine.embedded.stack import Stack
from engine.journeys.catalog import Catalog
from engine.journeys.errors import JourneyError
from engine.language.loader import load_catalog
from engine.plumbing.connections import connect
from engine.plumbing.logs import configure_logging
from engine.processes.stack import PortClashError, TooManyWorkersError, children, running_stack
from engine.security.errors import KeyFileError
from engine.security.patient_keys import PatientKeys
from engine.security.patient_keys_postgres import PostgresPatientKeys
from engine.settings import Settings
from projections import tracking
from projections.catalog import PROJECTIONS
from projections.groups import GroupError


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            name = "CARELOOP_" + "_".join(str(p) for p in err["loc"]).upper()
            typer.echo(f"error: {name}: {err['msg']}", err=True)
        raise typer.Exit(2) from exc


def worker() -> None:
    """Run the journey worker (faust) against CARELOOP_KAFKA_BOOTSTRAP and CARELOOP_DATABASE_URL."""
    from engine.processes import worker as process

    settings = load_settings()
    configure_logging(settings.log_level)
    try:
        built = process.build_worker(settings)
    except (process.ConfigurationError, JourneyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    process.run(built, settings)


def _wait_for_signal(stack: Stack) -> None:
    """Block until Ctrl-C / SIGTERM, or until a child dies (then say which, and stop everything)."""
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    while not stopping.wait(1.0):
        if dead := stack.exited():
            names = ", ".join(f"{n} (exit {c})" for n, c in dead)
            typer.echo(f"error: {names} stopped; see {stack.data_dir / 'logs'}; stopping everything", err=True)
            raise typer.Exit(1)


def up(workers: int = 1, projection_runners: int = 1) -> None:
    """Start the stack (embedded Kafka and PostgreSQL unless configured), ``workers`` workers and the projections
    (split over ``projection_runners`` runners)."""
    settings = load_settings()
    try:
        _, runners = children(settings, workers, projection_runners)
    except (TooManyWorkersError, GroupError, PortClashError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"starting careloop (data in {settings.data_dir.absolute()}) ...")
    try:
        with running_stack(settings, workers=workers, projection_runners=projection_runners) as stack:
            typer.echo(
                f"kafka      {stack.bootstrap}  (topics {', '.join(stack.topics.all() if stack.topics else [])})"
            )
            typer.echo(f"postgres   {stack.database_url}")
            typer.echo(f"workers    {workers} in consumer group {settings.consumer_group}")
            if projection_runners > 1:
                for name, args in runners:
                    typer.echo(f"{name:<13} {' '.join(args[2:])}")
            typer.echo(f"logs       {stack.data_dir / 'logs'}")
            typer.echo("running; Ctrl-C stops everything")
            _wait_for_signal(stack)
    except (EmbeddedServiceError, KeyFileError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo("stopped")


def demo(patients: int, seed: int, days: int, step_days: int, keep: bool) -> None:
    """The synthetic hospital through the live pipeline on an accelerated clock; prints what it produced."""
    base = load_settings()
    data_dir = base.data_dir / "demo"
    if data_dir.exists() and not keep:
        shutil.rmtree(data_dir)
    settings = base.model_copy(update={"data_dir": data_dir, "clock": "database", "journeys": _demo_journeys(base)})
    catalog = load_catalog(settings.journeys)
    behaviour = _behaviour(catalog)
    events = generate(patients=patients, seed=seed, days=days, behaviour=behaviour)
    until = max(e.recorded_at for e in events) + timedelta(days=31)
    started = time.monotonic()
    typer.echo(f"synthetic hospital: {patients} patients, {len(events)} events over {days} days (seed {seed})")
    # Into the demo inbox: what patients would have received. The demo's clock leaps a week per step, so every
    # approval would be stale by the time the dispatcher sees the new clock: send them anyway.
    with running_stack(settings, STEPPED_ENV, {"CARELOOP_DISPATCH__SEND_STALE": "true"}) as stack:
        database_url = stack.database_url
        assert stack.keys is not None  # the stack opened (or made) its key file on starting
        keys = PostgresPatientKeys(database_url, stack.keys.provider, name="careloop-demo-keys")
        driver = SteppedDriver(
            stack.bootstrap,
            database_url,
            stack.topics.clinical if stack.topics else "",
            settings.consumer_group,
            Sealer(keys),
            check=stack.check_children,
        )
        try:
            with Progress(*Progress.get_default_columns(), TextColumn("{task.fields[clock]}")) as bar:
                task = bar.add_task("virtual time", total=(until - events[0].recorded_at).days, clock="")
                driver.run(
                    events,
                    until,
                    timedelta(days=step_days),
                    on_step=lambda c: bar.update(
                        task, completed=(c - events[0].recorded_at).days, clock=c.date().isoformat()
                    ),
                )
            if not wait_for_dispatcher(database_url, stack):
                typer.echo(f"the dispatcher did not finish; see {stack.data_dir / 'logs' / 'dispatcher.log'}", err=True)
            driver.wait_all_consumed()  # what the dispatcher reported back is in the store too
        finally:
            driver.close()
        if not wait_for_projections(database_url, stack):
            typer.echo(f"the projections did not catch up; see {stack.data_dir / 'logs' / 'projections.log'}", err=True)
        try:
            report(database_url, keys)
        except psycopg.errors.UndefinedTable as exc:
            typer.echo(
                f"projection tables are missing ({exc}); see {stack.data_dir / 'logs' / 'projections.log'}", err=True
            )
        if behaviour is not None:
            closing_table(database_url, behaviour, catalog, settings.data_dir / CHART)
        comparison = compare(database_url, events, until, keys)
    typer.echo(
        f"\nlive pipeline vs `careloop simulate` on the same events: "
        f"{'identical' if comparison.identical else 'DIFFERENT'} for {comparison.patients} patients "
        f"({comparison.live_effects.get('message.requested', 0)} messages, "
        f"{comparison.live_effects.get('task.created', 0)} tasks, "
        f"{comparison.live_effects.get('churn.flagged', 0)} churn flags)"
    )
    for line in comparison.differences[:10]:
        typer.echo(f"  {line}", err=True)
    typer.echo(f"demo finished in {time.monotonic() - started:.0f} s")
    if not comparison.identical:
        raise typer.Exit(1)


CHART = "revisit-by-arm.png"  # in the demo's data dir


def _demo_journeys(base: Settings) -> Path:
    """The demo's own journeys: the configured file with the demo's global holdout (20 % of patients get no care or
    marketing message), written beside its data and given to its processes (CARELOOP_JOURNEYS)."""
    target = base.data_dir / "demo" / "journeys.yaml"
    try:
        return with_global_holdout(base.journeys, target, Holdout(id="demo-holdout", share=20, salt="demo"))
    except (OSError, OverlayError) as exc:
        typer.echo(f"error: the demo's journeys: {exc}", err=True)
        raise typer.Exit(2) from exc


def _behaviour(catalog: Catalog) -> Behaviour | None:
    """The patients' behavioural model (known effects), if the journeys have what it measures; else said, and off."""
    try:
        return Behaviour.of(catalog)
    except BehaviourError as exc:
        typer.echo(f"behavioural model off ({exc}): patients come back as the storylines say, no known effect")
        return None


def closing_table(database_url: str, behaviour: Behaviour, catalog: Catalog, chart: Path) -> None:
    """Revisit and follow-up rates by journey and arm with 95 % intervals (careloop report experiment, with the
    global holdout's leakage check), each beside the behavioural model's true effect; drawn into ``chart`` too
    (`make docs-charts` copies it into docs/img)."""
    try:
        from engine.demo import outcomes
        from engine.reports.holdout import holdout_options
    except ImportError as exc:
        typer.echo(f"\nthe experiment table needs the reports extra ({exc.name} is missing): careloop[reports]")
        return
    held = f"the demo holds out {behaviour.holdout.share:g} % of patients" if behaviour.holdout else "no global holdout"
    typer.echo(f"\nreturn by journey and arm (careloop report experiment; {held}):")
    try:
        with connect(database_url, "careloop-cli") as conn:
            measured = outcomes.measure(conn, behaviour, holdout_options(catalog))
    except psycopg.Error as exc:
        typer.echo(f"  the analytics views are missing or older: {str(exc).strip().splitlines()[0]}", err=True)
        return
    for line in outcomes.lines(measured):
        typer.echo(f"  {line}")
    if measured:
        chart.write_bytes(outcomes.chart(measured))
        typer.echo(f"  chart: {chart}")


def wait_for_dispatcher(database_url: str, stack: Stack, timeout: float = 120.0) -> bool:
    """Until the dispatcher has followed the whole log, sent or settled every approval and published every report.
    False if it did not within ``timeout`` (or a child process died)."""
    # One statement, one snapshot: read apart, the count could predate the follower's commit and the position
    # follow it, and a send still to come would look done.
    query = (
        "SELECT (SELECT count(*) FROM dispatch_messages WHERE status IN ('pending', 'sending'))"
        " + (SELECT count(*) FROM dispatch_outbox WHERE published_at IS NULL),"
        " (SELECT coalesce(max(notification_id), 0) FROM careloop_events),"
        " (SELECT position FROM dispatch_tracking WHERE name = 'dispatcher')"
    )
    deadline = time.monotonic() + timeout
    with connect(database_url, "careloop-cli") as conn:
        while time.monotonic() < deadline and not stack.exited():
            try:
                row = conn.execute(query).fetchone()
            except psycopg.errors.UndefinedTable:
                row = None
            if row is not None and row[0] == 0 and row[2] is not None and row[2] >= row[1]:
                return True
            time.sleep(0.2)
    return False


def wait_for_projections(database_url: str, stack: Stack, timeout: float = 60.0) -> bool:
    """Whether every projection reached the store's head within ``timeout`` (False too when a child exited)."""
    names = [p.name for p in PROJECTIONS]  # every projection of the catalog, whichever runners follow them
    deadline = time.monotonic() + timeout
    with connect(database_url, "careloop-cli") as conn:
        while time.monotonic() < deadline:
            if stack.exited():
                return False
            if tracking.behind(conn, names) == 0:
                return True
            time.sleep(0.1)
    return False


def report(database_url: str, keys: PatientKeys) -> None:
    """The reminder queue and churn flags, as staff would look at them; the demo inbox's messages revealed with
    ``keys`` (they rest sealed with their patients' keys)."""
    with connect(database_url, "careloop-cli") as conn:
        typer.echo("\nreminder_queue by status:")
        for status, n in conn.execute("SELECT status, count(*) FROM reminder_queue GROUP BY 1 ORDER BY 2 DESC"):
            typer.echo(f"  {status:<10} {n}")
        typer.echo("\nreminder_queue, next ten still scheduled or due:")
        for row in conn.execute(
            "SELECT due_at, patient_id, journey_id, template, status FROM reminder_queue "
            "WHERE status IN ('scheduled', 'due', 'deferred', 'approved') ORDER BY due_at DESC LIMIT 10"
        ):
            typer.echo(f"  {row[0]:%Y-%m-%d %H:%M}  {row[1]}  {row[2]:<26} {row[3]:<28} {row[4]}")
        typer.echo("\nmessages the dispatcher sent to the demo inbox (no gateway configured), latest five:")
        try:
            for patient_id, channel, locale, body in conn.execute(
                "SELECT patient_id, channel, locale, body FROM outreach_demo_inbox ORDER BY created_at DESC LIMIT 5"
            ):
                typer.echo(f"  {channel:<7} {locale:<6} {reveal(keys, patient_id, 'body', body)[:100]}")
        except psycopg.errors.UndefinedTable:
            typer.echo("  (the dispatcher has not created its tables)")
        typer.echo("\nchurn_flags by level (open):")
        for level, n in conn.execute(
            "SELECT level, count(*) FROM churn_flags WHERE status = 'open' GROUP BY 1 ORDER BY 2 DESC"
        ):
            typer.echo(f"  {level:<8} {n}")
        typer.echo("\nchurn_flags, ten highest open:")
        for row in conn.execute(
            "SELECT patient_id, level, score, reason, since FROM churn_flags WHERE status = 'open' "
            "ORDER BY score DESC, since LIMIT 10"
        ):
            typer.echo(f"  {row[0]}  {row[1]:<6} {row[2]:>3}  {row[3]}  (since {row[4]:%Y-%m-%d})")
