"""Code tables from FHIR terminologies to careloop's vocabulary. Data, not logic: extend a table, not the code."""

from __future__ import annotations

import re

# Terminology URIs (and their HL7 OIDs) to the short names careloop's value sets use (docs/events.md).
SYSTEMS: dict[str, str] = {
    "http://snomed.info/sct": "snomed",
    "urn:oid:2.16.840.1.113883.6.96": "snomed",
    "http://loinc.org": "loinc",
    "urn:oid:2.16.840.1.113883.6.1": "loinc",
    "http://hl7.org/fhir/sid/icd-10": "icd-10",
    "http://hl7.org/fhir/sid/icd-10-cm": "icd-10",
    "http://hl7.org/fhir/sid/icd-10-cn": "icd-10",
    "urn:oid:2.16.840.1.113883.6.3": "icd-10",
    "urn:oid:2.16.840.1.113883.6.90": "icd-10",
    "http://www.ama-assn.org/go/cpt": "cpt",
    "urn:oid:2.16.840.1.113883.6.12": "cpt",
    "http://www.ada.org/cdt": "cdt",
    "urn:oid:2.16.840.1.113883.6.13": "cdt",
}

# Encounter.class (v3 ActCode, plus the plain words older Synthea and some HIS facades use).
ENCOUNTER_CLASSES: dict[str, str] = {
    "IMP": "inpatient",
    "ACUTE": "inpatient",
    "NONAC": "inpatient",
    "inpatient": "inpatient",
    "EMER": "emergency",
    "emergency": "emergency",
    "urgentcare": "outpatient",
    "AMB": "ambulatory",
    "ambulatory": "ambulatory",
    "wellness": "ambulatory",
    "outpatient": "outpatient",
    "FLD": "outpatient",
    "SS": "day_surgery",  # short stay: admitted and discharged the same day, as day surgery is
    "VR": "virtual",
    "virtual": "virtual",
}
# Classes whose encounters are stays: admitted when under way, discharged when finished. Others are visits.
STAY_CLASSES = frozenset({"inpatient", "emergency", "day_surgery"})

ENCOUNTER_UNDER_WAY = frozenset({"arrived", "triaged", "in-progress", "onleave"})
ENCOUNTER_STATUSES = ENCOUNTER_UNDER_WAY | {"planned", "finished", "cancelled", "entered-in-error", "unknown"}

# Encounter.hospitalization.dischargeDisposition codes (HL7, NUBC, SNOMED) to plain words.
DISPOSITIONS: dict[str, str] = {
    "home": "home",
    "01": "home",
    "306689006": "home",
    "alt-home": "home",
    "other-hcf": "transfer",
    "02": "transfer",
    "hosp": "hospice",
    "50": "hospice",
    "long": "long-term-care",
    "snf": "skilled-nursing",
    "03": "skilled-nursing",
    "rehab": "rehabilitation",
    "62": "rehabilitation",
    "psy": "psychiatric",
    "aadvice": "against-advice",
    "07": "against-advice",
    "exp": "expired",
    "20": "expired",
}

# v3 ObservationInterpretation to careloop's abnormal flags; codes absent here leave the flag empty.
INTERPRETATIONS: dict[str, str] = {
    "N": "normal",
    "NEG": "normal",
    "L": "low",
    "LU": "low",
    "<": "low",
    "H": "high",
    "HU": "high",
    ">": "high",
    "LL": "critical_low",
    "HH": "critical_high",
    "A": "abnormal",
    "AA": "abnormal",
    "POS": "abnormal",
}
OBSERVATION_FINAL = frozenset({"final", "amended", "corrected"})

# Appointment.status to the event that says what happened; statuses absent here are skipped with a reason.
APPOINTMENT_EVENTS: dict[str, str] = {
    "proposed": "booked",
    "pending": "booked",
    "booked": "booked",
    "cancelled": "cancelled",
    "noshow": "no_show",
    "arrived": "attended",
    "checked-in": "attended",
    "fulfilled": "attended",
}
APPOINTMENT_STATUSES = frozenset(APPOINTMENT_EVENTS) | {"entered-in-error", "waitlist"}
# v2-0276 appointment reasons, as the services journeys name them.
APPOINTMENT_TYPES: dict[str, str] = {
    "FOLLOWUP": "follow-up",
    "CHECKUP": "checkup",
    "ROUTINE": "routine",
    "WALKIN": "walk-in",
    "EMERGENCY": "emergency",
}

CONDITION_CLINICAL = frozenset({"active", "recurrence", "relapse", "inactive", "remission", "resolved"})
CONDITION_NOT_A_DIAGNOSIS = frozenset({"refuted", "entered-in-error"})  # verificationStatus

QUESTIONNAIRE_DONE = frozenset({"completed", "amended"})
# Instruments journeys test by name, recognised in a Questionnaire's canonical URL, name or title.
INSTRUMENTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"phq-?9|44249-1", re.I), "phq-9"),
    (re.compile(r"epds|edinburgh|71354-5", re.I), "epds"),
    (re.compile(r"gad-?7|69737-5", re.I), "gad-7"),
    (re.compile(r"satisf", re.I), "satisfaction"),
)


def slug(text: str | None) -> str | None:
    """Free text as a value-set key: 'General Surgery' -> 'general-surgery' (letters of any script are kept)."""
    if not text:
        return None
    out = re.sub(r"[\W_]+", "-", text.strip().lower()).strip("-")
    return out or None
