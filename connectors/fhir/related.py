"""RelatedPerson and Patient.contact -> ``relationship.recorded`` and ``relationship.ended`` (design §2.1).

- **Role** from the relationship codings, first recognised wins: HL7 v3 RoleCode (MTH, FTH, PRN and their natural,
  step and adoptive kinds: parent; GUARD: guardian, a legal guardian; SPS, HUSB, WIFE, DOMPART: spouse; CHILD, SON,
  DAU and their kinds: child; ECON: emergency contact), HL7 v2 table 0063 (as the HL7 connector reads NK1-3) and
  table 0131 (C, EP: emergency contact), and the source profile's ``relationship_roles`` for a code of its own.
  Anything else is ``other`` with its code kept: ``other`` routes nothing by itself, so no role is guessed. GUARD
  anywhere in the list makes a parent the legal guardian too. ONESELF (the patient) is refused.
- **The person**: name, the best current phone (E.164 in the source's country: one that cannot be a full number is
  refused, naming ``telecom[i].value``, never the number) and email, the preferred language; sealed by the intake
  under the relation's own key.
- **End**: ``active: false``, or a ``period.end`` on or before the record, gives ``relationship.ended``
  (``source_ended``); a ``period.end`` after the record is refused (careloop records an end once it happened).
- **The link**: a RelatedPerson with an identifier is a relative careloop can know as a patient (their identifiers
  resolve like a patient's); else it is named by its logical id, and a Patient.contact by its role and name
  (connectors/relations.py).

A RelatedPerson that cannot be mapped is rejected with its element path. A bad Patient.contact is refused alone,
as a problem naming ``contact[i]...``, beside the Patient's registration, which still maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fhir.resources.R4B.relatedperson import RelatedPerson

from connectors.fhir.context import Context
from connectors.fhir.elements import human_name
from connectors.fhir.errors import Problem, UnmappableError
from connectors.fhir.times import calendar_date
from connectors.hl7v2.kin import TABLE_0063, table_0063_role
from connectors.phones import PhoneNumberError, e164, is_no_number
from connectors.relations import Relative, normalised_name
from events.base import Event
from events.patient import Contact
from events.relationships import RelationshipEnded, RelationshipRecorded

V3_ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
V2_0063 = "http://terminology.hl7.org/CodeSystem/v2-0063"
V2_0131 = "http://terminology.hl7.org/CodeSystem/v2-0131"
_PARENTS = ("MTH", "FTH", "PRN", "NMTH", "NFTH", "NPRN", "STPMTH", "STPFTH", "STPPRN", "ADOPTMTH", "ADOPTFTH")
_CHILDREN = ("CHILD", "SON", "DAU", "NCHILD", "NSON", "NDAU", "STPCHLD", "STPSON", "STPDAU", "CHLDADOPT", "CHLDFOST")
_V3: dict[str, str] = {
    **dict.fromkeys(_PARENTS, "parent"),
    **dict.fromkeys(_CHILDREN, "child"),
    **dict.fromkeys(("SPS", "HUSB", "WIFE", "DOMPART"), "spouse"),
    "GUARD": "guardian",
    "ECON": "emergency_contact",
}
_V2_0131 = {"C": "emergency_contact", "EP": "emergency_contact"}
_SELF = frozenset({(V3_ROLE, "ONESELF"), (V2_0063, "SEL")})


def map_related_person(related: RelatedPerson, ctx: Context) -> list[Event | Problem]:
    patient_id = ctx.subject(related, "patient")
    identifiers = ctx.refs.patient_identifiers(related, None, contained=True)
    names = () if identifiers else ("related-person", ctx.resource_id(related))
    relative = Relative(tuple(identifiers), names)
    return [_link(related, patient_id, relative, ctx, "")]


def map_contacts(patient: Any, patient_id: str, ctx: Context) -> list[Event | Problem]:
    """Each Patient.contact: an event, or a problem naming ``contact[i]...`` (the registration maps either way)."""
    out: list[Event | Problem] = []
    for i, contact in enumerate(patient.contact or []):
        try:
            name = human_name([contact.name] if contact.name else None)
            if name is None:
                raise UnmappableError("no name: careloop cannot tell this contact apart from another", "name")
            role = _role(contact.relationship, ctx)[0]
            relative = Relative((), (role, normalised_name(name)))
            out.append(_link(contact, patient_id, relative, ctx, f"contact[{i}]"))
        except UnmappableError as exc:
            out.append(Problem(exc.reason, f"contact[{i}].{exc.path}" if exc.path else f"contact[{i}]"))
    return out


def _link(element: Any, patient_id: str, relative: Relative, ctx: Context, where: str) -> Event:
    ids = ctx.refs.relation(patient_id, relative, where or "identifier")
    role, legal_guardian, code, system = _role(element.relationship, ctx)
    ended = _ended(element, ctx.recorded_at)
    if ended is not False:
        fields: dict[str, Any] = {"relation_id": ids.relation_id, "reason": "source_ended", "ended_at": ended}
        return ctx.event(RelationshipEnded, patient_id, ctx.recorded_at, discriminator=where, **fields)
    names = element.name if isinstance(element.name, list) else [element.name] if element.name else None
    person = {
        "name": human_name(names),
        "contact": _telecom(element.telecom or [], ctx.profile.country),
        "language": _language(getattr(element, "communication", None)),
    }
    return ctx.event(
        RelationshipRecorded,
        patient_id,
        ctx.recorded_at,
        discriminator=where,
        relation_id=ids.relation_id,
        related_patient_id=ids.related_patient_id,
        role=role,
        role_code=code,
        role_system=system,
        legal_guardian=legal_guardian,
        person=person,
        since=calendar_date(element.period.start) if element.period and element.period.start else None,
    )


def _role(concepts: Sequence[Any] | None, ctx: Context) -> tuple[str, bool, str | None, str | None]:
    """(role, legal guardian, the code, its system) from the first coding careloop recognises; else other."""
    codings = [(c.system or "", c.code) for concept in concepts or [] for c in concept.coding or [] if c.code]
    if any(pair in _SELF for pair in codings):
        raise UnmappableError("ONESELF names the patient, not a relative", "relationship")
    legal_guardian = any(code == "GUARD" or (system == V2_0063 and code == "GRD") for system, code in codings)
    for system, code in codings:
        role = _known(system, code, ctx)
        if role is not None:
            return role, legal_guardian or role == "guardian", code, system
    first = codings[0] if codings else (None, None)
    return "other", legal_guardian, first[1], first[0]


def _known(system: str, code: str, ctx: Context) -> str | None:
    if system == V3_ROLE:
        return _V3.get(code)
    if system in (V2_0063, TABLE_0063):
        return table_0063_role(code)
    if system == V2_0131:
        return _V2_0131.get(code)
    return ctx.profile.relationship_role(code)


def _ended(element: Any, recorded_at: datetime) -> Any:
    """False while the link holds; else the day it ended (None: ``active: false`` without a date)."""
    end = element.period.end if element.period else None
    if end is not None:
        day = calendar_date(end)
        if day is not None and day > recorded_at.date():
            raise UnmappableError("an end after the record: careloop records an end once it happened", "period.end")
        return day
    return None if getattr(element, "active", None) is False else False


def _telecom(telecom: Sequence[Any], country: str) -> Contact | None:
    """The best current phone (E.164) and email, as Patient.telecom is read (connectors/fhir/patients.py)."""
    current = [
        (i, t)
        for i, t in enumerate(telecom)
        if t.value and t.use != "old" and not (t.period and t.period.end) and not is_no_number(str(t.value))
    ]
    current.sort(key=lambda it: (it[1].rank or 1_000_000, it[1].use != "mobile"))
    phones = [_e164(str(t.value), country, i) for i, t in current if t.system in ("phone", "sms")]
    email = next((t.value for _, t in current if t.system == "email"), None)
    return Contact(phone=phones[0], email=email) if phones else Contact(email=email) if email else None


def _e164(value: str, country: str, index: int) -> str:
    try:
        return e164(value, country)
    except PhoneNumberError as exc:
        raise UnmappableError(f"not a full phone number: {exc}", f"telecom[{index}].value") from exc


def _language(communication: Sequence[Any] | None) -> str | None:
    for comm in sorted(communication or [], key=lambda c: not c.preferred):
        code = next((c.code for c in (comm.language.coding or []) if c.code), None) if comm.language else None
        if code:
            return str(code)
    return None
