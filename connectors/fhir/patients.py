"""Patient -> patient.registered, patient.deceased and patient.merged."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fhir.resources.R4B.patient import Patient

from connectors.fhir.context import Context
from connectors.fhir.elements import concept_text, human_name
from connectors.fhir.errors import Problem, UnmappableError
from connectors.fhir.times import calendar_date
from events.base import Event
from events.patient import Contact, Identifier, PatientDeceased, PatientMerged, PatientRegistered

BIRTH_TIME = "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
# FHIR's IANA zone extension (R4 core ``tz-code``; ``timezone`` in the R5 extension pack), on an Address or the
# Patient itself. Without one the patient's zone is left empty and the hospital's zone applies.
TIMEZONES = frozenset(
    {"http://hl7.org/fhir/StructureDefinition/tz-code", "http://hl7.org/fhir/StructureDefinition/timezone"}
)
SEXES = frozenset({"female", "male", "other", "unknown"})


def map_patient(patient: Patient, ctx: Context) -> list[Event | Problem]:
    identifiers = ctx.refs.patient_identifiers(patient, ctx.entry.full_url)
    patient_id = ctx.refs.patient_id(identifiers, "identifier")
    # A registration is dated when the source recorded it; a record that says nothing of that is dated at birth,
    # the one time it carries (and recent-registration journeys then rightly ignore it).
    born = (_birth_time(patient), patient.birthDate)
    registered_at = ctx.recorded[0] if ctx.recorded else ctx.when(*born, expected="birthDate")
    out: list[Event | Problem] = [
        ctx.event(
            PatientRegistered,
            patient_id,
            registered_at,
            name=human_name(patient.name),
            birth_date=calendar_date(patient.birthDate),
            sex=patient.gender if patient.gender in SEXES else None,
            timezone=_timezone(patient),
            language=_language(patient),
            contact=_contact(patient),
            identifiers=tuple(identifiers),
        )
    ]
    if patient.deceasedDateTime is not None or patient.deceasedBoolean:
        out.append(_deceased(patient, patient_id, ctx))
    out.extend(_merges(patient, identifiers, registered_at, ctx))
    return out


def _deceased(patient: Patient, patient_id: str, ctx: Context) -> Event | Problem:
    try:
        died_at = ctx.when(patient.deceasedDateTime, expected="deceasedDateTime")
    except UnmappableError as exc:
        return Problem(f"deceasedBoolean is true, but {exc.reason}", "deceasedBoolean")
    return ctx.event(PatientDeceased, patient_id, died_at)


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


def _birth_time(patient: Patient) -> object:
    ext = patient.birthDate__ext
    for e in (ext.extension or []) if ext else []:
        if e.url == BIRTH_TIME and e.valueDateTime is not None:
            return e.valueDateTime
    return None


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
        code = next((c.code for c in (comm.language.coding or []) if c.code), None)
        if code or concept_text(comm.language):
            return str(code or concept_text(comm.language))
    return None


def _contact(patient: Patient) -> Contact | None:
    current = [t for t in patient.telecom or [] if t.value and t.use != "old" and not (t.period and t.period.end)]
    current.sort(key=lambda t: (t.rank or 1_000_000, t.use != "mobile"))
    phone = next((t.value for t in current if t.system in ("phone", "sms")), None)
    email = next((t.value for t in current if t.system == "email"), None)
    return Contact(phone=phone, email=email) if phone or email else None
