"""The global holdout's leakage check needs what the journeys file configures and the database does not hold: which
experiment it is, the categories it holds out, the exempt journeys and the priority that pre-empts it
(engine/journeys/outreach.py `_global_holdout` applies the same three)."""

from __future__ import annotations

from typing import Any

from engine.journeys.catalog import Catalog


def holdout_options(catalog: Catalog) -> dict[str, Any]:
    """The options the experiment report's leakage SQL takes; no global holdout configured: nothing is checked."""
    holdout = catalog.outreach.global_holdout
    if holdout is None:
        return {"global_holdout": None, "held_categories": [], "exempt_journeys": [], "preempt_priority": None}
    return {
        "global_holdout": holdout.id,
        "held_categories": sorted(holdout.categories),
        "exempt_journeys": sorted(holdout.exempt_journeys),
        "preempt_priority": catalog.outreach.preempt_priority,
    }
