"""Semantic checks of a spec against the event catalog: unknown event types and fields, missing required fields,
values of the wrong kind, columns the file does not declare, unknown lookups. Pure: findings are YAML paths with
messages; the loader turns them into file:line:column."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime

from connectors.tabular.contracts import HOUSEHOLD_NUMBER, SIGNED_ON
from connectors.tabular.mapping import (
    CONTRACT_TARGETS,
    ENVELOPE,
    HOUSEHOLD_DERIVED,
    REFERRAL_CODE,
    RELATION_DERIVED,
    RELATIVE_MRN,
    RELATIVE_TARGETS,
)
from connectors.tabular.references import Path, columns_read, expr_lookups, inner_values
from connectors.tabular.spec import EventSpec, Expr, PatientSpec
from engine.yamlfile.suggest import did_you_mean
from events.base import Coding, Event
from events.catalog import CLINICAL_TYPES
from events.patient import Contact
from events.relationships import Person

Finding = tuple[Path, str]
# What each kind of event field accepts from a spec value.
_ACCEPTS = {
    "datetime": {"datetime"},
    "date": {"date"},
    "coding": {"coding"},
    "codings": {"codings"},
    "number": {"number"},
    "any": {"number", "text"},
    "text": {"text"},
    "contact": {"contact"},
    "person": {"person"},
    "flag": {"text", "flag"},
}
_HOW = {
    "datetime": "a date-time: use parse: datetime (with format: if not ISO 8601)",
    "date": "a date: use parse: date (with format: if not YYYY-MM-DD)",
    "coding": "a code: use coding: {system: ..., code: COLUMN}",
    "codings": "a list of codes: use a list of coding: values",
    "number": "a number: use parse: number",
    "any": "a number or a text",
    "text": "a text: leave out parse",
    "contact": "a way to reach the patient: use contact: {phone: {column: ..., parse: phone}, email: ...}",
    "person": "a relative: use person: {name: ..., contact: {phone: {column: ..., parse: phone}}, language: ...}",
    "flag": "yes or no: map the column to true or false",
}
# A death a row reports (a discharge disposition of death) must reach the engine before the row's encounter
# events: it applies a row's events in order, and a discharge applied first could start a journey.
DEATH = "patient.deceased"
ENCOUNTER_EVENTS = frozenset({"encounter.admitted", "encounter.discharged", "encounter.completed"})


@dataclass
class FileParts:
    """The parts of one files[] entry that validated on their own (None when absent or invalid)."""

    index: int
    columns: tuple[str, ...] | None = None
    key: tuple[str, ...] = ()
    patient: PatientSpec | None = None
    events: dict[int, EventSpec] = field(default_factory=dict)
    written: dict[int, set[str]] = field(default_factory=dict)  # field names as written, valid or not


@dataclass
class SpecParts:
    lookups: dict[str, dict[str, str]]
    patient: PatientSpec | None
    files: list[FileParts]


def check_spec(parts: SpecParts) -> list[Finding]:
    findings: list[Finding] = []
    for file in parts.files:
        findings += _check_file(file, parts)
    return findings


def _check_file(file: FileParts, parts: SpecParts) -> list[Finding]:
    base: Path = ("files", file.index)
    findings: list[Finding] = []
    patient, where = (file.patient, (*base, "patient")) if file.patient else (parts.patient, ("patient",))
    if patient is None:
        findings.append((base, "no patient identifiers for this file: add patient: here or at the top of the spec"))
    for j, entry in file.events.items():
        findings += _check_event(entry, (*base, "events", j), parts.lookups, file.written.get(j, set(entry.fields)))
    findings += _check_discriminators(file, parts.lookups)
    findings += _check_death_first(file, parts.lookups)
    if file.columns is not None:
        for column, path in columns_read(file.index, file.key, patient, where, file.events):
            if column not in file.columns:
                hint = did_you_mean(column, file.columns)
                findings.append((path, f"column {column!r} is not in this file's columns{hint}"))
    return findings


def _check_discriminators(file: FileParts, lookups: dict[str, dict[str, str]]) -> list[Finding]:
    """Two events of one type from one row would get one event id, and the second would be dropped as a replay."""
    findings: list[Finding] = []
    seen: dict[tuple[str, str], int] = {}
    for j, entry in file.events.items():
        for type_ in _possible_types(entry, lookups):
            if (first := seen.setdefault((type_, entry.discriminator), j)) != j:
                why = f"events {first} and {j} can both make {type_} from one row"
                findings.append((("files", file.index, "events", j), f"{why}: give them different discriminator:"))
    return findings


def _check_death_first(file: FileParts, lookups: dict[str, dict[str, str]]) -> list[Finding]:
    findings: list[Finding] = []
    encounter_at: int | None = None
    for j, entry in sorted(file.events.items()):
        types_ = set(_possible_types(entry, lookups))
        if DEATH in types_ and encounter_at is not None:
            why = f"patient.deceased must come before the encounter event {encounter_at} of the same row"
            findings.append((("files", file.index, "events", j), f"{why}: the engine applies a row's events in order"))
        if encounter_at is None and types_ & ENCOUNTER_EVENTS:
            encounter_at = j
    return findings


def _possible_types(entry: EventSpec, lookups: dict[str, dict[str, str]]) -> list[str]:
    if entry.type is not None:
        return [entry.type]
    choice = entry.type_from
    table = (choice.map if choice.map is not None else lookups.get(choice.lookup or "", {})) if choice else {}
    extra = [choice.otherwise] if choice and choice.otherwise else []
    return list(dict.fromkeys([*table.values(), *extra]))


def _check_event(entry: EventSpec, at: Path, lookups: dict[str, dict[str, str]], written: set[str]) -> list[Finding]:
    findings: list[Finding] = []
    if entry.type is not None and entry.type not in CLINICAL_TYPES:
        findings.append(((*at, "type"), _unknown_type(entry.type)))
    if entry.type_from is not None:
        findings += _check_choice(entry.type_from, (*at, "type_from"), lookups)
    classes = [CLINICAL_TYPES[t] for t in _possible_types(entry, lookups) if t in CLINICAL_TYPES]
    for name, expr in entry.fields.items():
        at_field: Path = (*at, "fields", name)
        findings += _check_field(name, expr, at_field, classes)
        findings += [(p, _unknown_lookup(n, lookups)) for n, p in expr_lookups(expr, at_field) if n not in lookups]
        findings += list(_check_formats(expr, at_field))
    for cls in classes:
        type_ = _type_of(cls)
        for name, info in cls.model_fields.items():
            # recorded_at defaults to occurred_at (mapping.py), so only the clinical fields are demanded here.
            derived = RELATION_DERIVED if type_.startswith("relationship.") else frozenset()
            if name in HOUSEHOLD_DERIVED and type_ == "family_contract.signed":
                if HOUSEHOLD_NUMBER not in written:
                    why = f"map the export's household number to {HOUSEHOLD_NUMBER} (the connector makes {name})"
                    findings.append((at, f"{type_} needs {name}: {why}"))
            elif info.is_required() and name not in {*ENVELOPE, "recorded_at", *derived} and name not in written:
                findings.append((at, f"{type_} needs {name}: add it under fields"))
    return findings


def _check_choice(choice: Expr, at: Path, lookups: dict[str, dict[str, str]]) -> list[Finding]:
    if choice.map is None and choice.lookup is None:
        return [(at, "type_from needs a map or a lookup whose values are event types")]
    if choice.lookup is not None and choice.lookup not in lookups:
        return [((*at, "lookup"), _unknown_lookup(choice.lookup, lookups))]
    if choice.map is not None:
        table, where = choice.map, (*at, "map")
    else:
        table, where = lookups[choice.lookup or ""], ("lookups", choice.lookup or "")
    findings = [((*where, k), _unknown_type(v)) for k, v in table.items() if v not in CLINICAL_TYPES]
    if choice.otherwise is not None and choice.otherwise not in CLINICAL_TYPES:
        findings.append(((*at, "otherwise"), _unknown_type(choice.otherwise)))
    return findings


def _check_field(name: str, expr: Expr, at: Path, classes: list[type[Event]]) -> list[Finding]:
    if name in ENVELOPE:
        return [(at, f"{name} is filled in by the connector; remove it from fields")]
    if name == "identifiers":
        return [(at, "identifiers come from the patient: section; remove it from fields")]
    if name == REFERRAL_CODE:
        return _check_referral_code(expr, at, classes)
    if name in RELATION_DERIVED or name in RELATIVE_TARGETS:
        return _check_relative_target(name, expr, at, classes)
    if name in HOUSEHOLD_DERIVED or name in CONTRACT_TARGETS:
        return _check_contract_target(name, expr, at, classes)
    if name == "referral":
        return [(at, f"map the code as written to {REFERRAL_CODE}: the connector looks its referrer up")]
    owners = [cls for cls in classes if name in cls.model_fields]
    if classes and not owners:
        names = {n for cls in classes for n in cls.model_fields} - ENVELOPE
        types_ = " / ".join(_type_of(cls) for cls in classes)
        return [(at, f"{types_} has no field {name!r}{did_you_mean(name, names)}")]
    findings: list[Finding] = []
    for cls in owners[:1]:  # fields of one name share their kind across event types
        kind = field_kind(cls.model_fields[name].annotation)
        if kind not in _ACCEPTS:
            findings.append((at, f"{_type_of(cls)} {name} cannot be mapped from a CSV cell"))
        elif not (given := value_kinds(expr)) <= _ACCEPTS[kind]:
            findings.append((at, f"{name} is {_HOW[kind]} (this value gives {' or '.join(sorted(given))})"))
        elif kind in ("contact", "person"):
            findings += _check_contact(expr, at)
    return findings


def _check_referral_code(expr: Expr, at: Path, classes: list[type[Event]]) -> list[Finding]:
    """``referral_code``: the code as written, which the connector normalises and looks up (a registration's only)."""
    others = [_type_of(cls) for cls in classes if _type_of(cls) != "patient.registered"]
    if others:
        return [(at, f"{REFERRAL_CODE} is read on patient.registered only, not on {' / '.join(others)}")]
    if not value_kinds(expr) <= {"text"}:
        return [(at, f"{REFERRAL_CODE} is {_HOW['text']} (the code as written, e.g. K7QM-2XRP-9D4T)")]
    return []


def _check_relative_target(name: str, expr: Expr, at: Path, classes: list[type[Event]]) -> list[Finding]:
    """What names a relative (``relative_mrn``, ``relative_role``, ``relative_name``); never the ids derived from it."""
    if name in RELATION_DERIVED:
        return [(at, f"the connector derives {name}: map the relative's identifier to {RELATIVE_MRN}, if any")]
    others = [_type_of(cls) for cls in classes if not _type_of(cls).startswith("relationship.")]
    if others or not value_kinds(expr) <= {"text"}:
        return [(at, f"{name} names the relative (a text), on relationship.recorded|ended only")]
    return []


def _check_contract_target(name: str, expr: Expr, at: Path, classes: list[type[Event]]) -> list[Finding]:
    """``household_number`` and ``end_reason`` (texts, on family_contract.signed), ``signed_on`` (a date, on .ended);
    never ``household_id``, which the connector derives."""
    if name in HOUSEHOLD_DERIVED:
        why = "a keyed pseudonym, never the export's number"
        return [(at, f"the connector derives {name} ({why}): map the household number to {HOUSEHOLD_NUMBER}")]
    owner, kind = CONTRACT_TARGETS[name], "date" if name == SIGNED_ON else "text"
    if any(_type_of(cls) != owner for cls in classes):
        return [(at, f"{name} is read on {owner} only")]
    if not value_kinds(expr) <= {kind}:
        return [(at, f"{name} is {_HOW[kind]}")]
    return []


def _check_contact(expr: Expr, at: Path) -> list[Finding]:
    """A phone must be parsed as one (to E.164); the other ways to reach a patient are texts."""
    findings: list[Finding] = []
    for inner, where in inner_values(expr, at):
        way = str(where[-1])
        if way == "phone" and not _parsed_as_phone(inner):
            findings.append((where, "phone is a phone number: add parse: phone (numbers become E.164)"))
        elif way != "phone" and not value_kinds(inner) <= {"text"}:
            findings.append((where, f"{way} is {_HOW['text']}"))
    return findings


def _parsed_as_phone(expr: Expr) -> bool:
    if expr.source in ("first", "items"):
        return all(_parsed_as_phone(inner) for inner, _ in inner_values(expr, ()))
    return expr.parse == "phone"


def _check_formats(expr: Expr, at: Path) -> Iterator[Finding]:
    if expr.format is not None:
        try:
            sample = datetime(2001, 2, 3, 4, 5, 6)
            datetime.strptime(sample.strftime(expr.format), expr.format)
        except ValueError as exc:
            yield (*at, "format"), f"format {expr.format!r} does not work with strptime: {exc}"
    for inner, where in inner_values(expr, at):
        yield from _check_formats(inner, where)


def field_kind(annotation: Any) -> str:
    """What an event field holds, in the spec's terms: datetime, date, coding, codings, number, any or text."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    if is_union and len(args) == 1:
        return field_kind(args[0])
    if is_union:
        return "any" if set(args) == {float, str} else "unsupported"
    if annotation is AwareDatetime or annotation is datetime:
        return "datetime"
    if annotation is date:
        return "date"
    if annotation is Coding:
        return "coding"
    if annotation is Contact:
        return "contact"
    if annotation is Person:
        return "person"
    if annotation is bool:
        return "flag"
    if typing.get_origin(annotation) is tuple:
        return "codings" if args and args[0] is Coding else "unsupported"
    if annotation is float:
        return "number"
    if annotation is str or typing.get_origin(annotation) is typing.Literal:
        return "text"
    return "unsupported"


def value_kinds(expr: Expr) -> set[str]:
    """The kinds of value an expression can give."""
    source = expr.source
    if source == "coding":
        return {"coding"}
    if source == "contact":
        return {"contact"}
    if source == "person":
        return {"person"}
    if source == "items":
        return {"codings"} if all(value_kinds(i) == {"coding"} for i in expr.items or ()) else {"list"}
    if source == "first":
        return set().union(*(value_kinds(a) for a in expr.first or ()))
    if source == "const" and expr.parse == "text" and not isinstance(expr.const, str):
        return {"text" if isinstance(expr.const, bool) else "number"}
    return {"text" if expr.parse in ("text", "phone") else expr.parse}  # a phone number is an E.164 text


def _type_of(cls: type[Event]) -> str:
    return str(cls.model_fields["type"].default)


def _unknown_type(name: str) -> str:
    return f"unknown event type {name!r}{did_you_mean(name, CLINICAL_TYPES)}"


def _unknown_lookup(name: str, lookups: dict[str, dict[str, str]]) -> str:
    return f"unknown lookup {name!r}{did_you_mean(name, lookups)} (define it under lookups:)"
