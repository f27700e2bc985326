"""Value sets (the `value_sets:` section of journeys.yaml): codes of one or several terminologies, and the
matcher each is compiled into when the file is read (codes as sets, systems in their canonical names), which
``in_value_set`` conditions use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Terminology URIs as FHIR writes them, and the short names careloop's events use.
SYSTEM_ALIASES = {
    "http://hl7.org/fhir/sid/icd-10": "icd-10",
    "http://hl7.org/fhir/sid/icd-10-cm": "icd-10",
    "icd10": "icd-10",
    "http://snomed.info/sct": "snomed",
    "sct": "snomed",
    "http://loinc.org": "loinc",
    "ln": "loinc",
}


def canonical_system(system: object) -> object:
    return SYSTEM_ALIASES.get(system.lower(), system.lower()) if isinstance(system, str) else system


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ValueSetPart(_Model):
    system: str | None = Field(default=None, description="Only codings of this system match, e.g. icd-10, snomed.")
    codes: list[str] = Field(min_length=1)
    match: Literal["exact", "prefix"] = Field(default="exact", description="prefix: E11 matches E11.9.")


class ValueSet(_Model):
    """Codes of one system (system/codes/match), or several systems (include: a list of those)."""

    description: str = ""
    system: str | None = Field(default=None, description="Only codings of this system match, e.g. icd-10.")
    codes: list[str] | None = Field(default=None, min_length=1)
    match: Literal["exact", "prefix"] = Field(default="exact", description="prefix: E11 matches E11.9.")
    include: list[ValueSetPart] | None = Field(
        default=None, min_length=1, description="Codes from several systems, e.g. ICD-10 and SNOMED CT."
    )

    @model_validator(mode="after")
    def _one_form(self) -> ValueSet:
        if (self.codes is None) == (self.include is None):
            raise ValueError("a value set has either codes (with system and match) or include, not both or neither")
        return self

    @property
    def parts(self) -> list[ValueSetPart]:
        if self.include is not None:
            return self.include
        return [ValueSetPart(system=self.system, codes=self.codes or [], match=self.match)]


@dataclass(frozen=True, slots=True)
class _Part:
    system: object  # canonical system, or None for any
    exact: frozenset[str]
    prefixes: tuple[str, ...]  # non-empty only for match: prefix


@dataclass(frozen=True, slots=True)
class Matcher:
    """A value set compiled: whether a code, a coding ({system, code}) or any in a list of them is in it."""

    parts: tuple[_Part, ...]

    @classmethod
    def of(cls, value_set: ValueSet) -> Matcher:
        return cls(
            tuple(
                _Part(
                    None if part.system is None else canonical_system(part.system),
                    frozenset() if part.match == "prefix" else frozenset(part.codes),
                    tuple(part.codes) if part.match == "prefix" else (),
                )
                for part in value_set.parts
            )
        )

    def contains(self, value: object) -> bool:
        if isinstance(value, list | tuple):
            return any(self.contains(v) for v in value)
        for part in self.parts:
            code = value
            if isinstance(code, dict):
                if part.system is not None and canonical_system(code.get("system")) != part.system:
                    continue
                code = code.get("code")
            if not isinstance(code, str):
                continue
            if part.prefixes:
                if code.startswith(part.prefixes):
                    return True
            elif code in part.exact:
                return True
        return False
