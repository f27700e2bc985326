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

# Encounter.class: every v3 ActEncounterCode, plus the plain words older Synthea and some HIS facades send (English,
# and the Chinese words of HIS encounter types). A class not listed is rejected (bindings.py), not read as "other".
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
    "HH": "other",  # home health
    "OBSENC": "other",  # observation encounter: watched, not admitted
    "PRENC": "other",  # pre-admission testing
    "门诊": "outpatient",
    "急诊": "emergency",
    "住院": "inpatient",
}
# Classes whose encounters are stays: admitted when under way, discharged when finished. Others are visits.
STAY_CLASSES = frozenset({"inpatient", "emergency", "day_surgery"})

ENCOUNTER_UNDER_WAY = frozenset({"arrived", "triaged", "in-progress", "onleave"})
# The source says the encounter did not happen (cancelled: ended before it began) or its record was a mistake:
# encounter.cancelled, so the engine ends what an earlier version of the Encounter started.
ENCOUNTER_CANCELLED = frozenset({"cancelled", "entered-in-error"})

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
    "exp": "expired",  # http://terminology.hl7.org/CodeSystem/discharge-disposition
    "20": "expired",  # NUBC patient discharge status
    "40": "expired",  # NUBC: expired at home (hospice claims)
    "41": "expired",  # NUBC: expired in a medical facility (hospice claims)
    "42": "expired",  # NUBC: expired, place unknown (hospice claims)
    "371828006": "expired",  # SNOMED CT: patient deceased during stay (discharge status = dead)
    "419099009": "expired",  # SNOMED CT: dead
}
# A disposition that means the patient died: patient.deceased comes with the discharge. Codes first; the text
# (or a coding's display) only when no code is known, read whole, never searched inside sentences.
DEATH = "expired"
DEATH_TEXT = re.compile(r"(?:patient\s+)?(?:expired|died|deceased|dead)|死亡|病故|去世|已故|身故", re.I)


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
    "entered-in-error": "cancelled",  # booked by mistake: withdrawn like a cancellation
    "noshow": "no_show",
    "arrived": "attended",
    "checked-in": "attended",
    "fulfilled": "attended",
}
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
