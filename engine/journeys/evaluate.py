"""Evaluating conditions against an event, the entry event, the patient and counters. Pure."""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from engine.journeys.conditions import AllOf, AnyOf, Compare, NotOf
from engine.journeys.definition import ChurnLevels, ValueSet, canonical_system
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


class PatientView(Mapping[str, Any]):
    """``patient_view(state, now, levels)``, worked out only if a condition reads ``patient.*``."""

    __slots__ = ("_args", "_view")

    def __init__(self, state: PatientState, now: datetime, levels: ChurnLevels) -> None:
        self._args = (state, now, levels)
        self._view: dict[str, Any] | None = None

    def _dict(self) -> dict[str, Any]:
        if self._view is None:
            self._view = patient_view(*self._args)
        return self._view

    def __getitem__(self, key: str) -> Any:
        return self._dict()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __eq__(self, other: object) -> bool:
        return self._dict() == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._dict())


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def holds_all(conditions: list[Any], scope: Scope) -> bool:
    return all(holds(c, scope) for c in conditions)


def holds(cond: Any, scope: Scope) -> bool:
    if isinstance(cond, Compare):
        return _compare(_compiled(cond), scope)
    if isinstance(cond, AllOf):
        return all(holds(c, scope) for c in cond.all)
    if isinstance(cond, AnyOf):
        return any(holds(c, scope) for c in cond.any)
    assert isinstance(cond, NotOf)  # the grammar admits nothing else
    return not holds(cond.not_, scope)


def resolve(path: str, scope: Scope) -> Any:
    scope_name, *parts = path.split(".")
    return _resolve(scope_name, tuple(parts), scope)


def _resolve(scope_name: str, parts: tuple[str, ...], scope: Scope) -> Any:
    if scope_name == "counter":
        return scope.counters.get(parts[0], 0)  # a counter never set counts as zero
    node: Any = scope.event if scope_name == "event" else scope.entry if scope_name == "entry" else scope.patient
    if scope_name not in _SCOPES:
        raise KeyError(scope_name)
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node


_SCOPES = frozenset({"event", "entry", "patient", "counter"})


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A Compare with its operator, operand and field path worked out once (conditions are frozen)."""

    cond: Compare
    op: str
    operand: Any
    scope_name: str
    parts: tuple[str, ...]
    limit: Any  # within/older_than: the operand as a timedelta


# Compiled forms by the identity of their (frozen, long-lived) condition; bounded, rebuilt when full.
_COMPILED: dict[int, _Compiled] = {}
_COMPILED_MAX = 4096


def _compiled(c: Compare) -> _Compiled:
    hit = _COMPILED.get(id(c))
    if hit is not None and hit.cond is c:
        return hit
    op, operand = c.operator, c.operand
    scope_name, *parts = c.field.split(".")
    limit = operand.approx_timedelta() if op in ("within", "older_than") else None
    compiled = _Compiled(c, op, operand, scope_name, tuple(parts), limit)
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[id(c)] = compiled
    return compiled


_ORDERINGS = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _compare(c: _Compiled, scope: Scope) -> bool:
    value = _resolve(c.scope_name, c.parts, scope)
    op, operand = c.op, c.operand
    present = value is not MISSING and value is not None
    if op == "exists":
        return bool((present and value not in ([], "")) == operand)
    if op == "older_than":
        moment = parse_moment(value)
        return moment is None or bool(scope.now - moment > c.limit)
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
        return bool(_ORDERINGS[op](number, operand))
    if op in ("in", "not_in"):
        values = value if isinstance(value, list) else [value]
        hit = any(v in operand for v in values)
        return hit if op == "in" else not hit
    if op == "in_value_set":
        return value_set_contains(scope.value_sets[operand], value)
    if op == "within":
        moment = parse_moment(value)
        return moment is not None and scope.now - moment <= c.limit
    raise ValueError(f"unknown operator {op}")  # unreachable: Compare validates its operator


@dataclass(frozen=True, slots=True)
class _Part:
    system: object  # canonical system, or None for any
    exact: frozenset[str]
    prefixes: tuple[str, ...]  # non-empty only for match: prefix


@dataclass(frozen=True, slots=True)
class _Matcher:
    value_set: ValueSet
    parts: tuple[_Part, ...]


_MATCHERS: dict[int, _Matcher] = {}


def _matcher(vs: ValueSet) -> _Matcher:
    hit = _MATCHERS.get(id(vs))
    if hit is not None and hit.value_set is vs:
        return hit
    parts = tuple(
        _Part(
            None if part.system is None else canonical_system(part.system),
            frozenset() if part.match == "prefix" else frozenset(part.codes),
            tuple(part.codes) if part.match == "prefix" else (),
        )
        for part in vs.parts
    )
    matcher = _Matcher(vs, parts)
    if len(_MATCHERS) >= _COMPILED_MAX:
        _MATCHERS.clear()
    _MATCHERS[id(vs)] = matcher
    return matcher


def value_set_contains(vs: ValueSet, value: Any) -> bool:
    """``vs.contains(value)`` with the codes as sets, worked out once per value set."""
    return _contains(_matcher(vs).parts, value)


def _contains(parts: tuple[_Part, ...], value: Any) -> bool:
    if isinstance(value, list | tuple):
        return any(_contains(parts, v) for v in value)
    for part in parts:
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
