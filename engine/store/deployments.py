"""Deployments as recorded: which journey versions new entries start on, the rollouts, and what happens to running
instances, each effective from a moment on the engine clock (engine/journeys/deployments.py is the pure model).

One row per deployment in careloop_deployments, ids 1, 2, ... in effective order, with the compiled journeys file
it came from (``file``: what a worker rebuilds its catalog from after a deploy; ``file_yaml``: the text as written,
when the deployer had it) and the plan printed when it was recorded. careloop_deployment_head holds the latest id:
`careloop deploy` and `rollout promote|rollback` take it FOR UPDATE, and every worker batch commit reads it FOR SHARE
(engine/store/recorder.py), so no batch decided under an older deployment commits after a newer one is recorded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Connection, Cursor

from engine.journeys import deployments as model
from engine.journeys.definition import JourneysFile
from engine.journeys.evolve import ENGINE_SOURCE
from engine.store.aggregate import RECORDED_TOPIC

TABLE, HEAD = "careloop_deployments", "careloop_deployment_head"
DDL = """
CREATE TABLE IF NOT EXISTS careloop_deployments (
    deployment_id bigint PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('deploy', 'worker-start', 'promote', 'rollback')),
    recorded_at   timestamptz NOT NULL,         -- on the engine clock (experiments.deployment_now)
    effective_at  timestamptz NOT NULL,
    by_login      text NOT NULL DEFAULT session_user,
    file_hash     text NOT NULL,                -- of the compiled file: layout and comments are no difference
    file          jsonb NOT NULL,               -- the compiled journeys file (JourneysFile), what workers reload
    file_yaml     text,                         -- the file as written, when the deployer had its text
    deployment    jsonb NOT NULL,               -- engine/journeys/deployments.py to_json
    plan          jsonb,                        -- the migration plan printed when it was recorded
    calendar_hash text                          -- see below
);
-- What the calendar journeys' dates depended on when it was recorded (engine/journeys/calendar_table.py hash_for:
-- their entries and the official working days the installed calendar library knows); NULL on rows recorded before
-- calendar journeys existed, whose files could hold none. Added only where it is missing: ALTER TABLE locks the
-- table against every reader, which a deploy's or a worker's start must not do each time.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'careloop_deployments' AND column_name = 'calendar_hash'
    ) THEN
        ALTER TABLE careloop_deployments ADD COLUMN calendar_hash text;
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS careloop_deployment_head (
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    deployment_id bigint NOT NULL
);
"""
HEAD_FOR_SHARE = "SELECT deployment_id FROM careloop_deployment_head WHERE id FOR SHARE"
# The latest engine decision's time, of the store's last events (the engine decides in the order of its clock, so
# the newest rows hold it; readable JSON: careloop configures no cipher or compressor, engine/store/applied.py).
LATEST_DECISION = """
SELECT max((p ->> 'occurred_at')::timestamptz)
FROM (SELECT state FROM careloop_events WHERE topic = %(topic)s ORDER BY notification_id DESC LIMIT %(last)s) e
CROSS JOIN LATERAL (SELECT convert_from(e.state, 'UTF8')::json -> 'payload' AS p) AS r
WHERE (p -> 'source' ->> 'system') = %(engine)s
"""
COLUMNS = (
    "deployment_id, kind, recorded_at, effective_at, by_login, file_hash, file, file_yaml, deployment, plan, "
    "calendar_hash"
)


class DeploymentMovedError(Exception):
    """A batch decided under one deployment met a newer head at its commit: nothing of it was committed."""

    def __init__(self, decided_under: int, head: int) -> None:
        super().__init__(f"the batch was decided under deployment {decided_under}, the head is {head} now")
        self.head = head


@dataclass(frozen=True, slots=True)
class Recorded:
    """One row of careloop_deployments."""

    deployment: model.Deployment
    recorded_at: datetime
    by_login: str
    file_hash: str
    file: JourneysFile
    file_yaml: str | None
    plan: Mapping[str, Any] | None
    calendar_hash: str | None = None  # None: recorded before calendar journeys existed (none in its file)


def file_json(file: JourneysFile) -> dict[str, Any]:
    return file.model_dump(mode="json", by_alias=True)


def file_hash(file: JourneysFile) -> str:
    canonical = json.dumps(file_json(file), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def lock_head(conn: Connection[Any]) -> int:
    """The latest deployment id (0: none yet), its row locked until the transaction ends: one deployer at a time,
    and the workers' batch commits wait for it (they read the head FOR SHARE)."""
    row = conn.execute("SELECT deployment_id FROM careloop_deployment_head WHERE id FOR UPDATE").fetchone()
    return 0 if row is None else int(row[0])


def head(conn: Connection[Any]) -> int:
    row = conn.execute("SELECT deployment_id FROM careloop_deployment_head WHERE id").fetchone()
    return 0 if row is None else int(row[0])


def check_head(curs: Cursor[Any], decided_under: int) -> None:
    """DeploymentMovedError when the head is not the deployment the batch was decided under (a batch commit's)."""
    row = curs.execute(HEAD_FOR_SHARE, prepare=True).fetchone()
    found = 0 if row is None else int(row[0] if not isinstance(row, Mapping) else row["deployment_id"])
    if found != decided_under:
        raise DeploymentMovedError(decided_under, found)


def record(
    conn: Connection[Any],
    deployment: model.Deployment,
    file: JourneysFile,
    recorded_at: datetime,
    file_yaml: str | None = None,
    plan: Mapping[str, Any] | None = None,
    calendar_hash: str | None = None,
) -> model.Deployment:
    """Record ``deployment`` as the next one (its id given here) and move the head to it; call with the head
    locked (lock_head) in the transaction that records the rest of the deployment. ``calendar_hash``: its calendar
    journeys' (the catalog's, for this deployment)."""
    new = dataclasses.replace(deployment, deployment_id=lock_head(conn) + 1)
    conn.execute(
        "INSERT INTO careloop_deployments (deployment_id, kind, recorded_at, effective_at, file_hash, file, "
        "file_yaml, deployment, plan, calendar_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            new.deployment_id,
            new.kind,
            recorded_at,
            new.effective_at,
            file_hash(file),
            json.dumps(file_json(file)),
            file_yaml,
            json.dumps(model.to_json(new)),
            None if plan is None else json.dumps(plan),
            calendar_hash,
        ),
    )
    conn.execute(
        "INSERT INTO careloop_deployment_head (id, deployment_id) VALUES (true, %s) "
        "ON CONFLICT (id) DO UPDATE SET deployment_id = EXCLUDED.deployment_id",
        (new.deployment_id,),
    )
    return new


def rows(conn: Connection[Any]) -> list[Recorded]:
    """Every recorded deployment, in order."""
    found = conn.execute(f"SELECT {COLUMNS} FROM careloop_deployments ORDER BY deployment_id").fetchall()
    return [_recorded(r) for r in found]


def history(conn: Connection[Any]) -> tuple[model.Deployment, ...]:
    return tuple(r.deployment for r in rows(conn))


def latest(conn: Connection[Any]) -> Recorded | None:
    found = conn.execute(f"SELECT {COLUMNS} FROM careloop_deployments ORDER BY deployment_id DESC LIMIT 1").fetchone()
    return None if found is None else _recorded(found)


def latest_decision(conn: Connection[Any], last: int = 1000) -> datetime | None:
    """The time of the latest engine decision among the store's ``last`` events (None: none, or no store yet)."""
    if conn.execute("SELECT to_regclass('careloop_events') IS NULL").fetchall() == [(True,)]:
        return None
    row = conn.execute(LATEST_DECISION, {"topic": RECORDED_TOPIC, "last": last, "engine": ENGINE_SOURCE}).fetchone()
    return None if row is None else row[0]


def _recorded(row: Any) -> Recorded:
    _, _, recorded_at, _, by_login, hashed, file, file_yaml, deployment, plan, calendar_hash = row
    return Recorded(
        deployment=model.from_json(_json(deployment)),
        recorded_at=recorded_at,
        by_login=str(by_login),
        file_hash=str(hashed),
        file=JourneysFile.model_validate(_json(file)),
        file_yaml=file_yaml,
        plan=None if plan is None else _json(plan),
        calendar_hash=None if calendar_hash is None else str(calendar_hash),
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value
