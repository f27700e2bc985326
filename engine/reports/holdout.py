"""The journeys file's global holdout, for the leakage check of a holdout the database has no record of.

The check reads each global holdout's configuration from analytics.experiments (what the worker's deployments
recorded: engine/store/experiments.py), also one the journeys file no longer configures; these options stand in
only where the database predates that record (engine/reports/sql/experiment_leakage_global.sql). They name the
experiment, the categories it holds out, the exempt journeys and the priority that pre-empts it (engine/journeys/
outreach.py `_global_holdout` applies the same three)."""

from __future__ import annotations

from typing import Any

from engine.journeys.catalog import Catalog


def holdout_options(catalog: Catalog) -> dict[str, Any]:
    """The options the experiment report's leakage SQL takes; no global holdout in the file: only recorded ones."""
    holdout = catalog.outreach.global_holdout
    if holdout is None:
        return {"global_holdout": None, "held_categories": [], "exempt_journeys": [], "preempt_priority": None}
    return {
        "global_holdout": holdout.id,
        "held_categories": sorted(holdout.categories),
        "exempt_journeys": sorted(holdout.exempt_journeys),
        "preempt_priority": catalog.outreach.preempt_priority,
    }
