"""Evaluating compiled conditions against an event, the entry event, the patient and counters. Pure."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from engine.journeys.conditions import AllOf, AllTests, AnyOf, AnyTests, Compare, NotOf, NotTest, Test, When
from engine.journeys.definition import ChurnLevels
from engine.journeys.loyalty_definition import LoyaltyProgramme
from engine.journeys.loyalty_view import loyalty_view
from engine.journeys.state import PatientState
from engine.journeys.timing import parse_moment
from engine.journeys.valuesets import Matcher

Json = object  # a value read from an event's JSON or the patient view: compared, never trusted to have a type


class _Missing:
    def __repr__(self) -> str:
        return "missing"


MISSING = _Missing()


@dataclass(frozen=True, slots=True)
class Scope:
    event: Mapping[str, Json]
    entry: Mapping[str, Json]
    patient: Mapping[str, Json]
    counters: Mapping[str, int]
    now: datetime
    matchers: Mapping[str, Matcher]  # the catalog's value sets, compiled


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


_View = Callable[[PatientState, datetime, ChurnLevels], Json]
# What ``patient.*`` conditions read, each worked out only when a condition reads it.
_PATIENT: dict[str, _View] = {
    "age": lambda s, now, _: _age(s.profile.birth_date, now.date()) if s.profile.birth_date else None,
    "sex": lambda s, _, __: s.profile.sex,
    "birth_date": lambda s, _, __: s.profile.birth_date.isoformat() if s.profile.birth_date else None,
    "timezone": lambda s, _, __: s.profile.timezone,
    "language": lambda s, _, __: s.profile.language,
    "conditions": lambda s, _, __: list(s.profile.conditions),
    "last_visit_at": lambda s, _, __: s.profile.last_visit_at.isoformat() if s.profile.last_visit_at else None,
    "deceased": lambda s, _, __: s.profile.deceased,
    "consents": lambda s, _, __: sorted(s.profile.consents),
    "churn_score": lambda s, _, __: s.churn_score,
    "churn_level": lambda s, _, levels: levels.level(s.churn_score),
    "attributes": lambda s, _, __: dict(s.profile.attributes),
    "loyalty": lambda s, now, __: loyalty_view(s, now, None, "UTC"),  # PatientView reads it with the programme
    "campaigns": lambda s, _, __: campaigns_view(s),
}


def campaigns_view(state: PatientState) -> dict[str, Json]:
    """``patient.campaigns.<journey id>.*``: attendance of each calendar campaign (calendar_state.Attendance)."""
    if state.calendar is None:
        return {}
    return {
        journey_id: {
            "last_attended_at": a.last_at.isoformat(),
            "last_season": a.last_season,
            "seasons": list(a.seasons),
            "visits_last_season": list(a.visits_last_season),
        }
        for journey_id, a in state.calendar.attendance.items()
    }


def patient_view(
    state: PatientState, now: datetime, levels: ChurnLevels, loyalty: tuple[LoyaltyProgramme | None, str] = (None, "")
) -> dict[str, Json]:
    view = {key: read(state, now, levels) for key, read in _PATIENT.items()}
    view["loyalty"] = loyalty_view(state, now, *loyalty)
    return view


class PatientView(Mapping[str, Json]):
    """``patient_view(state, now, levels, loyalty)``, each entry worked out only when a condition reads it;
    ``loyalty`` is the programme and the hospital's zone (``patient.loyalty`` reads the member's tier's
    privileges and qualifying points over the programme's period)."""

    __slots__ = ("_args", "_loyalty")

    def __init__(
        self,
        state: PatientState,
        now: datetime,
        levels: ChurnLevels,
        loyalty: tuple[LoyaltyProgramme | None, str] = (None, ""),
    ) -> None:
        self._args = (state, now, levels)
        self._loyalty = loyalty

    def __getitem__(self, key: str) -> Json:
        if key == "loyalty":
            return loyalty_view(self._args[0], self._args[1], *self._loyalty)
        return _PATIENT[key](*self._args)

    def __contains__(self, key: object) -> bool:
        return key in _PATIENT

    def __iter__(self) -> Iterator[str]:
        return iter(_PATIENT)

    def __len__(self) -> int:
        return len(_PATIENT)

    def __eq__(self, other: object) -> bool:
        return patient_view(*self._args, self._loyalty) == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(patient_view(*self._args, self._loyalty))


def holds_all(when: When, scope: Scope) -> bool:
    return all(holds(p, scope) for p in when.predicates)


def holds(test: Test | AllTests | AnyTests | NotTest, scope: Scope) -> bool:
    match test:
        case Test():
            return _compare(test, scope)
        case AllTests(tests=tests):
            return all(holds(t, scope) for t in tests)
        case AnyTests(tests=tests):
            return any(holds(t, scope) for t in tests)
        case NotTest(test=inner):
            return not holds(inner, scope)


def resolve(path: str, scope: Scope) -> Json:
    scope_name, *parts = path.split(".")
    return _resolve(scope_name, tuple(parts), scope)


def _resolve(scope_name: str, parts: tuple[str, ...], scope: Scope) -> Json:
    if scope_name == "counter":
        return scope.counters.get(parts[0], 0)  # a counter never set counts as zero
    if scope_name not in _SCOPES:
        raise KeyError(scope_name)
    node: Json = scope.event if scope_name == "event" else scope.entry if scope_name == "entry" else scope.patient
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node


_SCOPES = frozenset({"event", "entry", "patient", "counter"})
_ORDERINGS = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def _number(value: Json) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _compare(c: Test, scope: Scope) -> bool:
    value = _resolve(c.scope, c.parts, scope)
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
    if op in _ORDERINGS:
        number = _number(value)
        return number is not None and bool(_ORDERINGS[op](number, operand))
    if op in ("in", "not_in"):
        values = value if isinstance(value, list) else [value]
        hit = any(v in operand for v in values)
        return hit if op == "in" else not hit
    if op == "in_value_set":
        return scope.matchers[operand].contains(value)
    if op == "within":
        moment = parse_moment(value)
        return moment is not None and scope.now - moment <= c.limit
    raise ValueError(f"unknown operator {op}")  # unreachable: Compare validates its operator


def describe(cond: Compare | AllOf | AnyOf | NotOf) -> str:
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
