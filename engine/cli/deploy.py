"""`careloop deploy FILE [--plan] [--at T]` and `careloop deploy history`: journeys deployed while the workers run.

A deploy records, in one transaction under the deployment head's lock (engine/store/deployer.py): the file's new
journey versions, its rollouts, its migrations of running instances, the plan printed, and a wake-up per patient
the plan names at the effective time; every running worker reloads its catalog at its next batch commit. `--plan`
does the same and records nothing. Exit 0 ok, 1 refused or invalid, 2 usage.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from engine.cli.moments import parse_moment

if TYPE_CHECKING:
    from engine.journeys.migration import Plan
    from engine.store.deployer import Outcome
    from engine.store.deployments import Recorded

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
FORMATS = ("table", "json")
HISTORY = "history"


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def deploy_command(
    file: Annotated[str, typer.Argument(metavar="FILE|history", help="The journeys file to deploy, or 'history'.")],
    plan_only: Annotated[bool, typer.Option("--plan", help="Print what would be recorded; record nothing.")] = False,
    at: Annotated[
        str | None,
        typer.Option(help="Effective time (ISO; without an offset, the hospital's). Default: 2 minutes from now."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    detail: Annotated[
        bool, typer.Option("--detail", help="Each instance the plan decides (pseudonymous patient references).")
    ] = False,
) -> None:
    """Deploy a journeys file while the workers run: new entries start on its versions (and rollouts) from the
    effective time, running instances follow its migrations (the plan says how many move, are mapped, or finish on
    their version). `careloop deploy history` lists the recorded deployments."""
    if fmt not in FORMATS:
        raise fail(f"--format must be table or json, not {fmt!r}", 2)
    if file == HISTORY:
        if plan_only or at is not None or detail:
            raise fail("`careloop deploy history` takes only --format", 2)
        show_history(fmt)
        return
    from engine.store import deployer

    source = load(Path(file))
    moment = parse_moment("--at", at, ZoneInfo(source.catalog.settings.hospital_timezone))
    url = database_url()
    outcome = attempt(
        lambda: deployer.deploy_file(url, source, moment, not plan_only, lambda: deployer.stored_states(url))
    )
    show(outcome, file, fmt, detail)
    if fmt == "table":  # a season its calendar journeys cannot date yet (design §3.5): say so before it is due
        from engine.cli.calendar import held_soon

        for line in held_soon(source.catalog, outcome.deployment.effective_at.date()):
            out.print(f"calendar: {line}", markup=False)


def load(path: Path) -> Any:
    from engine.language.errors import JourneyFileError
    from engine.store.definitions import read_journeys

    try:
        return read_journeys(path)
    except JourneyFileError as exc:
        for p in exc.problems:
            err.print(str(p), markup=False)
        raise fail(f"{path} has errors; nothing was deployed") from exc


def database_url() -> str:
    from engine.cli.projections import _database_url

    return _database_url()


def attempt(record: Any) -> Any:
    """``record()``, its refusals (a JourneyError: unbumped, behind, rollout salt, effective time, a version or
    step not held) and an unreachable database ending the command with their reason, exit 1."""
    import psycopg

    from engine.access.ownership import TablesNotReadyError
    from engine.journeys.errors import JourneyError

    try:
        return record()
    except JourneyError as exc:
        raise fail(f"refused, nothing recorded: {exc}") from exc
    except TablesNotReadyError as exc:
        raise fail(str(exc)) from exc
    except psycopg.Error as exc:
        raise fail(f"cannot record the deployment in PostgreSQL: {str(exc).strip()}") from exc


def show(outcome: Outcome, what: str, fmt: str, detail: bool) -> None:
    from engine.journeys.deployments import to_json
    from engine.journeys.plan_report import render
    from engine.store.deployer import plan_row

    plan = pseudonymous(outcome.plan) if detail else outcome.plan
    if fmt == "json":
        report = {
            "recorded": outcome.recorded,
            "deployment": to_json(outcome.deployment),
            "previous": None if outcome.previous is None else outcome.previous.deployment_id,
            "woken": outcome.woken,
            "calendar_woken": outcome.calendar_woken,
            "plan": plan.to_json() if detail else plan_row(plan),
        }
        out.print(json.dumps(report, indent=2, ensure_ascii=False), markup=False)
        return
    d, before = outcome.deployment, outcome.previous
    over = "nothing deployed yet" if before is None else f"deployment {before.deployment_id}"
    out.print(f"deployment plan ({d.kind}): {what} over {over}, effective {d.effective_at.isoformat()}", markup=False)
    out.print(render(plan, detail=detail), markup=False)
    if outcome.calendar_woken:
        out.print(
            f"calendar: {outcome.calendar_woken} patient(s) rescheduled at {d.effective_at.isoformat()} (the "
            "calendar journeys' dates change with this deployment)",
            markup=False,
        )
    if outcome.recorded:
        out.print(
            f"recorded deployment {d.deployment_id}, effective {d.effective_at.isoformat()}; {outcome.woken} "
            "patient(s) woken then. The dispatcher finds a template its own file lacks in this deployment; "
            "restart it if a template's text changed under the same name.",
            markup=False,
        )
    else:
        out.print("plan only: nothing recorded", markup=False)


def pseudonymous(plan: Plan) -> Plan:
    """The plan with each patient named by the logs' pseudonymous reference (the key file's log key), never the id."""
    from engine.plumbing.logs import patient_ref
    from engine.security.deployment import open_keys
    from engine.security.errors import KeyFileError
    from engine.settings import Settings

    settings = Settings()
    try:
        key = open_keys(settings.key_file, settings.data_dir).log_key
    except KeyFileError as exc:
        raise fail(f"--detail names patients by their pseudonymous reference, which needs the key file: {exc}") from exc
    lines = tuple(dataclasses.replace(line, patient_id=patient_ref(line.patient_id, key)) for line in plan.lines)
    return dataclasses.replace(plan, lines=lines)


def show_history(fmt: str) -> None:
    from engine.journeys.deployments import to_json

    url = database_url()
    found: list[Recorded] = attempt(lambda: recorded_rows(url))
    if fmt == "json":
        # the deployments as engine/journeys/deployments.py to_json writes them (from_json reads them back)
        out.print(json.dumps([to_json(r.deployment) for r in found], indent=2), markup=False)
        return
    if not found:
        out.print("no deployment recorded yet (a worker's start records the first)", markup=False)
    for r in found:
        d = r.deployment
        rollouts = ", ".join(
            f"{k} v{x.candidate_version} {x.share_bp / 100:g}% (salt {x.salt})" for k, x in sorted(d.rollouts.items())
        )
        stable = ", ".join(f"{k} v{v}" for k, v in sorted(d.stable.items()))
        out.print(
            f"{d.deployment_id:>4}  {d.kind:<12} effective {d.effective_at.isoformat()}  recorded "
            f"{r.recorded_at.isoformat()} by {r.by_login}  file {r.file_hash}\n      stable: {stable}"
            + (f"\n      rollouts: {rollouts}" if rollouts else "")
            + (f"\n      migrations: {len(d.directives)}" if d.directives else ""),
            markup=False,
        )


def recorded_rows(url: str) -> list[Recorded]:
    from engine.plumbing.connections import connect
    from engine.store import deployments

    with connect(url, "careloop-cli") as conn:
        if conn.execute("SELECT to_regclass('careloop_deployments') IS NULL").fetchall() == [(True,)]:
            return []
        return deployments.rows(conn)
