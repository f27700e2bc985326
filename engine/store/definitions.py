"""Every journey version ever deployed, kept in PostgreSQL, so running instances finish on their own version.

Deploying journeys.yaml records each (journey, version) with its content hash. A running instance that started
on version 1 keeps running version 1 after version 2 is deployed. Changing a journey without bumping its
version is refused: it would silently change what running patients get.

The same transaction replaces what the analytics views (engine/access/analytics_1_visits.sql) read of the file:
every value set's codes (a visit's diagnosis groups are matched at query time, so a value set changed in a new
deploy needs no rebuild) and the hospital's time zone (where a day begins, for "the same day" and "within 30 days"),
and records the global holdout (engine/store/experiments.py: a changed salt or share under the same id is refused).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from psycopg import Connection

from engine.access.ownership import migrates
from engine.journeys.catalog import Catalog
from engine.journeys.definition import Journey, JourneysFile
from engine.journeys.errors import JourneyError
from engine.journeys.valuesets import ValueSet, canonical_system
from engine.plumbing.connections import connect
from engine.store import experiments

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
DDL += experiments.DDL
VALUE_SETS, ANALYTICS_CONFIG = "careloop_value_set_codes", "careloop_analytics_config"


DEPLOY = "careloop-deploy"  # the application_name of the connection recording the journeys


class VersionNotBumpedError(JourneyError):
    """A journey's steps (or value sets) changed but its version did not."""


def deploy(database_url: str, current: Catalog) -> Catalog:
    """Record the catalog's journeys and return a catalog that also holds every earlier version."""
    with connect(database_url, DEPLOY) as conn, conn.transaction():
        if migrates(conn, (TABLE, VALUE_SETS, ANALYTICS_CONFIG, experiments.TABLE), "the worker's journey deployment"):
            conn.execute(DDL)
        conn.execute("LOCK TABLE careloop_journey_definitions IN SHARE ROW EXCLUSIVE MODE")
        stored = {
            (str(j), int(v)): (str(h), d)
            for j, v, h, d in conn.execute(
                "SELECT journey_id, version, content_hash, definition FROM careloop_journey_definitions"
            )
        }
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
        experiments.record(conn, current.outreach)
        _analytics(conn, current)
    archive = [_journey(d) for key, (_, d) in stored.items() if key not in current.versions]
    # Everything but the journeys is the current file's (outreach policy, templates, churn signals).
    file = JourneysFile(
        settings=current.settings,
        outreach=current.outreach,
        value_sets=current.value_sets,
        journeys=list(current.versions.values()),
        templates=current.templates,
        churn=current.churn,
    )
    return Catalog.from_file(file, archive=archive)


def value_set_codes(value_sets: Mapping[str, ValueSet]) -> list[tuple[str, str | None, str, str]]:
    """Every value set's codes as (value_set, canonical system or None for any, code, match), each once."""
    rows: dict[tuple[str, str | None, str, str], None] = {}
    for name, value_set in value_sets.items():
        for part in value_set.parts:
            system = None if part.system is None else str(canonical_system(part.system))
            rows.update(dict.fromkeys((name, system, code, part.match) for code in part.codes))
    return list(rows)


def _analytics(conn: Connection[Any], current: Catalog) -> None:
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


def _journey(definition: Any) -> Journey:
    return Journey.model_validate(definition if isinstance(definition, dict) else json.loads(definition))
