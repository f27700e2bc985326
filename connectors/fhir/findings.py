"""Observation -> observation.recorded; Condition -> condition.diagnosed."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.observation import Observation

from connectors.fhir.context import Context
from connectors.fhir.elements import codes, codings, concept_text, number, preferred
from connectors.fhir.errors import Problem, SkippedError, UnmappableError
from connectors.fhir.vocabulary import (
    CONDITION_CLINICAL,
    CONDITION_NOT_A_DIAGNOSIS,
    INTERPRETATIONS,
    OBSERVATION_FINAL,
)
from events.base import Event
from events.findings import ConditionDiagnosed, ObservationRecorded


def map_observation(observation: Observation, ctx: Context) -> list[Event | Problem]:
    """One event for the observation's own value and one per component (a blood pressure's systolic and
    diastolic): careloop's event carries a single value, and journeys test the component codes."""
    if observation.status not in OBSERVATION_FINAL:
        raise SkippedError(f"status {observation.status} (only final, amended and corrected results are events)")
    patient_id = ctx.subject(observation)
    code = preferred(codings(observation.code), ("loinc",))
    if code is None:
        raise UnmappableError("has no coding with a system and a code", "code")
    period = observation.effectivePeriod
    observed_at = ctx.when(
        observation.effectiveDateTime,
        observation.effectiveInstant,
        period.end if period else None,
        period.start if period else None,
        observation.issued,
        expected="effective[x] or issued",
    )
    observation_id = ctx.resource_id(observation)
    encounter_id = ctx.refs.local_id(observation.encounter)
    events: list[Event | Problem] = []
    if _has_value(observation) or not observation.component:
        value, unit = value_of(observation, ctx)
        events.append(
            ctx.event(
                ObservationRecorded,
                patient_id,
                observed_at,
                observation_id=observation_id,
                code=code,
                value=value,
                unit=unit,
                abnormal_flag=abnormal_flag(observation.interpretation),
                reference_range=reference_range(observation.referenceRange),
                encounter_id=encounter_id,
            )
        )
    for component in observation.component or []:
        part = preferred(codings(component.code), ("loinc",))
        if part is None:
            continue  # a component without a code says nothing a journey could test
        value, unit = value_of(component, ctx)
        events.append(
            ctx.event(
                ObservationRecorded,
                patient_id,
                observed_at,
                discriminator=f"component:{part.system}|{part.code}",
                observation_id=f"{observation_id}/{part.code}",
                code=part,
                value=value,
                unit=unit,
                abnormal_flag=abnormal_flag(component.interpretation),
                reference_range=reference_range(component.referenceRange),
                encounter_id=encounter_id,
            )
        )
    return events


def _has_value(element: Any) -> bool:
    return any(getattr(element, name, None) is not None for name in _VALUES)


_VALUES = (
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueDateTime",
    "valueTime",
    "valueRange",
    "valueRatio",
    "valuePeriod",
)


def value_of(element: Any, ctx: Context) -> tuple[float | str | None, str | None]:
    """An observation's (or component's) value[x] as a number or text, and its unit."""
    if (q := element.valueQuantity) is not None:
        return number(q.value), q.unit or q.code
    if element.valueCodeableConcept is not None:
        return concept_text(element.valueCodeableConcept), None
    if element.valueBoolean is not None:
        return ("true" if element.valueBoolean else "false"), None
    if element.valueInteger is not None:
        return number(element.valueInteger), None
    if (when := ctx.time(element.valueDateTime)) is not None:
        return when.isoformat(), None
    if (r := element.valueRange) is not None:
        return _span(r.low, r.high), (r.low or r.high).unit if (r.low or r.high) else None
    if (ratio := element.valueRatio) is not None and ratio.numerator and ratio.denominator:
        return f"{_num(ratio.numerator.value)}/{_num(ratio.denominator.value)}", None
    if element.valueString is not None or element.valueTime is not None:
        return str(element.valueString if element.valueString is not None else element.valueTime), None
    return None, None


def abnormal_flag(interpretation: Any) -> str | None:
    return next((INTERPRETATIONS[c] for c in codes(interpretation) if c in INTERPRETATIONS), None)


def reference_range(ranges: Any) -> str | None:
    """The first reference range as text: '3.5-5.5 mmol/L', '>= 60 mL/min', or its own text."""
    for r in ranges or []:
        if r.text:
            return str(r.text)
        if r.low is not None or r.high is not None:
            unit = (r.low or r.high).unit
            return _span(r.low, r.high) + (f" {unit}" if unit else "")
    return None


def _span(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"{_num(low.value)}-{_num(high.value)}"
    return f">= {_num(low.value)}" if low is not None else f"<= {_num(high.value)}"


def _num(value: object) -> str:
    n = number(value)
    return f"{n:g}" if n is not None else "?"


def map_condition(condition: Condition, ctx: Context) -> list[Event | Problem]:
    """Dated when recorded (else at onset); a missing clinicalStatus reads as active, as R4 implies for a
    confirmed diagnosis. Refuted and entered-in-error conditions are not diagnoses."""
    refuted = [c for c in codes(condition.verificationStatus) if c in CONDITION_NOT_A_DIAGNOSIS]
    if refuted:
        raise SkippedError(f"verificationStatus {refuted[0]}")
    patient_id = ctx.subject(condition)
    code = preferred(codings(condition.code), ("icd-10", "snomed"))
    if code is None:
        raise UnmappableError("has no coding with a system and a code", "code")
    onset_period = condition.onsetPeriod
    onset = ctx.time(condition.onsetDateTime) or ctx.time(onset_period.start if onset_period else None)
    diagnosed_at = ctx.when(condition.recordedDate, onset, expected="recordedDate or onset[x]")
    # A code of condition-clinical when given (bindings.py rejected any other); absent, a diagnosis is active.
    clinical = next((c for c in codes(condition.clinicalStatus) if c in CONDITION_CLINICAL), "active")
    return [
        ctx.event(
            ConditionDiagnosed,
            patient_id,
            diagnosed_at,
            condition_id=ctx.resource_id(condition),
            code=code,
            clinical_status=clinical,
            onset_at=onset,
            encounter_id=ctx.refs.local_id(condition.encounter),
        )
    ]
