"""relationship.* -> relationships and relationship_consents rows. Pure.

A link is a row keyed by (subject, relation_id): recorded again it is updated (role, codes, household), never
ended by a later record that leaves it out; ``relationship.ended`` and ``relationship.erased`` end it (a record
after that starts it again without consent, as the core does: consent ends with the link). ``relationship.refused``
(a 17th link, a patient named as their own relative) takes back the row its record made, and only that record's.
Consent is kept per purpose and kind of information, each row naming the grant that set it; a withdrawal deletes
the rows it names (no information: every kind for those purposes). The core ignores a grant for a link not active;
its rows here mean nothing either: read consents through active links (``relationships.active``). Names and
contacts never come here (they are sealed in the event).
"""

from __future__ import annotations

from datetime import date

from events import relationships as rs
from events.base import Event
from projections.base import Projection
from projections.ops import Delete, Op, Update, Upsert

LINKS = "relationships"
CONSENTS = "relationship_consents"


def changes(e: Event, seq: int = 0) -> list[Op]:
    """The row operations for one event (``seq``, its place in the log, is not needed here)."""
    if isinstance(e, rs.RelationshipRecorded):
        return [_recorded(e)]
    if isinstance(e, rs.RelationshipRefused):
        # only the row this record made: a refused record never took back a link kept before
        made = {"patient_id": e.patient_id, "relation_id": e.relation_id, "recorded_event_id": e.recorded_event_id}
        return [Delete(LINKS, made)] if e.recorded_event_id else []
    if isinstance(e, rs.RelationshipEnded):
        return _ended(e, e.relation_id, e.reason, e.ended_at)
    if isinstance(e, rs.RelationshipErased):
        return _ended(e, e.relation_id, "relation_erased", None)
    if isinstance(e, rs.RelationshipConsentGranted):
        active = {"patient_id": e.patient_id, "relation_id": e.relation_id, "active": True}
        return [*_granted(e), Update(LINKS, {"delivery": e.delivery}, active)]
    if isinstance(e, rs.RelationshipConsentWithdrawn):
        return _withdrawn(e)
    return []


def _ended(e: Event, relation_id: str, reason: str, on: date | None) -> list[Op]:
    """The link ends and its consent goes with it, as in the core: a later record starts a link with none."""
    where = {"patient_id": e.patient_id, "relation_id": relation_id}
    ended = {"active": False, "ended_at": e.occurred_at, "ended_on": on, "end_reason": reason, "delivery": None}
    return [Update(LINKS, ended, where), Delete(CONSENTS, where)]


def _recorded(e: rs.RelationshipRecorded) -> Upsert:
    row = {
        "patient_id": e.patient_id,
        "relation_id": e.relation_id,
        "role": e.role,
        "role_code": e.role_code,
        "role_system": e.role_system,
        "legal_guardian": e.legal_guardian,
        "related_patient_id": e.related_patient_id,
        "household_id": e.household_id,
        "language": e.person.language,
        "timezone": e.person.timezone,
        "since": e.since,
        "recorded_at": e.occurred_at,
        "recorded_event_id": e.event_id,
        "delivery": None,
        "active": True,
        "ended_at": None,
        "ended_on": None,
        "end_reason": None,
    }
    return Upsert(LINKS, ("patient_id", "relation_id"), row, keep=("delivery",))


def _granted(e: rs.RelationshipConsentGranted) -> list[Op]:
    base = {
        "patient_id": e.patient_id,
        "relation_id": e.relation_id,
        "delivery": e.delivery,
        "granted_by": e.granted_by,
        "basis_ref": e.basis_ref,
        "expires_on": e.expires_on,
        "granted_at": e.occurred_at,
        "event_id": e.event_id,
    }
    key = ("patient_id", "relation_id", "purpose", "information")
    return [
        Upsert(CONSENTS, key, {**base, "purpose": purpose, "information": information})
        for purpose in e.purposes
        for information in e.information
    ]


def _withdrawn(e: rs.RelationshipConsentWithdrawn) -> list[Op]:
    where = {"patient_id": e.patient_id, "relation_id": e.relation_id}
    if not e.information:
        return [Delete(CONSENTS, {**where, "purpose": purpose}) for purpose in e.purposes]
    return [
        Delete(CONSENTS, {**where, "purpose": purpose, "information": information})
        for purpose in e.purposes
        for information in e.information
    ]


PROJECTION = Projection(
    name="relationships",
    tables=(LINKS, CONSENTS),
    changes=changes,
    reads=(
        rs.RelationshipRecorded,
        rs.RelationshipRefused,
        rs.RelationshipEnded,
        rs.RelationshipErased,
        rs.RelationshipConsentGranted,
        rs.RelationshipConsentWithdrawn,
    ),
    package=__package__ or __name__,
)
