"""QuestionnaireResponse (completed or amended) -> questionnaire.completed.

The instrument is recognised (phq-9, epds, gad-7, satisfaction) in the ``questionnaire`` canonical URL, its
display extension, or the title and name of that Questionnaire when the bundle carries it; otherwise it is the
Questionnaire's title or the canonical's last segment as a key, and ``unknown`` when the response names no
questionnaire (R4 allows that). Answers are flattened by linkId, nested items included; the first answer of an
item counts. The score is the numeric answer of an item whose linkId or text says "score" (or is "total");
careloop never sums items itself: scoring rules belong to the instrument.
"""

from __future__ import annotations

import re
from typing import Any

from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from connectors.fhir.context import Context
from connectors.fhir.elements import number
from connectors.fhir.errors import Problem, SkippedError
from connectors.fhir.vocabulary import INSTRUMENTS, QUESTIONNAIRE_DONE, slug
from events.base import Event
from events.findings import QuestionnaireCompleted

DISPLAY = "http://hl7.org/fhir/StructureDefinition/display"
# A coded answer's numeric weight (PHQ-9, EPDS answers are scored 0-3).
ORDINALS = frozenset(
    {
        "http://hl7.org/fhir/StructureDefinition/ordinalValue",
        "http://hl7.org/fhir/StructureDefinition/iso21090-CO-value",
    }
)
SCORE = re.compile(r"score|^total$", re.I)

Answer = float | int | str


def map_questionnaire_response(response: QuestionnaireResponse, ctx: Context) -> list[Event | Problem]:
    if response.status not in QUESTIONNAIRE_DONE:
        raise SkippedError(f"status {response.status} (only completed answers are events)")
    patient_id = ctx.subject(response)
    items: dict[str, Answer] = {}
    score: list[float] = []
    _walk(response.item, items, score)
    return [
        ctx.event(
            QuestionnaireCompleted,
            patient_id,
            ctx.when(response.authored, expected="authored"),
            response_id=ctx.resource_id(response),
            instrument=instrument(response, ctx),
            score=score[0] if score else None,
            items=items,
        )
    ]


def instrument(response: QuestionnaireResponse, ctx: Context) -> str:
    canonical = response.questionnaire or ""
    names = [canonical]
    ext = response.questionnaire__ext
    names += [e.valueString for e in (ext.extension or []) if e.url == DISPLAY and e.valueString] if ext else []
    definition = ctx.refs.questionnaire(canonical)
    if definition is not None:
        names += [definition.title or "", definition.name or ""]
    for text in names:
        for pattern, name in INSTRUMENTS:
            if text and pattern.search(text):
                return name
    last_segment = canonical.split("|")[0].rstrip("/").rsplit("/", 1)[-1]
    fallback = (definition.title or definition.name if definition else None) or last_segment
    return slug(fallback) or "unknown"


def _walk(items: Any, out: dict[str, Answer], score: list[float]) -> None:
    for item in items or []:
        answers = item.answer or []
        value = _answer(answers[0]) if answers else None
        if value is not None:
            out.setdefault(item.linkId, value)
            if isinstance(value, int | float) and (SCORE.search(item.linkId) or SCORE.search(item.text or "")):
                score.append(float(value))
        for answer in answers:
            _walk(answer.item, out, score)
        _walk(item.item, out, score)


def _answer(answer: Any) -> Answer | None:
    if answer.valueBoolean is not None:
        return int(answer.valueBoolean)
    for name in ("valueInteger", "valueDecimal"):
        if (n := number(getattr(answer, name))) is not None:
            return int(n) if name == "valueInteger" else n
    if answer.valueQuantity is not None:
        return number(answer.valueQuantity.value)
    if answer.valueCoding is not None:
        return _coded(answer.valueCoding)
    for name in ("valueDate", "valueDateTime", "valueTime"):
        if (v := getattr(answer, name)) is not None:
            return v.isoformat() if hasattr(v, "isoformat") else str(v)
    text = answer.valueString or answer.valueUri
    return str(text) if text else None


def _coded(coding: Any) -> Answer | None:
    """A coded answer's ordinal weight if given, else its code (as a number when it is one: yes/no as 1/0)."""
    for e in coding.extension or []:
        if e.url in ORDINALS and (n := number(e.valueDecimal)) is not None:
            return n
    code = coding.code or coding.display
    if code and code.isascii() and code.isdigit() and len(code) <= 9:
        return int(code)
    return str(code) if code else None
