"""Every journey version ever deployed, kept in PostgreSQL, so running instances finish on their own version.

Deploying journeys.yaml records each (journey, version) with its content hash. A running instance that started
on version 1 keeps running version 1 after version 2 is deployed. Changing a journey without bumping its
version is refused: it would silently change what running patients get.

The same transaction replaces what the analytics views (engine/access/analytics_1_visits.sql) read of the file:
every value set's codes (a visit's diagnosis groups are matched at query time, so a value set changed in a new
deploy needs no rebuild) and the hospital's time zone (where a day begins, for "the same day" and "within 30 days"),
and records the global holdout (engine/store/experiments.py: a changed salt or share under the same id is refused).

A worker's start also records its file as a deployment when it is not the latest's (worker_start; the deployments
are engine/store/deployments.py), and a running worker rebuilds its catalog from the latest deployment (at_head).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from psycopg import Connection

from engine.access.ownership import migrates
from engine.journeys import deployments as model
from engine.journeys.catalog import Catalog
from engine.journeys.definition import Journey, JourneysFile
from engine.journeys.errors import JourneyError
from engine.journeys.valuesets import ValueSet, canonical_system
from engine.language.errors import JourneyFileError
from engine.language.loader import check_text, read_journeys_text
from engine.plumbing.connections import connect
from engine.store import calendar_wake, deployments, experiments
from engine.store import deployment_rules as rules
from engine.yamlfile.source import read_yaml

log = structlog.get_logger("careloop.deploy")

TABLE = "careloop_journey_definitions"
DDL = """
CREATE TABLE IF NOT EXISTS careloop_journey_definitions (
    journey_id   text    NOT NULL,
    version      integer NOT NULL,
    content_hash text    NOT NULL,
    definition   jsonb   NOT NULL,
    deployed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (journey_id, version)
);
-- The deployed file's value sets, one row per code: system NULL matches any terminology; match exact or prefix.
CREATE TABLE IF NOT EXISTS careloop_value_set_codes (
    value_set text NOT NULL,
    system    text,           -- canonical (icd-10, snomed, ...), as the visits projection stores codes
    code      text NOT NULL,
    match     text NOT NULL CHECK (match IN ('exact', 'prefix'))
);
-- The deployed file's settings the analytics views need: one row.
CREATE TABLE IF NOT EXISTS careloop_analytics_config (
    id                boolean PRIMARY KEY DEFAULT true CHECK (id),
    hospital_timezone text NOT NULL
);
"""
DDL += experiments.DDL + ";\n" + deployments.DDL
VALUE_SETS, ANALYTICS_CONFIG = "careloop_value_set_codes", "careloop_analytics_config"
TABLES = (TABLE, VALUE_SETS, ANALYTICS_CONFIG, experiments.TABLE, deployments.TABLE, deployments.HEAD)
TICK = timedelta(microseconds=1)  # deployments' effective times strictly increase


DEPLOY = "careloop-deploy"  # the application_name of the connection recording the journeys
DEPLOY_LOCK = 0x6361_7265_6C6F_6F74  # one deploy at a time per database (a transaction's advisory lock)


class VersionNotBumpedError(JourneyError):
    """A journey's steps (or value sets) changed but its version did not."""


def deploy(
    database_url: str, current: Catalog, file: JourneysFile | None = None, file_yaml: str | None = None
) -> Catalog:
    """Record the catalog's journeys (and, at a worker's start, its file as a deployment: see worker_start) and
    return a catalog that also holds every earlier version and the recorded deployments. ``file``: the journeys file
    ``current`` was compiled from (its deployment section included); rebuilt from ``current`` when not given."""
    file = file if file is not None else file_of(current)
    with connect(database_url, DEPLOY) as conn, conn.transaction():
        # Workers starting together (`careloop up --workers N`) deploy one at a time: concurrent CREATE TABLE IF
        # NOT EXISTS collide in PostgreSQL's catalog, and each must see the versions the one before recorded.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (DEPLOY_LOCK,))
        create_tables(conn)
        stored = record_versions(conn, current)
        experiments.record(conn, current.outreach)
        analytics(conn, current)
        history = worker_start(conn, current, file, file_yaml)
    return Catalog.from_file(file, archive=archived(stored, file), deployments=history)


@dataclass(frozen=True, slots=True)
class JourneysSource:
    """A journeys file as read for a deployment: compiled, as its model (the deployment section included) and as
    written."""

    catalog: Catalog
    file: JourneysFile
    text: str


def read_journeys(path: str | Path) -> JourneysSource:
    """The journeys file at ``path``, read once; JourneyFileError listing every problem with file:line:column."""
    name = str(path)
    text = read_journeys_text(path)
    catalog, problems = check_text(text, name)
    doc, _ = read_yaml(text, name)
    if catalog is None or doc is None:
        raise JourneyFileError(problems)
    return JourneysSource(catalog, JourneysFile.model_validate(doc.data), text)


def create_tables(conn: Connection[Any]) -> None:
    """The deployment's tables, where this login may make them (engine/access/ownership.py)."""
    if migrates(conn, TABLES, "the journey deployment"):
        conn.execute(DDL)


def record_versions(conn: Connection[Any], current: Catalog) -> dict[tuple[str, int], tuple[str, Any]]:
    """Insert the catalog's new (journey, version)s, after locking the table; VersionNotBumpedError, writing nothing,
    when one is recorded with other content. Returns what was recorded before."""
    conn.execute("LOCK TABLE careloop_journey_definitions IN SHARE ROW EXCLUSIVE MODE")
    stored = stored_versions(conn)
    changed = [
        f"journey {j.id} version {j.version} differs from the deployed version {j.version} "
        f"(hash {stored[(j.id, j.version)][0]} -> {current.hash_of(j)}): bump its version"
        for j in current.versions.values()
        if (j.id, j.version) in stored and stored[(j.id, j.version)][0] != current.hash_of(j)
    ]
    if changed:
        raise VersionNotBumpedError("; ".join(changed))
    for j in current.versions.values():
        if (j.id, j.version) not in stored:
            conn.execute(
                "INSERT INTO careloop_journey_definitions (journey_id, version, content_hash, definition) "
                "VALUES (%s, %s, %s, %s)",
                (j.id, j.version, current.hash_of(j), json.dumps(j.model_dump(mode="json", by_alias=True))),
            )
    return stored


def stored_versions(conn: Connection[Any]) -> dict[tuple[str, int], tuple[str, Any]]:
    """Every recorded (journey, version): its content hash and definition (JSON)."""
    return {
        (str(j), int(v)): (str(h), d)
        for j, v, h, d in conn.execute(
            "SELECT journey_id, version, content_hash, definition FROM careloop_journey_definitions"
        )
    }


def worker_start(
    conn: Connection[Any], current: Catalog, file: JourneysFile, file_yaml: str | None
) -> tuple[model.Deployment, ...]:
    """The recorded deployments, after recording the worker's file as a worker-start deployment when it is not the
    latest's, or when its calendar journeys' dates differ from the latest's (an upgraded calendar library knows
    another year's official working days: every patient is woken to reschedule, engine/store/calendar_wake.py):
    the first ever is in force from the epoch; a later one right after the latest recorded engine decision
    (and the latest deployment), so it decides everything not decided yet, as a restarted worker always did, and
    changes nothing decided. It has the file's versions and rollouts and none of its migrations (only `careloop
    deploy` migrates, with a plan). A file behind the deployments, or changing a rollout's salt, is refused."""
    deployments.lock_head(conn)
    history = deployments.history(conn)
    latest = deployments.latest(conn)
    calendar_hash = current.calendar_hashes[0]  # the file's own deployment's, under the installed calendar library
    same_dates = latest is not None and not calendar_wake.calendar_changed(latest.calendar_hash, calendar_hash)
    if latest is not None and latest.file_hash == deployments.file_hash(file) and same_dates:
        return history
    own = current.deployments[0]  # the file's own: its versions, rollouts and migrations
    rules.check_not_behind(own, history, "the worker's journeys file")
    rules.check_rollout_salts(own, history)
    now = experiments.deployment_now(conn)
    decided = deployments.latest_decision(conn)
    effective = model.EPOCH if not history else max(history[-1].effective_at, decided or model.EPOCH) + TICK
    if own.directives:
        log.warning(
            "the worker's file has migrations a worker's start does not apply: `careloop deploy` it to apply them",
            migrations=len(own.directives),
        )
    started = dataclasses.replace(own, kind="worker-start", effective_at=effective, directives=())
    recorded = deployments.record(conn, started, file, now, file_yaml, calendar_hash=calendar_hash)
    if calendar_wake.calendar_changed(latest.calendar_hash if latest else None, calendar_hash):
        woken = calendar_wake.wake(conn, recorded)
        log.info("the calendar journeys' dates changed: every patient is rescheduled", woken=woken)
    return (*history, recorded)


def archived(stored: Mapping[tuple[str, int], tuple[str, Any]], file: JourneysFile) -> list[Journey]:
    """The recorded versions the journeys file does not hold: what running instances may still need."""
    held = {(j.id, j.version) for j in file.journeys}
    return [journey_of(d) for key, (_, d) in stored.items() if key not in held]


def file_of(current: Catalog) -> JourneysFile:
    """The journeys file a catalog was compiled from, but its deployment section (everything but the journeys is
    the current file's: outreach policy, templates, churn signals)."""
    return JourneysFile(
        settings=current.settings,
        outreach=current.outreach,
        value_sets=current.value_sets,
        journeys=list(current.versions.values()),
        templates=current.templates,
        churn=current.churn,
    )


def at_head(database_url: str) -> tuple[int, Catalog]:
    """The latest deployment's id and the catalog a worker decides with under it: its file, every recorded version,
    every recorded deployment (what a running worker reloads when a deploy moved the head)."""
    with connect(database_url, DEPLOY) as conn, conn.transaction():
        head = deployments.head(conn)
        latest = deployments.latest(conn)
        history = deployments.history(conn)
        stored = stored_versions(conn)
    if latest is None:
        raise model.DeploymentError("no deployment is recorded: a worker's start records the first")
    in_file = {(j.id, j.version) for j in latest.file.journeys}
    archive = [journey_of(d) for key, (_, d) in stored.items() if key not in in_file]
    return head, Catalog.from_file(latest.file, archive=archive, deployments=history)


def value_set_codes(value_sets: Mapping[str, ValueSet]) -> list[tuple[str, str | None, str, str]]:
    """Every value set's codes as (value_set, canonical system or None for any, code, match), each once."""
    rows: dict[tuple[str, str | None, str, str], None] = {}
    for name, value_set in value_sets.items():
        for part in value_set.parts:
            system = None if part.system is None else str(canonical_system(part.system))
            rows.update(dict.fromkeys((name, system, code, part.match) for code in part.codes))
    return list(rows)


def analytics(conn: Connection[Any], current: Catalog) -> None:
    """Replace the value sets' codes and the hospital's time zone with the deployed file's."""
    conn.execute("DELETE FROM careloop_value_set_codes")
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO careloop_value_set_codes (value_set, system, code, match) VALUES (%s, %s, %s, %s)",
            value_set_codes(current.value_sets),
        )
    conn.execute("DELETE FROM careloop_analytics_config")
    conn.execute(
        "INSERT INTO careloop_analytics_config (hospital_timezone) VALUES (%s)", (current.settings.hospital_timezone,)
    )


def journey_of(definition: Any) -> Journey:
    return Journey.model_validate(definition if isinstance(definition, dict) else json.loads(definition))
