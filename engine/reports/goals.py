"""The funnel's last stage needs each journey's goal outcomes, which the catalog holds, not the database: the outcome
a goal records is its `outcome`, else its event's type (engine/journeys/entry.py)."""

from __future__ import annotations

from engine.journeys.catalog import Catalog


def goal_outcomes(catalog: Catalog) -> dict[str, list[str]]:
    """The options the funnel's SQL takes: two parallel lists of (journey, goal outcome), over every version."""
    pairs = sorted({(j.id, rule.outcome or rule.event) for j in catalog.versions.values() for rule in j.goals})
    return {"goal_journeys": [p[0] for p in pairs], "goal_outcomes": [p[1] for p in pairs]}
