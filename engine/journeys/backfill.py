"""A backfill's rule: years of history fed through the core, with nothing sent for the past. Pure.

`careloop backfill FILE --as-of T` (engine/cli/backfill.py, engine/worker/backfill.py) decides the history as the
live worker would (each event at its arrival, each timer at its due time), under a catalog whose ``outreach_from``
is the as-of: a message policy would approve or defer before it is suppressed instead (rule "backfill",
engine/journeys/outreach.py), so no approval in the past reaches the dispatcher; then every patient's timers due by
the as-of are fired. At the as-of each journey stands where the live run's would; what falls due after it is
decided by the live worker, under the ordinary catalog, and sent.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from engine.journeys.catalog import Catalog
from events.base import Event


class BackfillError(ValueError):
    """History a backfill cannot take as it is (the message says which event and why)."""


def backfilling(catalog: Catalog, as_of: datetime) -> Catalog:
    """The catalog to decide history with: ``catalog`` with outreach held before ``as_of``."""
    if as_of.tzinfo is None:
        raise BackfillError("the backfill's as-of needs a time zone (an offset such as +08:00, or Z)")
    return replace(catalog, outreach_from=as_of)


def not_history(event: Event, as_of: datetime) -> str | None:
    """Why ``event`` cannot be backfilled, or None: recorded after the as-of, it is not history yet and belongs on
    the live feed. Names the field, never the patient."""
    if event.recorded_at <= as_of:
        return None
    return (
        f"recorded_at {event.recorded_at.isoformat()} is after the as-of {as_of.isoformat()} "
        "(publish it to the live feed instead)"
    )
