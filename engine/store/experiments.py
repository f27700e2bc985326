"""The global holdout as deployed, kept in PostgreSQL (careloop_experiments), so the analytics views count exposures
and leakage by what the engine applied, also after the journeys file no longer configures it.

A holdout's arms are drawn from its salt and share alone (engine/journeys/assignment.py): the same id with another
salt or share would move patients between arms without a trace, so such a deploy is refused and the deployer
chooses a new id. Its categories, exempt journeys and pre-empt priority may change: the row is updated (updated_at),
and the views apply the latest recorded values to the whole experiment (docs/journeys.md). A holdout the file no
longer configures keeps its row (old assignments keep their definition), marked switched off.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection

from engine.journeys.errors import JourneyError
from engine.journeys.policy import OutreachPolicy

TABLE = "careloop_experiments"
DDL = """
CREATE TABLE IF NOT EXISTS careloop_experiments (
    id                text PRIMARY KEY,
    kind              text NOT NULL CHECK (kind = 'global_holdout'),
    salt              text NOT NULL,
    share_bp          integer NOT NULL CHECK (share_bp > 0 AND share_bp < 10000),
    categories        text[] NOT NULL,
    exempt_journeys   text[] NOT NULL,
    preempt_priority  integer NOT NULL,
    first_deployed_at timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),  -- the last deploy that changed it
    switched_off_at   timestamptz  -- the first deploy without it; NULL while the journeys file configures it
)
"""

UPSERT = """
INSERT INTO careloop_experiments (id, kind, salt, share_bp, categories, exempt_journeys, preempt_priority)
VALUES (%(id)s, 'global_holdout', %(salt)s, %(share_bp)s, %(categories)s, %(exempt)s, %(priority)s)
ON CONFLICT (id) DO UPDATE
SET categories = EXCLUDED.categories, exempt_journeys = EXCLUDED.exempt_journeys,
    preempt_priority = EXCLUDED.preempt_priority, switched_off_at = NULL, updated_at = now()
WHERE (careloop_experiments.categories, careloop_experiments.exempt_journeys, careloop_experiments.preempt_priority)
      IS DISTINCT FROM (EXCLUDED.categories, EXCLUDED.exempt_journeys, EXCLUDED.preempt_priority)
   OR careloop_experiments.switched_off_at IS NOT NULL
"""
SWITCH_OFF = """
UPDATE careloop_experiments SET switched_off_at = %(at)s, updated_at = now()
WHERE switched_off_at IS NULL AND id IS DISTINCT FROM %(kept)s
"""
# The deployment's "now", as analytics.as_of reads it: careloop_clock (the demo's and the tests' moving time), else
# now(). switched_off_at is compared with event times (a message approved before it counts as an exposure), so it
# must be on their clock. The clock table belongs to the event store's tables and may not exist yet.
DEPLOYMENT_NOW = "SELECT coalesce((SELECT c.now FROM careloop_clock c WHERE c.id), now())"


class HoldoutChangedError(JourneyError):
    """A deploy keeps a global holdout's id but changes its salt or share (which would move patients between arms)."""


def record(conn: Connection[Any], policy: OutreachPolicy) -> None:
    """Record the file's global holdout (refused: the same id with another salt or share) and mark every other
    recorded one switched off. Nothing configured: nothing is written but the switching off."""
    row = holdout_row(policy)
    if row is not None:
        found = conn.execute("SELECT salt, share_bp FROM careloop_experiments WHERE id = %s", (row["id"],)).fetchone()
        if found is not None:
            check_same_draw(row["id"], (str(found[0]), int(found[1])), (row["salt"], row["share_bp"]))
        conn.execute(UPSERT, row)
    conn.execute(SWITCH_OFF, {"at": deployment_now(conn), "kept": None if row is None else row["id"]})


def deployment_now(conn: Connection[Any]) -> datetime:
    """careloop_clock's moment where the deployment keeps one, else the database's now()."""
    has_clock = conn.execute("SELECT to_regclass('careloop_clock') IS NOT NULL").fetchall() == [(True,)]
    ((moment,),) = conn.execute(DEPLOYMENT_NOW if has_clock else "SELECT now()").fetchall()
    return moment  # type: ignore[no-any-return]


def holdout_row(policy: OutreachPolicy) -> dict[str, Any] | None:
    """The file's global holdout as careloop_experiments records it (UPSERT's parameters); None when off."""
    holdout = policy.global_holdout
    if holdout is None:
        return None
    return {
        "id": holdout.id,
        "salt": holdout.salt,
        "share_bp": holdout.share_bp,
        "categories": sorted(holdout.categories),
        "exempt": sorted(holdout.exempt_journeys),
        "priority": policy.preempt_priority,
    }


def check_same_draw(experiment: str, recorded: tuple[str, int], deployed: tuple[str, int]) -> None:
    """HoldoutChangedError when the deployed (salt, share in basis points) is not the recorded one."""
    # the salt is no patient data, but naming it as changed is enough to act on
    changed = [
        what
        for what, before, after in (
            ("its salt", recorded[0], deployed[0]),
            (f"its share ({recorded[1] / 100:g} % -> {deployed[1] / 100:g} %)", recorded[1], deployed[1]),
        )
        if before != after
    ]
    if changed:
        raise HoldoutChangedError(
            f"outreach.global_holdout {experiment}: the journeys file changes {' and '.join(changed)} of the deployed "
            "holdout, which would move patients between its arms: give the changed holdout a new id"
        )
