"""FHIR datatypes (CodeableConcept, HumanName, Quantity, Reference) read into plain careloop values."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError

from connectors.fhir.vocabulary import SYSTEMS
from events.base import Coding

_CJK = re.compile(r"[\u3400-\u9fff\uac00-\ud7af\u3040-\u30ff]")


def codings(concepts: Iterable[Any] | Any | None) -> list[Coding]:
    """Every coding with a system and a code, terminology URIs shortened (http://loinc.org -> loinc)."""
    if concepts is None:
        return []
    items = concepts if isinstance(concepts, list | tuple) else [concepts]
    out: list[Coding] = []
    for concept in items:
        for c in getattr(concept, "coding", None) or []:
            if c.system and c.code and c.code.strip():
                display = c.display or getattr(concept, "text", None)
                try:
                    out.append(Coding(system=SYSTEMS.get(c.system, c.system), code=c.code, display=display))
                except ValidationError:
                    continue  # a code of only whitespace: as if absent
    return out


def preferred(found: Sequence[Coding], systems: Sequence[str]) -> Coding | None:
    """The first coding from the first of ``systems`` present, else the first coding."""
    for system in systems:
        for c in found:
            if c.system == system:
                return c
    return found[0] if found else None


def codes(concepts: Iterable[Any] | Any | None) -> list[str]:
    """Bare codes of a concept (or list of concepts), whatever their system."""
    items = concepts if isinstance(concepts, list | tuple) else [concepts] if concepts else []
    return [c.code for concept in items for c in (getattr(concept, "coding", None) or []) if c.code]


def concept_text(concept: Any) -> str | None:
    """What a person would read: the concept's text, else its first coding's display, else its code."""
    if concept is None:
        return None
    if getattr(concept, "text", None):
        return str(concept.text)
    for c in getattr(concept, "coding", None) or []:
        if c.display or c.code:
            return str(c.display or c.code)
    return None


def first_text(concepts: Sequence[Any] | None) -> str | None:
    return next((t for t in map(concept_text, concepts or []) if t), None)


def human_name(names: Sequence[Any] | None) -> str | None:
    """The official (else usual, else first) name: its text, or given names and family as the culture writes them."""
    if not names:
        return None
    rank = {"official": 0, "usual": 1}
    current = [n for n in names if not (n.period and n.period.end)] or list(names)
    name = min(current, key=lambda n: rank.get(n.use or "", 2))
    if name.text:
        return str(name.text)
    given = [g for g in (name.given or []) if g]
    family = name.family or ""
    if _CJK.search(family):  # 张三: family name first, no space
        return (family + "".join(given)) or None
    return " ".join([*given, family]).strip() or None


def reference_parts(reference: str) -> tuple[str, str] | None:
    """('Patient', '123') from 'Patient/123', 'http://h/fhir/Patient/123/_history/2'; None for urn: and '#'."""
    if reference.startswith(("urn:", "#")):
        return None
    parts = reference.split("/_history/", maxsplit=1)[0].rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2][:1].isupper() and parts[-1]:
        return parts[-2], parts[-1]
    return None


def number(value: object) -> float | None:
    """A FHIR decimal or integer as a float (careloop's event values are floats or strings)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return result if math.isfinite(result) else None
