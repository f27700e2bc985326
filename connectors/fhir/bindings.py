"""Required bindings of the elements careloop reads: a code outside its value set is rejected, naming the element.

fhir.resources checks structure, not terminology, so ``"gender": "femme"`` validates; read as "no sex" it would
be a silent loss. Every element the mappings read whose R4 binding is required is checked here, after validation:
``Patient.gender: 'femme' is not a code of http://hl7.org/fhir/administrative-gender (male, female, other,
unknown)``. Encounter.class is bound extensibly to v3 ActCode; careloop accepts those codes and the plain class
words hospitals send (vocabulary.ENCOUNTER_CLASSES) and rejects what it cannot place, rather than guess "other".

A wrong value is quoted only when it looks like a code (a short word): a name or an id in the wrong element
must not end up in a reject reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from connectors.fhir.errors import Problem
from connectors.fhir.vocabulary import ENCOUNTER_CLASSES
from engine.yamlfile.suggest import did_you_mean


@dataclass(frozen=True, slots=True)
class ValueSet:
    system: str
    codes: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.system} ({', '.join(self.codes)})"


GENDER = ValueSet("http://hl7.org/fhir/administrative-gender", ("male", "female", "other", "unknown"))
NAME_USE = ValueSet(
    "http://hl7.org/fhir/name-use", ("usual", "official", "temp", "nickname", "anonymous", "old", "maiden")
)
CONTACT_SYSTEM = ValueSet(
    "http://hl7.org/fhir/contact-point-system", ("phone", "fax", "email", "pager", "url", "sms", "other")
)
CONTACT_USE = ValueSet("http://hl7.org/fhir/contact-point-use", ("home", "work", "temp", "old", "mobile"))
LINK_TYPE = ValueSet("http://hl7.org/fhir/link-type", ("replaced-by", "replaces", "refer", "seealso"))
ENCOUNTER_STATUS = ValueSet(
    "http://hl7.org/fhir/encounter-status",
    ("planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled", "entered-in-error", "unknown"),
)
OBSERVATION_STATUS = ValueSet(
    "http://hl7.org/fhir/observation-status",
    ("registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"),
)
APPOINTMENT_STATUS = ValueSet(
    "http://hl7.org/fhir/appointmentstatus",
    (
        "proposed",
        "pending",
        "booked",
        "arrived",
        "fulfilled",
        "cancelled",
        "noshow",
        "entered-in-error",
        "checked-in",
        "waitlist",
    ),
)
QUESTIONNAIRE_STATUS = ValueSet(
    "http://hl7.org/fhir/questionnaire-answers-status",
    ("in-progress", "completed", "amended", "entered-in-error", "stopped"),
)
EVENT_STATUS = ValueSet(  # Procedure.status
    "http://hl7.org/fhir/event-status",
    ("preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"),
)
CONDITION_CLINICAL = ValueSet(
    "http://terminology.hl7.org/CodeSystem/condition-clinical",
    ("active", "recurrence", "relapse", "inactive", "remission", "resolved"),
)
CONDITION_VERIFICATION = ValueSet(
    "http://terminology.hl7.org/CodeSystem/condition-ver-status",
    ("unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"),
)
ACT_ENCOUNTER = ValueSet(
    "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    ("AMB", "EMER", "FLD", "HH", "IMP", "ACUTE", "NONAC", "OBSENC", "PRENC", "SS", "VR"),
)

# Element paths (``[]``: every item of a list) and their value sets, per resource type careloop maps.
REQUIRED: dict[str, tuple[tuple[str, ValueSet], ...]] = {
    "Patient": (
        ("gender", GENDER),
        ("name[].use", NAME_USE),
        ("telecom[].system", CONTACT_SYSTEM),
        ("telecom[].use", CONTACT_USE),
        ("link[].type", LINK_TYPE),
    ),
    "Encounter": (("status", ENCOUNTER_STATUS),),
    "Observation": (("status", OBSERVATION_STATUS),),
    "Appointment": (("status", APPOINTMENT_STATUS),),
    "QuestionnaireResponse": (("status", QUESTIONNAIRE_STATUS),),
    "Condition": (("clinicalStatus", CONDITION_CLINICAL), ("verificationStatus", CONDITION_VERIFICATION)),
    "Procedure": (("status", EVENT_STATUS),),
}
_CODE_LIKE = re.compile(r"[A-Za-z][A-Za-z-]{0,23}")


def unbound(resource: Any, base: str) -> Problem | None:
    """The first element of ``resource`` (at FHIR path ``base``) whose code is outside its required value set."""
    rtype = str(resource.get_resource_type())
    for path, value_set in REQUIRED.get(rtype, ()):
        for where, value in _values(resource, path.split("."), ""):
            if (why := _outside(value, value_set)) is not None:
                return Problem(why[1], f"{base}.{where}{why[0]}")
    if rtype == "Encounter":
        return _encounter_class(resource, base)
    return None


def _values(node: Any, parts: list[str], at: str) -> Iterator[tuple[str, Any]]:
    """(path, value) of every element a dotted path with ``[]`` list markers reaches; absent ones are skipped."""
    if node is None:
        return
    if not parts:
        yield at, node
        return
    name, many = parts[0].removesuffix("[]"), parts[0].endswith("[]")
    child = getattr(node, "class_fhir" if name == "class" else name, None)
    here = f"{at}.{name}" if at else name
    if many:
        for i, item in enumerate(child or []):
            yield from _values(item, parts[1:], f"{here}[{i}]")
    else:
        yield from _values(child, parts[1:], here)


def _outside(value: Any, value_set: ValueSet) -> tuple[str, str] | None:
    """(path suffix, reason) when a code, or a CodeableConcept, is not from the value set."""
    if isinstance(value, str):
        return None if value in value_set.codes else ("", _not_a_code(value, value_set))
    codings = list(getattr(value, "coding", None) or [])
    for i, coding in enumerate(codings):
        if coding.system in (None, value_set.system) and coding.code not in value_set.codes:
            return f".coding[{i}].code", _not_a_code(coding.code or "", value_set)
    if any(c.system in (None, value_set.system) and c.code in value_set.codes for c in codings):
        return None
    return "", f"has no coding from {value_set}"


def _not_a_code(value: str, value_set: ValueSet) -> str:
    if not value:
        return f"has no code; expected one of {value_set}"
    if _CODE_LIKE.fullmatch(value):
        return f"{value!r} is not a code of {value_set}{did_you_mean(value, value_set.codes)}"
    return f"a value of {len(value)} characters is not a code of {value_set}"


def _encounter_class(encounter: Any, base: str) -> Problem | None:
    code = encounter.class_fhir.code if encounter.class_fhir is not None else None
    if code in ENCOUNTER_CLASSES:
        return None
    words = ", ".join(sorted(set(ENCOUNTER_CLASSES) - set(ACT_ENCOUNTER.codes)))
    what = _not_a_code(code or "", ACT_ENCOUNTER)
    return Problem(f"{what}, nor a class word careloop reads ({words})", f"{base}.class")
