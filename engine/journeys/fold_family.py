"""How the relationship events change a patient's family: links, their separate consent per purpose and kind of
information, and the relative's own channel choices. The fields of the state each changes, for ``evolve``. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from engine.journeys.family_state import (
    RELATION_KEPT_ENDED,
    RELATIONS_KEPT,
    RELATIVE_OF_KEPT,
    FamilyState,
    Grant,
    Relation,
    RelativeOf,
    Withdrawal,
    scope_key,
)
from engine.journeys.state import PatientState
from events import journey as jo
from events import outreach as ou
from events import relationships as rs
from events.base import Event

if TYPE_CHECKING:
    from engine.journeys.fold_inputs import Changes

# The relationship events that change the family (relationship.refused changes nothing: the link was never kept).
FAMILY_EVENTS = (
    rs.RelationshipRecorded,
    rs.RelationshipEnded,
    rs.RelationshipConsentGranted,
    rs.RelationshipConsentWithdrawn,
    rs.RelationshipLinked,
    rs.RelationshipErased,
)
_CHANNELS = ("sms", "wechat", "email", "app", "phone")
# A relative's own choice of channels: a form or the care team (consent.*), or their reply (consent.*_by_reply).
_CHANNEL_CHOICES = (ou.ConsentGranted, ou.ConsentWithdrawn, jo.ConsentWithdrawnByReply, jo.ConsentGrantedByReply)


def is_family_event(event: Event) -> bool:
    """A relationship event, or a relative's own channel choice (consent.granted|withdrawn with a relation_id, or
    a stop word the relative replied to their copy with)."""
    if isinstance(event, FAMILY_EVENTS):
        return True
    return isinstance(event, _CHANNEL_CHOICES) and event.relation_id is not None


def family_changes(state: PatientState, event: Event) -> Changes:
    family = state.family if isinstance(state.family, FamilyState) else FamilyState()
    if isinstance(event, rs.RelationshipRecorded) and event.related_patient_id == state.patient_id:
        return {}  # refused (self_relation): a patient is not their own relative
    after = _changed(family, event)
    if after is family:
        return {}
    return {"family": None if after.empty else after}


def _changed(family: FamilyState, event: Event) -> FamilyState:
    match event:
        case rs.RelationshipRecorded():
            return _recorded(family, event)
        case rs.RelationshipEnded():
            return _ended(family, event.relation_id, event.reason)
        case rs.RelationshipErased():
            return _ended(family, event.relation_id, f"relation erased ({event.reason})")
        case rs.RelationshipConsentGranted():
            return _with(family, event.relation_id, lambda r: _granted(r, event))
        case rs.RelationshipConsentWithdrawn():
            return _with(family, event.relation_id, lambda r: _withdrawn(r, event))
        case rs.RelationshipLinked():
            return _linked(family, event)
        case ou.ConsentGranted() | ou.ConsentWithdrawn() if event.relation_id is not None:
            return _with(family, event.relation_id, lambda r: _channel_choice(r, event))
        case jo.ConsentWithdrawnByReply() | jo.ConsentGrantedByReply() if event.relation_id is not None:
            return _with(family, event.relation_id, lambda r: _replied(r, event))
    return family


def _with(family: FamilyState, relation_id: str, change: Any) -> FamilyState:
    """``family`` with one active link changed; a change for a link not (or no longer) kept changes nothing."""
    relation = family.relations.get(relation_id)
    if relation is None:
        return family
    return replace(family, relations=MappingProxyType({**family.relations, relation_id: change(relation)}))


def _recorded(family: FamilyState, e: rs.RelationshipRecorded) -> FamilyState:
    """A new link, or a source's update of a known one (role, language, zone, address): its consent stays."""
    old = family.relations.get(e.relation_id)
    if old is None and len(family.relations) >= RELATIONS_KEPT:
        return family  # the decision refused it (relationship.refused); the fold never drops one silently
    person = e.person
    relation = Relation(
        relation_id=e.relation_id,
        role=e.role,
        legal_guardian=e.legal_guardian,
        related_patient_id=e.related_patient_id,
        household_id=e.household_id,
        language=person.language if person else None,
        timezone=person.timezone if person else None,
        reachable=_reachable(person.contact if person else None, e.related_patient_id),
        since=e.since,
    )
    if old is not None:
        relation = replace(relation, grants=old.grants, withdrawn=old.withdrawn, delivery=old.delivery)
        relation = replace(relation, channel_choices=old.channel_choices)
    ended = {k: v for k, v in family.ended.items() if k != e.relation_id}
    relations = MappingProxyType({**family.relations, e.relation_id: relation})
    return replace(family, relations=relations, ended=MappingProxyType(ended))


def _reachable(contact: Any, related_patient_id: str | None) -> frozenset[str] | None:
    """The channels the relative has an address for. A relative who is a patient and has no address of their own
    here is reached through their own record, which this patient's core cannot see: not known (None)."""
    found = set()
    if contact is not None:
        if contact.phone:
            found |= {"sms", "phone"}
        if contact.email:
            found.add("email")
        if contact.wechat_openid:
            found.add("wechat")
    if not found and related_patient_id is not None:
        return None
    return frozenset(found)


def _ended(family: FamilyState, relation_id: str, reason: str) -> FamilyState:
    """The link ends on the subject's side; on the relative's side (a hand-over), they are no longer its relative."""
    if relation_id not in family.relations:
        others = tuple(x for x in family.relative_of if x.relation_id != relation_id)
        return family if len(others) == len(family.relative_of) else replace(family, relative_of=others)
    relations = {k: v for k, v in family.relations.items() if k != relation_id}
    ended = {**family.ended, relation_id: reason}
    kept = dict(list(ended.items())[-RELATION_KEPT_ENDED:])
    return replace(family, relations=MappingProxyType(relations), ended=MappingProxyType(kept))


def _granted(r: Relation, e: rs.RelationshipConsentGranted) -> Relation:
    keys = [scope_key(p, i) for p in e.purposes for i in e.information]
    grant = Grant(event_id=e.event_id, at=e.occurred_at, expires_on=e.expires_on)
    grants = MappingProxyType({**r.grants, **dict.fromkeys(keys, grant)})
    withdrawn = _without(r.withdrawn, keys)
    return replace(r, grants=grants, withdrawn=withdrawn, delivery=e.delivery)


def _withdrawn(r: Relation, e: rs.RelationshipConsentWithdrawn) -> Relation:
    """Withdraws the listed purposes for the listed kinds of information (none listed: every kind)."""
    keys = [k for k in r.grants if _covers(k, e.purposes, e.information)]
    if not keys:
        return r
    mark = Withdrawal(event_id=e.event_id, at=e.occurred_at)
    withdrawn = MappingProxyType({**r.withdrawn, **dict.fromkeys(keys, mark)})
    return replace(r, grants=_without(r.grants, keys), withdrawn=withdrawn)


def _covers(key: str, purposes: tuple[str, ...] | list[str], information: tuple[str, ...] | list[str]) -> bool:
    purpose, kind = key.split("/", 1)
    return (not purposes or purpose in purposes) and (not information or kind in information)


def _without(mapping: Mapping[str, Any], keys: list[str]) -> Mapping[str, Any]:
    return MappingProxyType({k: v for k, v in mapping.items() if k not in keys})


def _channel_choice(r: Relation, e: ou.ConsentGranted | ou.ConsentWithdrawn) -> Relation:
    channels = _CHANNELS if e.channel == "all" else (e.channel,)
    granted = isinstance(e, ou.ConsentGranted)
    choices = MappingProxyType({**r.channel_choices, **{f"{e.purpose}/{c}": granted for c in channels}})
    return replace(r, channel_choices=choices)


def _replied(r: Relation, e: jo.ConsentWithdrawnByReply | jo.ConsentGrantedByReply) -> Relation:
    """The relative's stop (or start) word: their choice for each purpose on the channel they replied on."""
    granted = isinstance(e, jo.ConsentGrantedByReply)
    choices = MappingProxyType({**r.channel_choices, **{f"{p}/{e.channel}": granted for p in e.purposes}})
    return replace(r, channel_choices=choices)


def _linked(family: FamilyState, e: rs.RelationshipLinked) -> FamilyState:
    link = RelativeOf(e.subject_patient_id, e.relation_id, e.role)
    others = tuple(x for x in family.relative_of if x.relation_id != e.relation_id)
    return replace(family, relative_of=(*others, link)[-RELATIVE_OF_KEPT:])
