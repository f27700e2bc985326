"""Relatives and their part in a patient's care (issue 18, design §2): who a relative is to the patient, which
purposes and kinds of information the patient consented to share with them, and the end of a link.

A link lives on the stream of the patient it is about (the subject). A relative is a data subject too: their name
and contact are sealed under a key of their own, the relation key (engine/security/phi.py ``RELATION_SEALED``),
which the subject owns: erasing the subject destroys it, and ``careloop erase P --relation REL`` destroys one
relative's alone. Everything else here is a code, a pseudonymous id or a date.

A link grants nothing by itself (PIPL Art. 23/29: giving a relative sensitive health data needs the subject's
separate consent; Art. 31: a child's, their guardian's): what a relative may receive is recorded apart, by
``relationship.consent_granted`` and ``relationship.consent_withdrawn``.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, field_validator

from events.base import Event, Frozen
from events.patient import Contact, _valid_timezone

Role = Literal["guardian", "parent", "spouse", "child", "caregiver", "emergency_contact", "other"]
# What a relative may be told about, by consent: a closed list, so routing and explain compare codes.
Information = Literal[
    "appointments", "reminders", "results", "questionnaires", "vaccinations", "campaigns", "greetings"
]
RelationPurpose = Literal["care", "transactional", "marketing"]
# also: the relative receives a copy beside the patient; instead: in the patient's place.
Delivery = Literal["also", "instead"]
GrantedBy = Literal["patient", "guardian"]
EndReason = Literal["source_ended", "subject_request", "subject_erased", "relative_deceased", "relative_erased"]
RelationErasureReason = Literal["request", "retention", "consent_withdrawn", "purpose_fulfilled", "legal_obligation"]
RefusalReason = Literal["too_many_relations", "self_relation"]

RELATION_ID = (
    "The link, stable across updates: from the related patient's id when the relative is a patient, else a keyed "
    "pseudonym of the source's identity of the relative (never their name in clear)."
)


class Person(Frozen):
    """The relative as the source names them. ``name`` and ``contact`` are sealed under the relation key."""

    name: str | None = Field(default=None, description="As the source wrote it (PHI: sealed, never logged).")
    contact: Contact | None = None
    language: str | None = Field(default=None, description="BCP 47 locale for messages to them, e.g. 'zh-CN'.")
    timezone: str | None = Field(default=None, description="IANA zone for their local send times.")

    _tz = field_validator("timezone")(_valid_timezone)


# --- inputs (clinical topic, keyed by the subject patient) ------------------------------------------------------


class RelationshipRecorded(Event):
    """A relative of the patient as a source recorded them (HL7 NK1, FHIR RelatedPerson or Patient.contact, a CSV
    row). Recorded again with the same ``relation_id`` it updates the link; a link a later message leaves out is
    not ended by that (absence states nothing): only ``relationship.ended`` ends it."""

    type: Literal["relationship.recorded"] = "relationship.recorded"
    relation_id: str = Field(min_length=1, description=RELATION_ID)
    role: Role
    role_code: str | None = Field(default=None, description="The source's own code, e.g. HL7 table 0063 'GRD'.")
    role_system: str | None = Field(default=None, description="Its code system, e.g. 'HL70063' or a FHIR URI.")
    legal_guardian: bool = Field(default=False, description="The source says the relative is a legal guardian.")
    person: Person
    related_patient_id: str | None = Field(
        default=None, min_length=1, description="The relative's own careloop patient id, when they are a patient."
    )
    household_id: str | None = Field(default=None, min_length=1, description="A pseudonymous household id.")
    since: date | None = Field(default=None, description="When the relationship began (HL7 NK1-8).")


class RelationshipEnded(Event):
    """The link ended: the source ended it, the subject asked, or either side died or was erased (the last three
    are hand-overs between the two patients' partitions, sent by the worker)."""

    type: Literal["relationship.ended"] = "relationship.ended"
    relation_id: str = Field(min_length=1, description=RELATION_ID)
    reason: EndReason
    ended_at: date | None = Field(
        default=None, description="The day the source says it ended (HL7 NK1-9, FHIR period.end); null: not said."
    )


class _RelationConsent(Event):
    relation_id: str = Field(min_length=1, description=RELATION_ID)
    purposes: tuple[RelationPurpose, ...] = Field(min_length=1)


class RelationshipConsentGranted(_RelationConsent):
    """The subject's separate consent (or, for a child, the guardian's) that the relative may receive messages of
    ``purposes`` about ``information``, beside the patient (``also``) or in their place (``instead``)."""

    type: Literal["relationship.consent_granted"] = "relationship.consent_granted"
    information: tuple[Information, ...] = Field(min_length=1)
    delivery: Delivery = "also"
    granted_by: GrantedBy
    basis_ref: str | None = Field(
        default=None, min_length=1, description="The signed form's reference in the hospital's records."
    )
    expires_on: date | None = Field(default=None, description="The consent lapses at the end of this day.")


class RelationshipConsentWithdrawn(_RelationConsent):
    """Consent for ``purposes`` withdrawn from the relative: for the kinds of ``information`` named, or (empty) for
    all of them. Approved messages to the relative not yet sent are taken back."""

    type: Literal["relationship.consent_withdrawn"] = "relationship.consent_withdrawn"
    information: tuple[Information, ...] = Field(default=(), description="Empty: every kind of information.")
    by: str | None = Field(default=None, description="Pseudonymous id of the staff member or system that recorded it.")


class RelationshipLinked(Event):
    """Hand-over to a relative who is a patient: ``subject_patient_id`` recorded them as ``role``. Sent by the
    worker only; the relative's record stays theirs (no journey enters on it)."""

    type: Literal["relationship.linked"] = "relationship.linked"
    subject_patient_id: str = Field(min_length=1)
    relation_id: str = Field(min_length=1, description=RELATION_ID)
    role: Role


class RelationshipErased(Event):
    """One relative's key was destroyed (``careloop erase P --relation REL``): what it sealed (their name and
    contact) can no longer be read; the link ends and messages to them are withdrawn. Published by the CLI only."""

    type: Literal["relationship.erased"] = "relationship.erased"
    relation_id: str = Field(min_length=1, description=RELATION_ID)
    reason: RelationErasureReason
    key_epoch: int = Field(ge=1, description="The epoch of the relation key that was destroyed.")


# Inputs no journey may enter on: the family's own plumbing (hand-overs and erasures).
RELATIONSHIP_INPUTS = ("relationship.linked", "relationship.erased")
# The hand-overs only the worker sends, each the other side's decision delivered as an input.
HANDED_OVER = (RelationshipLinked, RelationshipEnded)


# --- engine events -----------------------------------------------------------------------------------------------


class RelationshipRefused(Event):
    """The core did not keep a recorded link (a 17th active link; a patient named as their own relative)."""

    type: Literal["relationship.refused"] = "relationship.refused"
    relation_id: str = Field(min_length=1, description=RELATION_ID)
    reason: RefusalReason
    recorded_event_id: str | None = Field(default=None, description="The relationship.recorded refused.")


class Recipient(Frozen):
    """Whom a message about the patient goes to, when not the patient: one of their relatives."""

    relation_id: str = Field(min_length=1, description=RELATION_ID)
    role: Role
