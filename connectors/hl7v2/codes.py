"""Code tables careloop reads from HL7 v2 fields: sex (PID-8), patient class (PV1-2), yes/no indicators (PID-30)
and discharge dispositions that mean death (PV1-36).

A code outside its table rejects the message, naming the field and the codes expected: a sex or class read as
"unknown"/"other" would silently change which journeys a patient enters. Codes are table values, not patient
data, so a short ASCII code is quoted in the reason; anything else (e.g. a name typed into PID-8) is not.
"""

from __future__ import annotations

import re
from typing import get_args

from connectors.hl7v2.errors import FieldError
from events.encounters import EncounterClass
from events.patient import Sex

# HL7 table 0001, spelled out as some senders do; ISO 5218 digits (NHS feeds) and China's GB/T 2261.1, which
# shares them and adds 5 (female changed to male) and 6 (male changed to female); Chinese words.
_SEX: dict[str, Sex] = {
    "F": "female",
    "M": "male",
    "O": "other",
    "A": "other",  # ambiguous
    "U": "unknown",
    "N": "unknown",  # not applicable
    "FEMALE": "female",
    "MALE": "male",
    "OTHER": "other",
    "AMBIGUOUS": "other",
    "UNKNOWN": "unknown",
    "NOT APPLICABLE": "unknown",
    "0": "unknown",  # 未知的性别
    "1": "male",
    "2": "female",
    "5": "male",  # 女性改(变)为男性
    "6": "female",  # 男性改(变)为女性
    "9": "unknown",  # 未说明的性别
    "男": "male",
    "女": "female",
    "男性": "male",
    "女性": "female",
    "未知": "unknown",
    "未知的性别": "unknown",
    "未说明": "unknown",
    "未说明的性别": "unknown",
}


def sex(value: str | None, field: str = "PID-8") -> Sex | None:
    if value is None:
        return None
    found = _SEX.get(value.strip().upper())
    if found is None:
        raise FieldError(
            field,
            f"{_quoted(value)} is not a sex code; expected HL7 table 0001 (F, M, O, A, U, N), ISO 5218 / GB/T 2261.1 "
            "digits (0, 1, 2, 5, 6, 9) or 男/女/男性/女性/未知/未说明",
        )
    return found


# HL7 table 0004. B obstetrics, C commercial account, N not applicable, P preadmit and U unknown are valid codes
# careloop has no class for: "other". Chinese HIS write the class as a word.
_CLASS: dict[str, EncounterClass] = {
    "I": "inpatient",
    "O": "outpatient",
    "E": "emergency",
    "R": "outpatient",  # recurring patient: a series of outpatient visits
    "B": "other",
    "C": "other",
    "N": "other",
    "P": "other",
    "U": "other",
    "PREADMIT": "other",
    "RECURRING PATIENT": "outpatient",
    "OBSTETRICS": "other",
    "COMMERCIAL ACCOUNT": "other",
    "NOT APPLICABLE": "other",
    "UNKNOWN": "other",
    "门诊": "outpatient",
    "住院": "inpatient",
    "急诊": "emergency",
    "体检": "ambulatory",  # a health check-up: a visit on a non-resident basis, not a clinic consultation
    "日间手术": "day_surgery",
}


def encounter_class(value: str | None, field: str = "PV1-2") -> EncounterClass:
    """PV1-2; empty (a required field senders leave out) is "other"; careloop's own class names are accepted."""
    if value is None:
        return "other"
    word = value.strip().lower().replace(" ", "_").replace("-", "_")
    if word in get_args(EncounterClass):
        return word  # type: ignore[return-value]
    found = _CLASS.get(value.strip().upper())
    if found is None:
        raise FieldError(
            field,
            f"{_quoted(value)} is not a patient class; expected HL7 table 0004 (I, O, E, R, B, C, N, P, U), "
            "门诊/住院/急诊/体检/日间手术 or one of " + ", ".join(get_args(EncounterClass)),
        )
    return found


# Table 0532's "no information" flavours (and NONE, U, 不详), which say neither yes nor no: read as an empty field.
_NO_INFORMATION = frozenset({"NI", "NA", "UNK", "U", "ASKU", "NAV", "NASK", "MSK", "NONE", "不详", "未知"})


def indicator(value: str | None, field: str) -> bool | None:
    """Table 0136 (Y/N), also spelled out (Yes, NO) as senders do; None when empty or when it says there is no
    information (table 0532's NI, UNK, ASKU, ...: neither yes nor no)."""
    if value is None or value.strip().upper() in _NO_INFORMATION:
        return None
    found = {"Y": True, "YES": True, "是": True, "N": False, "NO": False, "否": False}.get(value.strip().upper())
    if found is None:
        raise FieldError(
            field, f"{_quoted(value)} is not a yes/no indicator; expected Y or N (HL7 table 0136), or UNK/NI"
        )
    return found


# PV1-36 (table 0112, user-defined): the UB-04 codes for "expired", China's 病案首页 离院方式 5 (死亡; a single digit,
# unlike the two-digit UB-04 codes, where 05 is a transfer), and the words in a code or its text.
_DEATH_CODES = frozenset({"20", "40", "41", "42", "5"})
_DEATH_WORDS = re.compile(r"\b(?:expired|died|deceased)\b|死亡", re.IGNORECASE)


def means_death(code: str | None, text: str | None) -> bool:
    return (code or "").strip() in _DEATH_CODES or any(_DEATH_WORDS.search(t) for t in (code, text) if t)


def _quoted(value: str) -> str:
    value = value.strip()
    return repr(value) if len(value) <= 12 and value.isascii() and value.isprintable() else "the value"
