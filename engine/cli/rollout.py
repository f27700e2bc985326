"""`careloop rollout status [JOURNEY]` and `careloop rollout promote|rollback JOURNEY [--plan] [--at T]`: the staged
rollouts the deployments run, and their end. Promote starts every new entry on the candidate, rollback on the stable
version; running instances follow the deployed file's migration for that pair (default: they finish on their
version), with the plan printed as `careloop deploy` prints it. Exit 0 ok, 1 refused, 2 usage."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo

import typer

from engine.cli.deploy import FORMATS, attempt, database_url, fail, out, recorded_rows, show
from engine.cli.moments import parse_moment

if TYPE_CHECKING:
    from engine.journeys.deployments import Deployment

rollout_app = typer.Typer(help="Staged rollouts of new journey versions: status, promote, rollback.")


@rollout_app.command("status")
def status(
    journey: Annotated[str | None, typer.Argument(help="Only this journey's rollouts.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """The rollouts the latest deployment runs (share, salt, since when, instances per arm) and the ended ones
    (promoted or rolled back, in which deployment), with the `careloop report experiment` line that compares the
    arms."""
    if fmt not in FORMATS:
        raise fail(f"--format must be table or json, not {fmt!r}", 2)
    url = database_url()
    history = [r.deployment for r in attempt(lambda: recorded_rows(url))]
    rows = [r for r in rollout_rows(history) if journey is None or r["journey"] == journey]
    counts = arm_counts(url)
    for r in rows:
        r["instances"] = None if counts is None else counts.get(str(r["experiment"]), {})
    if fmt == "json":
        out.print(json.dumps(rows, indent=2), markup=False)
        return
    if not rows:
        out.print("no rollout recorded" + (f" for {journey}" if journey else ""), markup=False)
    for r in rows:
        line = (
            f"{r['journey']} v{r['candidate_version']} (stable v{r['stable_version']}): {r['status']}, "
            f"{int(str(r['share_bp'])) / 100:g}% of new entries, salt {r['salt']}, since deployment {r['started_in']} "
            f"({r['started_at']})"
        )
        if r["ended_in"] is not None:
            line += f", ended by deployment {r['ended_in']} ({r['ended_at']})"
        out.print(line, markup=False)
        arms = r["instances"]
        out.print(
            "  instances per arm: not available (the projections' experiment_assignments cannot be read)"
            if not isinstance(arms, dict)
            else f"  instances per arm: candidate {arms.get('candidate', 0)}, stable {arms.get('stable', 0)}"
            " (as the projections have them)",
            markup=False,
        )
        out.print(f"  compare the arms: careloop report experiment --experiment {r['experiment']}", markup=False)


def arm_counts(url: str) -> dict[str, dict[str, int]] | None:
    """Instances per rollout experiment and arm, as the experiments projection has them; None when its table is
    missing or this login may not read it."""
    import psycopg

    from engine.plumbing.connections import connect

    try:
        with connect(url, "careloop-cli") as conn:
            found = conn.execute(
                "SELECT experiment_id, arm, count(*) FROM experiment_assignments WHERE kind = 'journey_rollout' "
                "GROUP BY experiment_id, arm"
            ).fetchall()
    except (psycopg.errors.UndefinedTable, psycopg.errors.InsufficientPrivilege):
        return None
    counts: dict[str, dict[str, int]] = {}
    for experiment, arm, n in found:
        counts.setdefault(str(experiment), {})[str(arm)] = int(n)
    return counts


def rollout_rows(history: Sequence[Deployment]) -> list[dict[str, object]]:
    """One row per rollout (journey, candidate version, salt) in the order they started: its latest share, and
    when it started and ended."""
    rows: dict[tuple[str, int, str], dict[str, object]] = {}
    for d in history:
        for key, row in rows.items():
            if row["status"] == "running" and not _runs(d, key):
                row.update(status="promoted" if d.stable.get(key[0]) == key[1] else "rolled back")
                row.update(ended_in=d.deployment_id, ended_at=d.effective_at.isoformat())
        for r in d.rollouts.values():
            key = (r.journey_id, r.candidate_version, r.salt)
            row = rows.setdefault(
                key,
                {
                    "journey": r.journey_id,
                    "candidate_version": r.candidate_version,
                    "salt": r.salt,
                    "started_in": d.deployment_id,
                    "started_at": d.effective_at.isoformat(),
                    "experiment": f"{r.journey_id}@v{r.candidate_version}/{r.salt}",
                },
            )
            row.update(stable_version=r.stable_version, share_bp=r.share_bp, status="running")
            row.update(ended_in=None, ended_at=None)
    return list(rows.values())


def _runs(d: Deployment, key: tuple[str, int, str]) -> bool:
    r = d.rollouts.get(key[0])
    return r is not None and (r.candidate_version, r.salt) == key[1:]


def _end(
    kind: Literal["promote", "rollback"], journey: str, plan_only: bool, at: str | None, fmt: str, detail: bool
) -> None:
    from engine.store import deployer

    if fmt not in FORMATS:
        raise fail(f"--format must be table or json, not {fmt!r}", 2)
    url = database_url()
    moment = parse_moment("--at", at, ZoneInfo(_timezone(url)))
    outcome = attempt(
        lambda: deployer.change_rollout(url, journey, kind, moment, not plan_only, lambda: deployer.stored_states(url))
    )
    show(outcome, f"{kind} of {journey}'s rollout", fmt, detail)


def _timezone(url: str) -> str:
    """The hospital's time zone, as the latest deployment's file sets it."""
    rows = attempt(lambda: recorded_rows(url))
    return str(rows[-1].file.settings.hospital_timezone) if rows else "UTC"


PlanOption = Annotated[bool, typer.Option("--plan", help="Print what would be recorded; record nothing.")]
AtOption = Annotated[str | None, typer.Option(help="Effective time (ISO). Default: 2 minutes from now.")]
FormatOption = Annotated[str, typer.Option("--format", help="table or json.")]
DetailOption = Annotated[bool, typer.Option("--detail", help="Each instance the plan decides.")]


@rollout_app.command("promote")
def promote(
    journey: Annotated[str, typer.Argument(help="The journey whose rollout ends.")],
    plan_only: PlanOption = False,
    at: AtOption = None,
    fmt: FormatOption = "table",
    detail: DetailOption = False,
) -> None:
    """Start every new entry of JOURNEY on its rollout's candidate version from the effective time."""
    _end("promote", journey, plan_only, at, fmt, detail)


@rollout_app.command("rollback")
def rollback(
    journey: Annotated[str, typer.Argument(help="The journey whose rollout ends.")],
    plan_only: PlanOption = False,
    at: AtOption = None,
    fmt: FormatOption = "table",
    detail: DetailOption = False,
) -> None:
    """Start every new entry of JOURNEY on its stable version again from the effective time; running candidates
    follow the deployed file's migration back to the stable version, if it has one (else they finish)."""
    _end("rollback", journey, plan_only, at, fmt, detail)
