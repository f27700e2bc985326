"""Every journey version ever deployed, kept in PostgreSQL, so running instances finish on their own version.

Deploying journeys.yaml records each (journey, version) with its content hash. A running instance that started
on version 1 keeps running version 1 after version 2 is deployed. Changing a journey without bumping its
version is refused: it would silently change what running patients get.
"""

from __future__ import annotations

import json
from typing import Any

from engine.access.ownership import migrates
from engine.journeys.catalog import Catalog
from engine.journeys.definition import Journey, JourneysFile
from engine.journeys.errors import JourneyError
from engine.plumbing.connections import connect

TABLE = "careloop_journey_definitions"
DDL = """
CREATE TABLE IF NOT EXISTS careloop_journey_definitions (
    journey_id   text    NOT NULL,
    version      integer NOT NULL,
    content_hash text    NOT NULL,
    definition   jsonb   NOT NULL,
    deployed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (journey_id, version)
)
"""


DEPLOY = "careloop-deploy"  # the application_name of the connection recording the journeys


class VersionNotBumpedError(JourneyError):
    """A journey's steps (or value sets) changed but its version did not."""


def deploy(database_url: str, current: Catalog) -> Catalog:
    """Record the catalog's journeys and return a catalog that also holds every earlier version."""
    with connect(database_url, DEPLOY) as conn, conn.transaction():
        if migrates(conn, (TABLE,), "the worker's journey deployment"):
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


def _journey(definition: Any) -> Journey:
    return Journey.model_validate(definition if isinstance(definition, dict) else json.loads(definition))
