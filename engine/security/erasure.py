"""Erasing a patient by crypto-shredding: what ``careloop erase`` and ``careloop erasure-api`` do, in order, over
ports.

1. The audit trail records who erased the patient, why (the reason code), who asked and the request's reference in
   the deployer's register (never words about the patient: the trail outlives the erasure): first, so an erasure
   the trail cannot record does not happen.
2. The patient's data key is destroyed (``KeyShredder``): whatever it sealed, in the events, topics, snapshots,
   reject files and backups, can no longer be read.
3. The tables outside the event log that hold the patient are emptied of them (``PatientTables``): the contact
   directory, the identifier index, merges, the demo inbox.
4. ``patient.erased`` is published on the clinical topic, keyed by the patient: the journey core ends every
   journey and stops outreach, and the read models delete the patient's rows (engine/journeys/erasure.py,
   projections/base.py).

Every step is idempotent, and the event's id derives from the patient and the key epoch erased, so a run that
failed half-way is completed by running it again, and the worker recognises the repeated event.

Erasing the patient destroys the relation keys they own too (their relatives' names and contacts, issue 18), and
those of other patients' links that name them as a relative (what those patients' sources recorded of them). One
relative alone (``careloop erase P --relation REL``: the relative asked, or the patient removed them) goes the same
way, ``erase_relation``: audited, the relation key destroyed, the relative's contact row deleted, and
``relationship.erased`` published on the patient's stream (the link ends, messages to the relative are withdrawn).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from engine.security.patient_keys import Shredded
from events.base import Event, Source
from events.patient import ErasureReason, PatientErased
from events.relationships import RelationshipErased

SOURCE = "careloop-erase"  # the source system of the patient.erased events careloop publishes
RETENTION = "retention"  # who asked, when the retention period ended (careloop erase --expired)


class KeyShredder(Protocol):
    def shred(self, patient_id: str) -> Shredded: ...

    def shred_relation(self, patient_id: str, relation_id: str) -> Shredded: ...


class PatientTables(Protocol):
    def remove(self, patient_id: str) -> Mapping[str, int]:
        """Delete the patient's rows; how many from each table."""
        ...

    def remove_relation(self, patient_id: str, relation_id: str) -> Mapping[str, int]:
        """Delete one relative's rows of the patient's (their contact); how many from each table."""
        ...

    def relations_naming(self, patient_id: str) -> list[tuple[str, str]]:
        """(subject patient id, relation id) of every link other patients recorded naming ``patient_id`` as their
        relative (the relationships read model: a link recorded a moment ago may not be there yet)."""
        ...


class Publisher(Protocol):
    def publish(self, events: Iterable[Event], timeout: float = 60.0) -> object:
        """Send and wait for the broker's acknowledgement; raise if it did not come."""
        ...


class MergedRecords(Protocol):
    def merged_into(self, patient_id: str) -> list[str]:
        """The patient ids merged into ``patient_id`` (duplicates of the same person), each once."""
        ...


class ErasureAudit(Protocol):
    def erasing(self, patient_id: str, reason: ErasureReason, requested_by: str, ref: str | None) -> None:
        """Record the erasure in the audit trail: the ground, who asked and the request's reference."""
        ...

    def erasing_relation(
        self, patient_id: str, relation_id: str, reason: ErasureReason, requested_by: str, ref: str | None
    ) -> None:
        """Record the erasure of one relative of the patient's, as ``erasing`` does the patient's."""
        ...


@dataclass(frozen=True, slots=True)
class Request:
    patient_id: str
    reason: ErasureReason
    # The request's id in the deployer's register of data subject requests (where its particulars, letters and
    # words stay): the trail outlives the erasure, so careloop keeps a reference, never words about the patient.
    ref: str | None
    requested_by: str  # pseudonymous: a staff login, or RETENTION


@dataclass(frozen=True, slots=True)
class Erased:
    patient_id: str
    shredded: Shredded
    removed: Mapping[str, int]
    event: PatientErased
    named_in: int = 0  # live relation keys of other patients' links naming this patient, destroyed


@dataclass(frozen=True, slots=True)
class RelationRequest:
    """Erase one relative of the patient's: ``relation_id`` is the link's (``careloop family show`` lists them)."""

    patient_id: str
    relation_id: str
    reason: ErasureReason
    ref: str | None
    requested_by: str


@dataclass(frozen=True, slots=True)
class RelationErased:
    patient_id: str
    relation_id: str
    shredded: Shredded
    removed: Mapping[str, int]
    event: RelationshipErased


@dataclass(frozen=True, slots=True)
class Erasure:
    keys: KeyShredder
    tables: PatientTables
    publisher: Publisher
    audit: ErasureAudit

    def erase(self, request: Request, now: datetime) -> Erased:
        pid = request.patient_id
        self.audit.erasing(pid, request.reason, request.requested_by, request.ref)
        shredded = self.keys.shred(pid)
        # what other patients' sources recorded of them as a relative (their name, their phone) goes too
        named_in = sum(self.keys.shred_relation(s, rel).had_key for s, rel in self.tables.relations_naming(pid))
        removed = self.tables.remove(pid)
        event = erased_event(request, shredded.epoch, now)
        self.publisher.publish([event])
        return Erased(pid, shredded, removed, event, named_in)

    def erase_relation(self, request: RelationRequest, now: datetime) -> RelationErased:
        pid, rel = request.patient_id, request.relation_id
        self.audit.erasing_relation(pid, rel, request.reason, request.requested_by, request.ref)
        shredded = self.keys.shred_relation(pid, rel)
        removed = self.tables.remove_relation(pid, rel)
        event = relation_erased_event(request, shredded.epoch, now)
        self.publisher.publish([event])
        return RelationErased(pid, rel, shredded, removed, event)


def erase_with_merged(erasure: Erasure, merges: MergedRecords, request: Request, now: datetime) -> Iterator[Erased]:
    """Erase the ids merged into the patient, then the patient, each as it comes (what ``careloop erase PATIENT``
    and the erasure API do): those records are the same person's, sealed with their own keys. They are found first,
    since erasing deletes the merge rows that link them, and erased before the patient, so that running again after
    a failure finds those not yet erased. (A merged record whose own erasure failed after its rows went, before its
    patient.erased was published, is no longer found that way: its key is destroyed already, and erasing it by its
    id publishes the event.)"""
    for pid in [*merges.merged_into(request.patient_id), request.patient_id]:
        yield erasure.erase(replace(request, patient_id=pid), now)


def erased_event(request: Request, key_epoch: int, now: datetime) -> PatientErased:
    """The event of an erasure: its id derives from the patient and the key epoch erased, so running the same
    erasure again publishes the same event, which the worker recognises."""
    event: PatientErased = PatientErased.create(
        source=Source(system=SOURCE, message_id=f"{request.patient_id}:epoch-{key_epoch}"),
        patient_id=request.patient_id,
        occurred_at=now,
        recorded_at=now,
        reason=request.reason,
        requested_by=request.requested_by,
        key_epoch=key_epoch,
    )
    return event


def relation_erased_event(request: RelationRequest, key_epoch: int, now: datetime) -> RelationshipErased:
    """The event of one relative's erasure, on the patient's stream: its id derives from the patient, the relation and
    the key epoch erased, so running the same erasure again publishes the same event."""
    message_id = f"{request.patient_id}:relation:{request.relation_id}:epoch-{key_epoch}"
    event: RelationshipErased = RelationshipErased.create(
        source=Source(system=SOURCE, message_id=message_id),
        patient_id=request.patient_id,
        occurred_at=now,
        recorded_at=now,
        relation_id=request.relation_id,
        reason=request.reason,
        key_epoch=key_epoch,
    )
    return event
