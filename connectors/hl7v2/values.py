"""HL7 v2 data types (TS/DTM, CX, HD, XPN, XTN, XCN, PL, CWE) turned into careloop values.

Pure functions of the parsed message. Malformed data raises ``FieldError`` naming the field; code tables (sex,
patient class, indicators) are in ``codes``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

from connectors.hl7v2.errors import FieldError
from connectors.hl7v2.message import Repetition, Segment
from connectors.phones import PhoneNumberError, e164, is_no_number
from events.base import Coding
from events.findings import AbnormalFlag
from events.patient import Contact, Identifier

# DTM/TS as senders write it: the standard's YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ], and seconds' fractions
# of up to 9 digits with or without the point (``20110613122406637``: milliseconds as integration engines write
# them). The TS's second component (degree of precision) is never read: fields are read by their first component.
_TS = re.compile(
    r"(?P<y>\d{4})(?:(?P<mo>\d{2})(?:(?P<d>\d{2})(?:(?P<h>\d{2})(?:(?P<mi>\d{2})(?:(?P<s>\d{2})"
    r"(?:\.?(?P<f>\d{1,9}))?)?)?)?)?)?(?P<tz>[+-]\d{4})?"
)
_TS_SHAPE = "expected an HL7 date/time YYYY[MM[DD[HH[MM[SS[.SSSS]]]]]][+/-ZZZZ] (a fraction with or without the point)"


def timestamp(value: str | None, field: str, default_tz: tzinfo) -> datetime | None:
    """An aware datetime: the TS's own offset if it has one, else ``default_tz`` (wall-clock time there).
    Missing parts default to the start of the period (a date alone is midnight). Fraction digits beyond the
    microsecond (a 7- to 9-digit fraction) are dropped: Python's datetime resolution."""
    if value is None:
        return None
    match = _TS.fullmatch(value)
    if match is None:
        raise FieldError(field, _TS_SHAPE)
    y, mo, d, h, mi, s, f, tz = match.groups()
    try:
        zone = _offset(tz) if tz else default_tz
        micro = int(f[:6].ljust(6, "0")) if f else 0
        return datetime(int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0), int(s or 0), micro, tzinfo=zone)
    except ValueError as exc:
        raise FieldError(field, f"not a real date/time ({exc}); {_TS_SHAPE}") from exc


def _offset(text: str) -> timezone:
    hours, minutes = int(text[1:3]), int(text[3:5])
    if hours > 23 or minutes > 59:
        raise ValueError("UTC offset out of range")
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def birth_date(value: str | None, field: str) -> date | None:
    """The calendar date as written (a birth date is not shifted by its offset); year-only or year-month
    precision gives no date rather than a made-up day."""
    when = timestamp(value, field, UTC)
    if when is None or value is None or len(value) < 8 or not value[:8].isdigit():
        return None
    return when.date()


def hd(rep: Repetition, component: int = 1) -> str | None:
    """A hierarchic designator (HD) at the top level of a field: namespace id, else universal id."""
    return rep.get(component) or rep.get(component + 1)


def sub_hd(rep: Repetition, component: int) -> str | None:
    """An HD nested in a component (CX-4, PL-1): namespace id, else universal id, as sub-components."""
    return rep.get(component, 1) or rep.get(component, 2)


def identifiers(reps: Sequence[Repetition], default_authority: str | None) -> tuple[Identifier, ...]:
    """CX repetitions: value CX-1, authority CX-4 (else the assigning facility CX-6, else the sending facility:
    an MRN without authority is local to the hospital that sent it), kind CX-5 (MR, SS, NI, ...)."""
    found: list[Identifier] = []
    for rep in reps:
        value = rep.get(1)
        authority = sub_hd(rep, 4) or sub_hd(rep, 6) or default_authority
        if value and authority:
            found.append(Identifier(authority=authority, value=value, kind=rep.get(5)))
    return tuple(dict.fromkeys(found))  # the same identifier twice (PID-2 and PID-3 in old feeds) counts once


def person_name(reps: Sequence[Repetition]) -> str | None:
    """XPN: the legal name (XPN-7 = L) if marked, else the first one given. Chinese, Japanese and Korean names
    are written family name first without a space; others as "given middle family"."""
    named = [r for r in reps if r.get(1) or r.get(2)]
    if not named:
        return None
    rep = next((r for r in named if r.get(7) == "L"), named[0])
    family, given, middle = rep.get(1), rep.get(2), rep.get(3)
    if any(_is_cjk(p) for p in (family, given) if p):
        return "".join(p for p in (family, given) if p)
    return " ".join(p for p in (given, middle, family) if p)


def _is_cjk(text: str) -> bool:
    return any("\u3400" <= c <= "\u9fff" or "\u3040" <= c <= "\u30ff" or "\uac00" <= c <= "\ud7a3" for c in text)


def contact(reps: Sequence[Repetition], country: str, field: str = "PID-13") -> Contact | None:
    """XTN: a mobile number first (outreach is SMS/WeChat), else the first phone, in E.164 (numbers without a
    country code are read in ``country``, the source's); e-mail from an Internet or X.400 entry. Fax and pager
    entries are ignored. Every phone number is checked, not only the one kept: one that cannot be a number
    rejects the message, naming the field and repetition (never the number)."""
    email = next((_email(r) for r in reps if _email(r)), None)
    phones: list[tuple[Repetition, str]] = []
    for index, rep in enumerate(reps, start=1):
        if _email(rep) or rep.get(3) in ("FX", "BP"):
            continue
        number = _phone(rep, country, f"{field} (repetition {index})")
        if number is not None:
            phones.append((rep, number))
    best = next((p for r, p in phones if r.get(3) == "CP"), phones[0][1] if phones else None)
    return Contact(phone=best, email=email) if best or email else None


def _email(rep: Repetition) -> str | None:
    if rep.get(3) in ("Internet", "X.400") or rep.get(2) == "NET":
        return rep.get(4) or (rep.get(1) if "@" in (rep.get(1) or "") else None)
    return None


def _phone(rep: Repetition, country: str, where: str) -> str | None:
    """XTN-1 (else XTN-12, the unformatted number) as written, else composed of XTN-5 country code, XTN-6 area
    code and XTN-7 local number; XTN-8 the extension."""
    written = rep.get(1) or rep.get(12)
    if written is not None and is_no_number(written):
        written = None  # 无, 不详, 0: the sender's way of saying there is no number
    area_local = "".join(p for p in (rep.get(6), rep.get(7)) if p)
    if written is None and not area_local:
        return None
    code = (rep.get(5) or "").lstrip("+")
    text = written or (f"+{code}{area_local}" if code else area_local)
    try:
        return e164(text, country, rep.get(8))
    except PhoneNumberError as exc:
        raise FieldError(where, f"not a full phone number: {exc}") from exc


def clinician(rep: Repetition | None) -> str | None:
    """XCN: the clinician's id (XCN-1) when given, being stable across spellings; else "given family"."""
    if rep is None:
        return None
    return rep.get(1) or " ".join(p for p in (rep.get(3), rep.get(2)) if p) or None


def location(rep: Repetition | None) -> str | None:
    """PL: the point of care (PL-1, itself an HD in v2.7+), e.g. a ward or clinic code."""
    return sub_hd(rep, 1) if rep is not None else None


def first(segment: Segment | None, field: int) -> Repetition | None:
    return segment.first_repetition(field) if segment is not None else None


_ABNORMAL: dict[str, AbnormalFlag] = {
    "N": "normal",
    "L": "low",
    "H": "high",
    "LL": "critical_low",
    "HH": "critical_high",
    "LU": "low",  # "significantly low" (v2.5+) is not "critical"
    "HU": "high",
    "<": "low",  # below the instrument's low limit
    ">": "high",
    "A": "abnormal",
    "AA": "abnormal",  # critically abnormal: careloop has no separate literal
}


def abnormal_flag(reps: Sequence[Repetition]) -> AbnormalFlag | None:
    """OBX-8 (table 0078), first recognised repetition; susceptibility and delta flags (S, R, I, U, D, ...)
    say nothing about normality and give no flag."""
    return next((_ABNORMAL[c] for r in reps if (c := (r.get(1) or "").upper()) in _ABNORMAL), None)


_CODE_SYSTEMS = {"LN": "loinc", "LOINC": "loinc", "SCT": "snomed", "SNM": "snomed", "SNOMED": "snomed"}
_CODE_SYSTEMS |= {"I10": "icd-10", "ICD10": "icd-10", "ICD-10": "icd-10", "I10C": "icd-10", "C4": "cpt", "CPT": "cpt"}
_CODE_SYSTEMS |= {"2.16.840.1.113883.6.1": "loinc", "2.16.840.1.113883.6.96": "snomed"}  # the same, by OID


def coding(rep: Repetition | None, default_system: str | None = None) -> Coding | None:
    """CE/CWE: the LOINC triplet when either the primary (1-3) or the alternate (4-6) is LOINC, else the primary
    code with its coding system (a local one kept as named, "local" when unnamed)."""
    if rep is None:
        return None
    triplets = [(rep.get(1), rep.get(2), rep.get(3)), (rep.get(4), rep.get(5), rep.get(6))]
    coded = [t for t in triplets if t[0]]
    if not coded:
        return None
    code, display, system = next((t for t in coded if (t[2] or "").upper() in ("LN", "LOINC")), coded[0])
    if code is None:
        return None
    system = system or default_system
    if system and any(c.isspace() for c in system):
        system = None  # a description in the coding-system slot (seen in old feeds) names no system
    named = _CODE_SYSTEMS.get((system or "").upper(), system or "local")
    return Coding(system=named, code=code, display=display or rep.get(9))
