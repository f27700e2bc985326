"""Evaluating conditions against an event, the entry event, the patient and counters. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from engine.journeys.conditions import AllOf, AnyOf, Compare, NotOf
from engine.journeys.definition import ChurnLevels, ValueSet
from engine.journeys.state import PatientState
from engine.journeys.timing import parse_moment


class _Missing:
    def __repr__(self) -> str:
        return "missing"


MISSING = _Missing()


@dataclass(frozen=True, slots=True)
class Scope:
    event: Mapping[str, Any]
    entry: Mapping[str, Any]
    patient: Mapping[str, Any]
    counters: Mapping[str, int]
    now: datetime
    value_sets: Mapping[str, ValueSet]


def patient_view(state: PatientState, now: datetime, levels: ChurnLevels) -> dict[str, Any]:
    p = state.profile
    return {
        "age": _age(p.birth_date, now.date()) if p.birth_date else None,
        "sex": p.sex,
        "birth_date": p.birth_date.isoformat() if p.birth_date else None,
        "timezone": p.timezone,
        "language": p.language,
        "conditions": list(p.conditions),
        "last_visit_at": p.last_visit_at.isoformat() if p.last_visit_at else None,
        "deceased": p.deceased,
        "consents": sorted(p.consents),
        "churn_score": state.churn_score,
        "churn_level": levels.level(state.churn_score),
        "attributes": dict(p.attributes),
    }


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def holds_all(conditions: list[Any], scope: Scope) -> bool:
    return all(holds(c, scope) for c in conditions)


def holds(cond: Any, scope: Scope) -> bool:
    if isinstance(cond, AllOf):
        return all(holds(c, scope) for c in cond.all)
    if isinstance(cond, AnyOf):
        return any(holds(c, scope) for c in cond.any)
    if isinstance(cond, NotOf):
        return not holds(cond.not_, scope)
    assert isinstance(cond, Compare)  # the grammar admits nothing else
    return _compare(cond, resolve(cond.field, scope), scope)


def resolve(path: str, scope: Scope) -> Any:
    scope_name, *parts = path.split(".")
    node: Any = {"event": scope.event, "entry": scope.entry, "patient": scope.patient, "counter": scope.counters}[
        scope_name
    ]
    if scope_name == "counter":
        return scope.counters.get(parts[0], 0)  # a counter never set counts as zero
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _compare(c: Compare, value: Any, scope: Scope) -> bool:
    op, operand = c.operator, c.operand
    present = value is not MISSING and value is not None
    if op == "exists":
        return bool((present and value not in ([], "")) == operand)
    if op == "older_than":
        moment = parse_moment(value)
        return moment is None or bool(scope.now - moment > operand.approx_timedelta())
    if not present:
        return False
    if op == "eq":
        return bool(value == operand)
    if op == "ne":
        return bool(value != operand)
    if op in ("gt", "gte", "lt", "lte"):
        number = _number(value)
        if number is None:
            return False
        return bool(
            {"gt": number > operand, "gte": number >= operand, "lt": number < operand, "lte": number <= operand}[op]
        )
    if op in ("in", "not_in"):
        values = value if isinstance(value, list) else [value]
        hit = any(v in operand for v in values)
        return hit if op == "in" else not hit
    if op == "in_value_set":
        return scope.value_sets[operand].contains(value)
    if op == "within":
        moment = parse_moment(value)
        return moment is not None and scope.now - moment <= operand.approx_timedelta()
    raise ValueError(f"unknown operator {op}")  # unreachable: Compare validates its operator


def describe(cond: Any) -> str:
    """A condition in words, for the reasons recorded with decisions."""
    if isinstance(cond, AllOf):
        return "(" + " and ".join(describe(c) for c in cond.all) + ")"
    if isinstance(cond, AnyOf):
        return "(" + " or ".join(describe(c) for c in cond.any) + ")"
    if isinstance(cond, NotOf):
        return f"not {describe(cond.not_)}"
    operand = cond.operand
    shown = ", ".join(map(str, operand)) if isinstance(operand, list) else str(operand)
    return f"{cond.field} {cond.operator.replace('_', ' ')} {shown}"
