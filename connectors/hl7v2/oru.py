"""ORU^R01 results, and OUL^R22/R23/R24 (unsolicited laboratory results, as Chinese LIS send them) -> one
``observation.recorded`` per OBX.

- Code: OBX-3, preferring its LOINC triplet (primary or alternate); a local code is kept with its coding
  system. An OBX without OBX-3 (narrative report lines) inherits its OBR's universal service id (OBR-4).
- Value: a number for NM (and for SN without comparator or range, e.g. ``^182``); the text for coded values
  (CWE/CE); the data for ED, the pointer for RP; text otherwise. Repetitions are joined one per line.
- Unit OBX-6, reference range OBX-7, abnormal flag OBX-8 (table 0078 -> normal/low/high/critical_*/abnormal).
- Time: OBX-14 (observation time), else OBR-7, else MSH-7.
- Discriminator ``OBR<i>/OBX<j>``: positions, not set ids, because set ids restart and repeat in real feeds.
  ``observation_id`` is stable across a result's corrections: order number (OBR-3, else OBR-2) / code / sub-id.
- Several PID groups in one message are followed: each OBX belongs to the patient of the PID above it.
- OUL: SPM (specimen) and SAC (container) segments sit between the OBR and OBX. In R22 and R23 the specimen
  comes before its orders, so an SPM ends the order above it: the OBX right after an SPM observe the specimen
  (discriminator ``SPM<k>/OBX<j>``) and take their time from OBX-14, else MSH-7. In ORU^R01 and OUL^R24 the
  specimen is inside the order, whose OBR still applies.
"""

from __future__ import annotations

import re

from connectors.hl7v2.common import Draft, Header, optional_time, patient_of
from connectors.hl7v2.errors import FieldError
from connectors.hl7v2.message import Message, Repetition, Segment
from connectors.hl7v2.values import abnormal_flag, coding, first
from events.findings import ObservationRecorded
from events.patient import Identifier

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")  # HL7 NM: optional sign, digits, optional point


_SPECIMEN_FIRST = ("OUL^R22", "OUL^R23")  # message structures whose SPM precede their OBR
NARRATIVE_TYPES = ("TX", "FT")  # OBX-2 value types of text someone wrote (HL7 v2 table 0125)


def results(msg: Message, header: Header) -> list[Draft]:
    drafts: list[Draft] = []
    patient: tuple[Identifier, ...] | None = None
    obr: Segment | None = None
    group, obr_n, spm_n, obx_n = "OBR", 0, 0, 0
    seen: set[str] = set()
    for segment in msg.segments:
        if segment.name == "PID":
            patient = patient_of(segment, header)
        elif segment.name == "OBR":
            obr, group, obr_n, obx_n = segment, "OBR", obr_n + 1, 0
        elif segment.name == "SPM" and header.message_type in _SPECIMEN_FIRST:
            obr, group, spm_n, obx_n = None, "SPM", spm_n + 1, 0
        elif segment.name == "OBX":
            obx_n += 1
            if patient is None:
                raise FieldError("PID-3", "an OBX comes before any PID: whose result is it?")
            position = (group, spm_n if group == "SPM" else obr_n, obx_n)
            drafts.append(_observation(msg, header, segment, obr, position, patient, seen))
    if not drafts:
        raise FieldError("OBX", f"an {header.message_type} without OBX segments has no observation to record")
    return drafts


def _observation(
    msg: Message,
    header: Header,
    obx: Segment,
    obr: Segment | None,
    position: tuple[str, int, int],
    patient: tuple[Identifier, ...],
    seen: set[str],
) -> Draft:
    group, n, obx_n = position
    where = f"{group} {n}, OBX {obx_n}" if n else f"OBX {obx_n}, before any OBR"
    discriminator = f"{group}{n}/OBX{obx_n}"
    code = coding(first(obx, 3)) or coding(first(obr, 4))
    if code is None:
        raise FieldError(f"OBX-3 ({where})", "no observation identifier, and no OBR-4 to inherit one from")
    when = optional_time(obx, 14, header) or optional_time(obr, 7, header) or header.recorded_at
    order = (obr.get(3) or obr.get(2)) if obr else None
    sub_id = obx.get(4)
    observation_id = "/".join(p for p in (order or header.source.message_id, code.code, sub_id) if p)
    if observation_id in seen:  # the same test twice in one order without sub-ids: keep them apart
        observation_id = f"{observation_id}#{discriminator}"
    seen.add(observation_id)
    pv1 = msg.first("PV1")
    fields = {
        "observation_id": observation_id,
        "code": code,
        **_result(obx),
        "unit": obx.get(6) or obx.get(6, 2),
        "abnormal_flag": abnormal_flag(obx.repetitions(8)),
        "reference_range": obx.get(7),
        "encounter_id": pv1.get(19) if pv1 else None,
    }
    return Draft(ObservationRecorded, patient, when, fields, discriminator)


def _result(obx: Segment) -> dict[str, float | str | None]:
    """The OBX's value: a narrative (TX, FT: text someone wrote, sealed at rest like every free text) apart from
    the values journeys compare (numbers, codes, short strings)."""
    value_type = (obx.get(2) or "").upper()
    value = _value(obx, value_type)
    if value_type in NARRATIVE_TYPES:
        return {"value": None, "narrative": value if isinstance(value, str) else None}
    return {"value": value}


def _value(obx: Segment, value_type: str) -> float | str | None:
    reps = obx.repetitions(5)
    if not reps:
        return None
    if len(reps) == 1 and value_type in ("NM", "SN"):
        number = _numeric(reps[0], value_type)
        if number is not None:
            return number
    texts = [t for t in (_text(r, value_type) for r in reps) if t]
    return "\n".join(texts) or None


def _numeric(rep: Repetition, value_type: str) -> float | None:
    if value_type == "SN":  # comparator ^ num1 ^ separator/suffix ^ num2: a plain number only without the rest
        if rep.get(1) not in (None, "=") or rep.get(3) or rep.get(4):
            return None
        text = rep.get(2)
    else:
        text = rep.get(1)
    return float(text) if text and _NUMBER.fullmatch(text) else None


def _text(rep: Repetition, value_type: str) -> str | None:
    if value_type in ("CE", "CWE", "CNE", "CF"):
        return rep.get(2) or rep.get(9) or rep.get(1)
    if value_type == "ED" and len(rep.components) >= 4:
        return rep.get(5)
    if value_type == "RP":
        return rep.get(1)
    if value_type == "SN":
        return "".join(rep.get(n) or "" for n in range(1, 5)) or None
    parts = [rep.get(n) for n in range(1, len(rep.components) + 1)]
    return " ".join(p for p in parts if p) or None


HANDLERS = {"ORU^R01": results, "OUL^R22": results, "OUL^R23": results, "OUL^R24": results}
