"""Patient -> patient.registered, patient.deceased and patient.merged.

A referral code (careloop's extension ``https://careloop.org/fhir/StructureDefinition/referral-code``, a
valueString) is looked up in ``FhirOptions.referrals`` and stamped on ``patient.registered`` (``referral``); one
that is not a code is refused as a Problem naming the extension, beside the registration, which still maps.

A registration is dated when the source recorded the Patient (its meta.lastUpdated, else the Bundle's), else when
careloop received it: FHIR has no registration time, and a birth date is a clinical date, not an arrival. Phone
numbers become E.164 in the source's country (its profile); one that cannot be a full number rejects the Patient,
naming the telecom element, rather than lose the way to reach the patient or reach someone else.

Each ``Patient.contact`` is a relative (``related``): a ``relationship.recorded`` after the registration, or a problem
naming ``contact[i]...`` beside it when one cannot be read.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fhir.resources.R4B.patient import Patient

from connectors.fhir.context import Context
from connectors.fhir.elements import concept_text, human_name
from connectors.fhir.errors import Problem, UnmappableError
from connectors.fhir.related import map_contacts
from connectors.fhir.times import calendar_date
from connectors.phones import PhoneNumberError, e164, is_no_number
from connectors.referrals import NOT_A_CODE, WITHOUT_REFERRAL, claim
from events.base import Event
from events.patient import Contact, Identifier, PatientDeceased, PatientMerged, PatientRegistered, ReferralClaim
from events.referral_codes import normalise_code

# careloop's own extension: the referral code the patient was registered with (design §6), a valueString.
REFERRAL_CODE = "https://careloop.org/fhir/StructureDefinition/referral-code"
# FHIR's IANA zone extension (R4 core ``tz-code``; ``timezone`` in the R5 extension pack), on an Address or the
# Patient itself. Without one the patient's zone is left empty and the hospital's zone applies.
TIMEZONES = frozenset(
    {"http://hl7.org/fhir/StructureDefinition/tz-code", "http://hl7.org/fhir/StructureDefinition/timezone"}
)


def map_patient(patient: Patient, ctx: Context) -> list[Event | Problem]:
    identifiers = ctx.refs.patient_identifiers(patient, ctx.entry.full_url)
    patient_id = ctx.refs.patient_id(identifiers, "identifier")
    registered_at = ctx.recorded_at
    referral, referral_problems = _referral(patient, ctx)
    out: list[Event | Problem] = [
        ctx.event(
            PatientRegistered,
            patient_id,
            registered_at,
            name=human_name(patient.name),
            birth_date=calendar_date(patient.birthDate),
            sex=patient.gender,  # a code of administrative-gender: bindings.py rejected any other
            timezone=_timezone(patient),
            language=_language(patient),
            contact=_contact(patient, ctx.profile.country),
            identifiers=tuple(identifiers),
            referral=referral,
        )
    ]
    out.extend(referral_problems)
    out.extend(map_contacts(patient, patient_id, ctx))
    if patient.deceasedDateTime is not None or patient.deceasedBoolean:
        out.append(_deceased(patient, patient_id, ctx))
    out.extend(_merges(patient, identifiers, registered_at, ctx))
    return out


def _referral(patient: Patient, ctx: Context) -> tuple[ReferralClaim | None, list[Problem]]:
    """The referral code the Patient carries (extension ``REFERRAL_CODE``, a valueString), resolved; or the
    extension refused, as a Problem beside the registration (the patient is registered without a referral). The
    code points at the referrer: a reason names the extension, never the code."""
    found = [(i, e.valueString) for i, e in enumerate(patient.extension or []) if e.url == REFERRAL_CODE]
    if not found:
        return None, []
    index, text = found[0]
    path = f"extension[{index}].valueString"
    unsent = next((i for i, t in found if not t), None)
    if unsent is not None:
        return None, [Problem(f"the referral code must be a valueString; {WITHOUT_REFERRAL}", f"extension[{unsent}]")]
    if len({normalise_code(str(t)) or t for _, t in found}) > 1:
        return None, [Problem(f"{len(found)} different referral codes; {WITHOUT_REFERRAL}", "extension")]
    if ctx.options.referrals is None:
        return None, [Problem(f"this intake looks no referral code up; {WITHOUT_REFERRAL}", path)]
    made = claim(str(text), ctx.options.referrals)
    return (made, []) if made is not None else (None, [Problem(NOT_A_CODE, path)])


def _deceased(patient: Patient, patient_id: str, ctx: Context) -> Event:
    """At deceasedDateTime; ``deceasedBoolean: true`` says no more than that the patient had died when the record
    was written (or received): the death is dated then, the earliest time careloop can vouch for."""
    return ctx.event(PatientDeceased, patient_id, ctx.when(patient.deceasedDateTime, expected="deceasedDateTime"))


def _merges(patient: Patient, identifiers: list[Identifier], at: datetime, ctx: Context) -> list[Event]:
    """``replaced-by``: this record is a duplicate of the other; ``replaces``: the other is a duplicate of this.
    ``refer`` and ``seealso`` link records without merging them, and are ignored. A merge is dated like the
    registration read with it."""
    out: list[Event] = []
    for i, link in enumerate(patient.link or []):
        if link.type not in ("replaced-by", "replaces"):
            continue
        other = ctx.refs.subject_identifiers(link.other, patient, f"link[{i}].other")
        retired, survivor = (identifiers, other) if link.type == "replaced-by" else (other, identifiers)
        old, new = ctx.refs.merge(retired, survivor)
        out.append(ctx.event(PatientMerged, old, at, discriminator=link.other.reference or str(i), into_patient_id=new))
    return out


def _timezone(patient: Patient) -> str | None:
    candidates = [*(patient.extension or [])]
    for address in patient.address or []:
        if not (address.period and address.period.end):
            candidates.extend(address.extension or [])
    for e in candidates:
        if e.url in TIMEZONES and e.valueCode:
            try:
                ZoneInfo(e.valueCode)
            except (ZoneInfoNotFoundError, ValueError):
                continue  # not an IANA zone: the hospital's default applies, as when none is given
            return str(e.valueCode)
    return None


def _language(patient: Patient) -> str | None:
    comms = sorted(patient.communication or [], key=lambda c: not c.preferred)
    for comm in comms:
        if comm.language is None:  # required by FHIR, absent in a lenient parse: it says no language
            continue
        code = next((c.code for c in (comm.language.coding or []) if c.code), None)
        if code or concept_text(comm.language):
            return str(code or concept_text(comm.language))
    return None


def _contact(patient: Patient, country: str) -> Contact | None:
    """The best current phone (E.164) and email. Every current phone is checked, not only the best: reaching the
    next-ranked number because the first was unreadable would be a silent change of who gets the message."""
    telecom = list(enumerate(patient.telecom or []))
    current = [
        (i, t)
        for i, t in telecom
        if t.value and t.use != "old" and not (t.period and t.period.end) and not is_no_number(str(t.value))
    ]
    current.sort(key=lambda it: (it[1].rank or 1_000_000, it[1].use != "mobile"))
    phones = [_e164(str(t.value), country, i) for i, t in current if t.system in ("phone", "sms")]
    phone = phones[0] if phones else None
    email = next((t.value for _, t in current if t.system == "email"), None)
    return Contact(phone=phone, email=email) if phone or email else None


def _e164(value: str, country: str, index: int) -> str:
    try:
        return e164(value, country)
    except PhoneNumberError as exc:
        raise UnmappableError(f"not a full phone number: {exc}", f"telecom[{index}].value") from exc
