"""What the relationship inputs decide, beyond the fold: a link the core will not keep is refused with its reason, and
what the other side must know crosses to them as a hand-over (design §2.1): a relative who is a patient learns they
were linked; when either side dies or is erased, the other side's link ends. Pure.
"""

from __future__ import annotations

from typing import Any

from engine.journeys.effects import HandOver
from engine.journeys.family_state import FamilyState
from engine.journeys.run import Run
from engine.journeys.state import PatientState
from events import relationships as rs
from events.base import Event, Source
from events.patient import PatientDeceased, PatientErased

HANDED_OVER_BY = "careloop-family"  # the source system of the hand-overs between a patient and their relatives


def family_of(state: PatientState) -> FamilyState | None:
    family = state.family
    return family if isinstance(family, FamilyState) else None


def after_input(run: Run, event: Event, before: PatientState) -> None:
    """A recorded link the fold did not keep is refused; a new link to a patient is handed to them; a death ends
    the links naming the patient on their subjects' side."""
    if isinstance(event, rs.RelationshipRecorded):
        _recorded(run, event, family_of(before))
    elif isinstance(event, PatientDeceased):
        hand_ended(run, event, "relative_deceased")


def _recorded(run: Run, event: rs.RelationshipRecorded, before: FamilyState | None) -> None:
    family = family_of(run.state)
    if family is not None and event.relation_id in family.relations:
        known = before is not None and event.relation_id in before.relations
        if event.related_patient_id is not None and not known:
            to, subject = event.related_patient_id, run.state.patient_id
            fields = {"subject_patient_id": subject, "relation_id": event.relation_id, "role": event.role}
            run.effect(HandOver(to, (_handed(run, rs.RelationshipLinked, to, event, event.relation_id, **fields),)))
        return
    self_relation = event.related_patient_id == run.state.patient_id
    reason = "self_relation" if self_relation else "too_many_relations"
    run.emit(rs.RelationshipRefused, relation_id=event.relation_id, reason=reason, recorded_event_id=event.event_id)


def hand_ended(run: Run, cause: Event, reason: rs.EndReason) -> None:
    """This patient died or was erased (``reason``: relative_deceased or relative_erased): each link naming them ends
    on its subject's side. Erased, each of their own links to a relative who is a patient ends on the relative's side
    too (subject_erased)."""
    family = family_of(run.state)
    if family is None:
        return
    sides: list[tuple[str, str, rs.EndReason]] = [
        (x.subject_patient_id, x.relation_id, reason) for x in family.relative_of
    ]
    if isinstance(cause, PatientErased):
        sides += [
            (r.related_patient_id, r.relation_id, "subject_erased")
            for r in family.relations.values()
            if r.related_patient_id
        ]
    for to, relation_id, why in sides:
        ended = _handed(run, rs.RelationshipEnded, to, cause, relation_id, relation_id=relation_id, reason=why)
        run.effect(HandOver(to, (ended,)))


def _handed(run: Run, cls: type[Event], to: str, cause: Event, link: str, **fields: Any) -> Any:
    """An input for the other side, identified by its cause and the link (the same cause hands over the same id)."""
    source = Source(system=HANDED_OVER_BY, message_id=cause.event_id)
    return cls.create(source=source, discriminator=f"{to}:{link}", patient_id=to, occurred_at=run.now,
                      recorded_at=run.now, causation_id=cause.event_id, **fields)  # fmt: skip
