"""A procedure's category (surgical, dental, obstetric, diagnostic, other) from what FHIR gives.

In order: Procedure.category (SNOMED CT), the code's terminology (CDT is dental; CPT ranges), a table of SNOMED
CT codes (Synthea's and careloop's value sets), then English words in the display. No terminology server is
consulted: unknown codes without telling words are "other", and journeys should not rely on that guess.
"""

from __future__ import annotations

import re

from events.base import Coding

# Procedure.category codes (the FHIR procedure-category value set, SNOMED CT).
CATEGORY_CODES: dict[str, str] = {
    "387713003": "surgical",  # Surgical procedure
    "103693007": "diagnostic",  # Diagnostic procedure
    "46947000": "other",  # Chiropractic manipulation
    "410606002": "other",  # Social service procedure
    "409063005": "other",  # Counseling
    "409073007": "other",  # Education
    "24642003": "other",  # Psychiatry procedure or service
}

# SNOMED CT procedure codes whose category the display words would miss or get wrong.
SNOMED_CODES: dict[str, str] = {
    "1255724009": "dental",  # Insertion of dental implant (careloop's dental-implant value set)
    "11779000": "dental",  # Exploration of tooth / implant placement (dental-implant value set)
    "34043003": "dental",  # Dental consultation and report
    "11466000": "obstetric",  # Cesarean section
    "236974004": "obstetric",  # Instrumental delivery
    "177184002": "obstetric",  # Normal delivery procedure
    "18286008": "surgical",  # Catheter ablation of tissue of heart
    "415070008": "surgical",  # Percutaneous coronary intervention
    "232717009": "surgical",  # Coronary artery bypass grafting
    "180325003": "other",  # Electrical cardioversion
    "428191000124101": "other",  # Documentation of current medications
    "73761001": "diagnostic",  # Colonoscopy
}

# Checked in this order: an obstetric ultrasound is obstetric before it is diagnostic.
_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("dental", re.compile(r"dental|tooth|teeth|periodont|gingiv|endodont|orthodont|denture", re.I)),
    (
        "obstetric",
        re.compile(r"pregnan|fetal|fetus|deliver|childbirth|c(a)?esarean|labou?r|episiotomy|obstetric|natal", re.I),
    ),
    (
        "surgical",
        re.compile(
            r"ectomy|otomy|ostomy|plasty|pexy|replacement|repair|excision|resection|transplant|bypass|amputation|"
            r"implant|graft|laparoscop|arthroscop|surgical|surgery|reduction of fracture|thrombectomy",
            re.I,
        ),
    ),
    (
        "diagnostic",
        re.compile(
            r"scopy|screening|assessment|evaluation|ultrasound|x-ray|radiograph|imaging|biopsy|measurement|"
            r"culture|test\b|examination",
            re.I,
        ),
    ),
)


def procedure_category(category_codes: list[str], code: Coding) -> str:
    """The careloop category for a procedure with FHIR ``category`` codes and its chosen ``code``."""
    for c in category_codes:
        if c in CATEGORY_CODES:
            return CATEGORY_CODES[c]
    if code.system == "cdt" or (code.system == "cpt" and code.code.upper().startswith("D")):
        return "dental"
    if code.system == "cpt" and code.code.isdigit():
        return _cpt(int(code.code))
    if code.system == "snomed" and code.code in SNOMED_CODES:
        return SNOMED_CODES[code.code]
    for category, words in _WORDS:
        if code.display and words.search(code.display):
            return category
    return "other"


def _cpt(number: int) -> str:
    if 59000 <= number <= 59899:  # Maternity care and delivery
        return "obstetric"
    if 10004 <= number <= 69990:  # Surgery section
        return "surgical"
    if 70010 <= number <= 89398:  # Radiology, pathology and laboratory
        return "diagnostic"
    return "other"
