"""Every projection, by name, in the order the runner applies them."""

from __future__ import annotations

from projections.base import Projection
from projections.calendar_campaigns.projection import PROJECTION as CALENDAR_CAMPAIGNS
from projections.checkin_series.projection import PROJECTION as CHECKIN_SERIES
from projections.churn_flags.projection import PROJECTION as CHURN_FLAGS
from projections.engagement.projection import PROJECTION as ENGAGEMENT
from projections.errors import UnknownProjectionError
from projections.experiments.projection import PROJECTION as EXPERIMENTS
from projections.households.projection import PROJECTION as HOUSEHOLDS
from projections.journey_instances.projection import PROJECTION as JOURNEY_INSTANCES
from projections.loyalty_ledger.projection import PROJECTION as LOYALTY_LEDGER
from projections.loyalty_members.projection import PROJECTION as LOYALTY_MEMBERS
from projections.patient_profiles.projection import PROJECTION as PATIENT_PROFILES
from projections.patient_timeline.projection import PROJECTION as PATIENT_TIMELINE
from projections.referrals.projection import PROJECTION as REFERRALS
from projections.relationships.projection import PROJECTION as RELATIONSHIPS
from projections.reminder_queue.projection import PROJECTION as REMINDER_QUEUE
from projections.tasks.projection import PROJECTION as TASKS
from projections.visits.projection import PROJECTION as VISITS

PROJECTIONS: tuple[Projection, ...] = (
    REMINDER_QUEUE,
    CHURN_FLAGS,
    JOURNEY_INSTANCES,
    TASKS,
    PATIENT_TIMELINE,
    PATIENT_PROFILES,
    ENGAGEMENT,
    EXPERIMENTS,
    VISITS,
    LOYALTY_MEMBERS,
    LOYALTY_LEDGER,
    REFERRALS,
    RELATIONSHIPS,
    HOUSEHOLDS,
    CALENDAR_CAMPAIGNS,
    CHECKIN_SERIES,
)


def select(name: str | None) -> tuple[Projection, ...]:
    """All projections, or the one named; an unknown name is an error that lists the known ones."""
    if name is None:
        return PROJECTIONS
    for p in PROJECTIONS:
        if p.name == name:
            return (p,)
    raise UnknownProjectionError(name, [p.name for p in PROJECTIONS])
