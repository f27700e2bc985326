"""Encounter -> encounter.admitted / discharged / completed / cancelled (+ patient.deceased); Procedure ->
procedure.completed.

Encounters that are stays (inpatient, emergency, short stay) are admitted while under way (arrived, triaged,
in-progress, onleave) and discharged when finished; visits (ambulatory, outpatient, virtual, other) are
completed when finished and not events before. A finished encounter whose discharge disposition means death also
says the patient died, before the discharge: the engine applies a document's events in order and must know of the
death before the discharge could start a journey. Cancelled and entered-in-error encounters are encounter.cancelled
with the id the earlier versions were mapped with, so the engine ends what they started. Planned and unknown ones
are skipped with their status as the reason.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.procedure import Procedure

from connectors.fhir.categories import procedure_category
from connectors.fhir.context import Context
from connectors.fhir.elements import codes, codings, concept_text, preferred
from connectors.fhir.errors import Problem, SkippedError, UnmappableError
from connectors.fhir.vocabulary import (
    DEATH,
    DEATH_TEXT,
    DISPOSITIONS,
    ENCOUNTER_CANCELLED,
    ENCOUNTER_CLASSES,
    ENCOUNTER_UNDER_WAY,
    STAY_CLASSES,
    slug,
)
from events.base import Coding, Event
from events.encounters import (
    EncounterAdmitted,
    EncounterCancelled,
    EncounterCompleted,
    EncounterDischarged,
    ProcedureCompleted,
)
from events.patient import PatientDeceased

# Participant types (v3 ParticipationType) whose individual is "the" clinician, best first.
CLINICIAN_ROLES = ("ATND", "PPRF", "PART", "SPRF")


def map_encounter(encounter: Encounter, ctx: Context) -> list[Event | Problem]:
    status = encounter.status  # a code of encounter-status: bindings.py rejected any other
    klass = encounter_class(encounter)
    stay = klass in STAY_CLASSES
    if status in ENCOUNTER_CANCELLED:
        # A record entered in error voids the whole visit, whatever its class (as HL7 A23 does); a cancelled stay
        # is a cancelled admission (A11), a cancelled visit a visit.
        what = "admission" if stay and status == "cancelled" else "visit"
        return [_cancelled(encounter, ctx, what)]
    if status not in ENCOUNTER_UNDER_WAY | {"finished"}:
        raise SkippedError(f"status {status}")
    if status != "finished" and not stay:
        raise SkippedError(f"{klass} visit {status}, not finished")
    patient_id = ctx.subject(encounter)
    period = encounter.period
    start, end = (period.start, period.end) if period else (None, None)
    common: dict[str, Any] = {
        "encounter_id": ctx.resource_id(encounter),
        "encounter_class": klass,
        "department": department(encounter, ctx),
        "clinician": clinician(encounter, ctx),
        "diagnoses": diagnoses(encounter, ctx),
    }
    if status != "finished":
        admitted_at = ctx.when(start, expected="period.start (the admission time)")
        return [ctx.event(EncounterAdmitted, patient_id, admitted_at, **common)]
    outcome = disposition(encounter)
    if stay:
        ended_at = ctx.when(end, expected="period.end (the discharge time)")
        ended: Event = ctx.event(
            EncounterDischarged, patient_id, ended_at, admitted_at=ctx.time(start), disposition=outcome, **common
        )
    else:
        ended_at = ctx.when(end, start, expected="period")
        ended = ctx.event(EncounterCompleted, patient_id, ended_at, **common)
    if outcome != DEATH:
        return [ended]
    # Died in the encounter: at its end (the discharge time above), and said first.
    return [
        ctx.event(PatientDeceased, patient_id, ended_at, discriminator=f"encounter:{common['encounter_id']}"),
        ended,
    ]


def _cancelled(encounter: Encounter, ctx: Context, what: str) -> Event:
    """The encounter did not happen, or its record was a mistake: dated when the source recorded that."""
    return ctx.event(
        EncounterCancelled,
        ctx.subject(encounter),
        ctx.recorded_at,
        encounter_id=ctx.resource_id(encounter),
        cancelled=what,
        reason=encounter.status,
    )


def encounter_class(encounter: Encounter) -> str:
    coding = encounter.class_fhir
    return ENCOUNTER_CLASSES.get(coding.code or "", "other") if coding else "other"


def department(encounter: Encounter, ctx: Context) -> str | None:
    """The service's name, else the first location's, else the providing organisation's, as a value-set key."""
    locations = [loc.location for loc in encounter.location or []]
    names = [concept_text(encounter.serviceType), *(ctx.refs.name(r, encounter) for r in locations)]
    names.append(ctx.refs.name(encounter.serviceProvider, encounter))
    return slug(next((n for n in names if n), None))


def clinician(encounter: Encounter, ctx: Context) -> str | None:
    people = [p for p in encounter.participant or [] if p.individual is not None]

    def rank(participant: Any) -> int:
        kinds = codes(participant.type)
        return min((CLINICIAN_ROLES.index(k) for k in kinds if k in CLINICIAN_ROLES), default=len(CLINICIAN_ROLES))

    for participant in sorted(people, key=rank):
        if name := ctx.refs.name(participant.individual, encounter):
            return name
    return None


def diagnoses(encounter: Encounter, ctx: Context) -> tuple[Coding, ...]:
    """reasonCode codings, then the codes of the Conditions in ``diagnosis`` found in the document."""
    found = codings(encounter.reasonCode)
    for diagnosis in encounter.diagnosis or []:
        condition = ctx.refs.resource(diagnosis.condition, encounter)
        if condition is not None and condition.get_resource_type() == "Condition":
            found.extend(codings(condition.code))
    unique = {(c.system, c.code): c for c in reversed(found)}  # keep the first of duplicates, in order
    return tuple(reversed(unique.values()))


def disposition(encounter: Encounter) -> str | None:
    """A known code's word (``expired`` for every code of death); else, when no code is known, the text, with
    ``expired`` for a text that says the patient died ("Expired", "Died", "死亡")."""
    concept = encounter.hospitalization.dischargeDisposition if encounter.hospitalization else None
    for code in codes(concept):
        if code in DISPOSITIONS:
            return DISPOSITIONS[code]
    text = concept_text(concept)
    if text is not None and DEATH_TEXT.fullmatch(text.strip().rstrip(".")):
        return DEATH
    return text


def map_procedure(procedure: Procedure, ctx: Context) -> list[Event | Problem]:
    if procedure.status != "completed":
        raise SkippedError(f"status {procedure.status} (only completed procedures are events)")
    patient_id = ctx.subject(procedure)
    code = preferred(codings(procedure.code), ("cdt", "cpt", "snomed", "icd-10"))
    if code is None:
        raise UnmappableError("has no coding with a system and a code", "code")
    period = procedure.performedPeriod
    performed_at = ctx.when(
        procedure.performedDateTime,
        period.end if period else None,
        period.start if period else None,
        expected="performedDateTime or performedPeriod",
    )
    encounter = ctx.refs.resource(procedure.encounter, procedure)
    if encounter is not None and encounter.get_resource_type() != "Encounter":
        encounter = None
    # Where and by whom: the procedure's own location and performer, else its encounter's.
    place = slug(ctx.refs.name(procedure.location, procedure)) or (department(encounter, ctx) if encounter else None)
    performer = next((p.actor for p in procedure.performer or []), None)
    by = ctx.refs.name(performer, procedure) or (clinician(encounter, ctx) if encounter else None)
    return [
        ctx.event(
            ProcedureCompleted,
            patient_id,
            performed_at,
            procedure_id=ctx.resource_id(procedure),
            code=code,
            category=procedure_category(codes(procedure.category), code),
            encounter_id=ctx.refs.local_id(procedure.encounter),
            department=place,
            clinician=by,
        )
    ]
