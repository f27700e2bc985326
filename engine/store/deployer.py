"""Recording a deployment (`careloop deploy`, `careloop rollout promote|rollback`): in one transaction, under the
deployment head's lock, the refusals, the new journey versions, the deployment row with its plan, and a wake-up
timer per patient the plan names, due at the effective time, so each is decided then (the core cancels it: the
timer id is the one engine/journeys/migration.py gives the deployment's due item); when the deployment changes the
calendar journeys' dates, one per patient the store knows besides (engine/store/calendar_wake.py). With
``apply=False`` the same is done and rolled back: the plan printed is the plan that would be recorded, refusals
included.

The patients' states the plan is computed over are read before the lock (a deploy must not hold the workers'
commits while it reads the store): a patient who starts meanwhile gets the deployment's wake-up from the core.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg import Connection

from engine.journeys import deployments as model
from engine.journeys import migration
from engine.journeys.catalog import Catalog
from engine.journeys.definition import JourneysFile
from engine.journeys.errors import JourneyError
from engine.journeys.state import PatientState
from engine.plumbing.connections import connect
from engine.store import calendar_wake, definitions, deployments, experiments
from engine.store import deployment_rules as rules
from engine.store.application import JourneyStore, postgres_env
from events.ids import deterministic_id

DEPLOYER = "careloop-deployer"  # the application_name of the command's connection
LEAD = timedelta(minutes=2)  # the default effective time's margin after the engine's clock and latest decision
States = Callable[[], Iterable[PatientState]]


class RolloutNotRunningError(JourneyError):
    """`rollout promote|rollback` of a journey the latest deployment runs no rollout of."""


class NothingToDeployError(JourneyError):
    """The file is the latest deploy's already."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What was (or, with --plan, would be) recorded."""

    deployment: model.Deployment
    previous: model.Deployment | None
    plan: migration.Plan
    recorded: bool
    woken: int  # wake-up timers written
    calendar_woken: int = 0  # wake-up timers written because the calendar journeys' dates change (calendar_wake)


def deploy_file(
    database_url: str, source: definitions.JourneysSource, at: datetime | None, apply: bool, states: States
) -> Outcome:
    """`careloop deploy FILE`: the file's versions, rollouts and migrations, effective at ``at`` (default: LEAD
    after the engine's clock and its latest decision)."""
    own = source.catalog.deployments[0]
    loaded = list(states()) if own.directives else []
    return _under_head_lock(database_url, lambda conn: _deploy_file(conn, source, at, apply, own, loaded))


def _under_head_lock(database_url: str, record: Callable[[Connection[Any]], Outcome]) -> Outcome:
    """``record(conn)`` in one transaction under the deployment head's lock; with --plan, what it would have
    recorded, carried out of the transaction it rolled back (_Discard)."""
    try:
        with connect(database_url, DEPLOYER) as conn, conn.transaction():
            definitions.create_tables(conn)
            deployments.lock_head(conn)
            return record(conn)
    except _Discard as plan_only:
        return plan_only.outcome


def _deploy_file(
    conn: Connection[Any],
    source: definitions.JourneysSource,
    at: datetime | None,
    apply: bool,
    own: model.Deployment,
    loaded: list[PatientState],
) -> Outcome:
    history = deployments.history(conn)
    _check_news(deployments.latest(conn), source.file)
    rules.check_not_behind(own, history, "the journeys file")
    rules.check_rollout_salts(own, history)
    stored = definitions.record_versions(conn, source.catalog)
    experiments.record(conn, source.catalog.outreach)
    definitions.analytics(conn, source.catalog)
    new = dataclasses.replace(own, kind="deploy", effective_at=effective_time(conn, at, history))
    catalog_of = _catalog(source.file, definitions.archived(stored, source.file), history)
    return _record(conn, new, source.file, source.text, history, catalog_of, loaded, apply)


def _check_news(latest: deployments.Recorded | None, file: JourneysFile) -> None:
    """NothingToDeployError when the latest deployment is a deploy of this very file (a worker's start of it has
    applied none of its migrations: deploying it then is how they apply)."""
    if latest is not None and latest.deployment.kind == "deploy" and latest.file_hash == deployments.file_hash(file):
        raise NothingToDeployError(
            f"the journeys file is deployment {latest.deployment.deployment_id}'s already (effective "
            f"{latest.deployment.effective_at.isoformat()}): nothing to deploy"
        )


def change_rollout(
    database_url: str,
    journey_id: str,
    kind: Literal["promote", "rollback"],
    at: datetime | None,
    apply: bool,
    states: States,
) -> Outcome:
    """`careloop rollout promote|rollback JOURNEY`: the latest deployment without the journey's rollout, its
    candidate (promote) or its stable version (rollback) now starting every new entry; running instances follow
    the latest file's migration for that pair, if it has one (default: they finish on their version)."""
    loaded = list(states())
    return _under_head_lock(database_url, lambda conn: _change_rollout(conn, journey_id, kind, at, apply, loaded))


def _change_rollout(
    conn: Connection[Any],
    journey_id: str,
    kind: Literal["promote", "rollback"],
    at: datetime | None,
    apply: bool,
    loaded: list[PatientState],
) -> Outcome:
    latest = deployments.latest(conn)
    rollout = None if latest is None else latest.deployment.rollouts.get(journey_id)
    if latest is None or rollout is None:
        raise RolloutNotRunningError(f"no rollout of {journey_id} is running: `careloop rollout status` lists them")
    history = deployments.history(conn)
    new = _without_rollout(latest, rollout, kind, effective_time(conn, at, history))
    stored = definitions.stored_versions(conn)
    catalog_of = _catalog(latest.file, definitions.archived(stored, latest.file), history)
    return _record(conn, new, latest.file, latest.file_yaml, history, catalog_of, loaded, apply)


def _without_rollout(
    latest: deployments.Recorded, rollout: model.Rollout, kind: Literal["promote", "rollback"], effective: datetime
) -> model.Deployment:
    before = latest.deployment
    promoted = kind == "promote"
    source, target = (
        (rollout.stable_version, rollout.candidate_version)
        if promoted
        else (rollout.candidate_version, rollout.stable_version)
    )
    own = model.from_file(latest.file)
    directives = tuple(
        d
        for d in own.directives
        if d.journey_id == rollout.journey_id and d.to_version == target and source in d.from_versions
    )
    return dataclasses.replace(
        before,
        kind=kind,
        effective_at=effective,
        stable={**before.stable, rollout.journey_id: target},
        rollouts={k: r for k, r in before.rollouts.items() if k != rollout.journey_id},
        directives=tuple(dataclasses.replace(d, from_versions=(source,)) for d in directives),
    )


def _catalog(
    file: JourneysFile, archive: list[Any], history: tuple[model.Deployment, ...]
) -> Callable[[model.Deployment], Catalog]:
    return lambda new: Catalog.from_file(file, archive=archive, deployments=(*history, new))


def _record(
    conn: Connection[Any],
    new: model.Deployment,
    file: JourneysFile,
    file_yaml: str | None,
    history: tuple[model.Deployment, ...],
    catalog_of: Callable[[model.Deployment], Catalog],
    loaded: list[PatientState],
    apply: bool,
) -> Outcome:
    new = dataclasses.replace(new, deployment_id=(history[-1].deployment_id if history else 0) + 1)
    catalog = catalog_of(new)  # refuses a deployment naming a version or step it does not hold
    plan = migration.plan(loaded, catalog, new)
    before = deployments.latest(conn)
    calendar_hash = catalog.calendar_hashes[-1]
    now = experiments.deployment_now(conn)
    recorded = deployments.record(conn, new, file, now, file_yaml, plan_row(plan), calendar_hash)
    woken = wake(conn, plan, recorded)
    changed = calendar_wake.calendar_changed(before.calendar_hash if before else None, calendar_hash)
    calendar_woken = calendar_wake.wake(conn, recorded) if changed else 0
    outcome = Outcome(recorded, history[-1] if history else None, plan, apply, woken, calendar_woken)
    if not apply:
        raise _Discard(outcome)
    return outcome


def plan_row(plan: migration.Plan) -> dict[str, Any]:
    """The plan as the deployment's row keeps it: the counts per journey version and step, no patient's line (the
    patients' own streams record what happened to each)."""
    kept = plan.to_json()
    kept.pop("lines", None)
    return kept


class _Discard(Exception):  # noqa: N818 - not an error: the way out of the transaction that rolls it back
    """Rolls the transaction back and carries what would have been recorded out of it."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("a plan only: nothing recorded")
        self.outcome = outcome


def wake(conn: Connection[Any], plan: migration.Plan, deployment: model.Deployment) -> int:
    """One timer per patient the plan names, due at the effective time (a row already there is left alone)."""
    rows = {
        deterministic_id(line.patient_id, "deployment", str(deployment.deployment_id)): (
            line.patient_id,
            line.instance_id,
        )
        for line in plan.lines
    }
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO careloop_timers (timer_id, patient_id, instance_id, due_at) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (timer_id) DO NOTHING",
            [(t, p, i, deployment.effective_at) for t, (p, i) in rows.items()],
        )
    return len(rows)


def effective_time(conn: Connection[Any], at: datetime | None, history: tuple[model.Deployment, ...]) -> datetime:
    """``at``, checked against the recorded deployments and decisions; default LEAD after the engine's clock
    and its latest decision (and the latest deployment)."""
    decided = deployments.latest_decision(conn)
    if at is None:
        now = experiments.deployment_now(conn)
        at = max(now, decided or now) + LEAD
        if history and at <= history[-1].effective_at:
            at = history[-1].effective_at + LEAD
    rules.check_effective(at, history, decided)
    return at


def stored_states(database_url: str, page: int = 1000) -> list[PatientState]:
    """Every patient's state as committed (snapshot and the events after it): the patients the store has applied
    an input of, read page by page. What the plan is computed over; nothing is revealed (sealed values stay so)."""
    with connect(database_url, DEPLOYER) as conn:
        if conn.execute("SELECT to_regclass('careloop_applied_inputs') IS NULL").fetchall() == [(True,)]:
            return []
        patients = [str(p) for (p,) in conn.execute("SELECT DISTINCT patient_id FROM careloop_applied_inputs")]
    store = JourneyStore(postgres_env(database_url, pool_size=1, migrate=False))
    try:
        return [
            aggregate.state
            for start in range(0, len(patients), page)
            for aggregate in store.load(patients[start : start + page]).values()
        ]
    finally:
        store.close()
