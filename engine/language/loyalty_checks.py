"""Checks of the `loyalty:` section (issue 17) against the event catalog and the journeys of the same file: what
earns points and what takes them back, the levels' thresholds in order, rewards naming real levels and badges, and
journeys' conditions naming real levels and privileges. Runs on the raw data, item by item, so one bad item does not
hide the others' errors (an item that does not parse is reported by the schema check already)."""

from __future__ import annotations

import calendar
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from engine.journeys import loyalty_definition as ld
from engine.journeys.conditions import AllOf, AnyOf, Compare, NotOf
from engine.journeys.durations import Duration
from engine.language.checks import Finding
from engine.language.fields import PATIENT_FIELDS
from engine.yamlfile.source import Path
from engine.yamlfile.suggest import did_you_mean
from events.catalog import CLINICAL_TYPES, EVENT_TYPES

M = TypeVar("M", bound=BaseModel)
ROOT: Path = ("loyalty",)
COURSE_FINISHED = "journey.completed"
# Earning on a loyalty request would pay points for asking for them; engine events other than a finished course
# are the core's own decisions (a pass feeding on its own points.* events would never end).
LOYALTY_INPUTS = frozenset({"points.redemption_requested", "points.adjustment_requested"})
EARNING_TYPES = frozenset(CLINICAL_TYPES) - LOYALTY_INPUTS | {COURSE_FINISHED}
# Calendar durations differ by month and year: compare them from every first and last day of a leap year and the next.
_STARTS = [
    datetime(y, m, d, tzinfo=UTC)
    for y in (2028, 2029)
    for m in range(1, 13)
    for d in (1, 28, 29, 30, 31)
    if d <= calendar.monthrange(y, m)[1]
]


@dataclass(frozen=True)
class Known:
    """What else the file declares that loyalty conditions may name: journey ids and value sets."""

    journey_ids: frozenset[str] = frozenset()
    value_sets: frozenset[str] = frozenset()


def check_loyalty(section: Any, journeys: Any, value_sets: set[str] | None = None) -> Iterator[Finding]:
    if not isinstance(section, dict):
        return
    ids = {str(j.get("id")) for j in journeys if isinstance(j, dict)} if isinstance(journeys, list) else set()
    known = Known(frozenset(ids), frozenset(value_sets or ()))
    yield from _not_supported(section)
    yield from _durations(section)
    programme_expiry = _one(section.get("expiry"), ld.Expiry)
    earn = _items(section, "earn", ld.EarnRule)
    yield from _check_earn(earn, programme_expiry, section.get("consumption") is True, known)
    levels = _levels(section)
    yield from _check_levels(levels)
    badges = list(_items(section, "badges", ld.Badge))
    yield from _unique(badges, "badges", "badge")
    for k, badge in badges:
        yield from _check_trigger(badge.on, badge.when, (*ROOT, "badges", k), known)
    yield from _check_rewards(_items(section, "rewards", ld.Reward), levels, {b.id for _, b in badges})
    yield from _check_journey_conditions(journeys, levels, section.get("tiers") is not None)


# --- what is not built yet ---------------------------------------------------------------------------------


def _not_supported(section: dict[str, Any]) -> Iterator[Finding]:
    if section.get("enrol") == "on_consent":
        yield Finding(
            (*ROOT, "enrol"),
            "enrol: on_consent is not supported yet: only 'automatic' enrolment is built (every patient at their "
            "next event once the programme is loaded)",
        )
    if section.get("consumption") is True:
        yield Finding(
            (*ROOT, "consumption"),
            "consumption: true is not supported yet: careloop has no charge or refund events to earn points on "
            "(reward adherence: visits, questionnaires, courses)",
        )


def _durations(section: dict[str, Any]) -> Iterator[Finding]:
    """Every duration of the section must be above zero: a negative or zero delay means nothing here."""
    for path, value in _walk(section, ROOT):
        if path[-1] in _DURATION_KEYS and isinstance(value, str):
            try:
                duration = Duration.parse(value)
            except ValueError:
                continue  # the schema check reports it
            if duration.sign < 0 or not (duration.has_calendar_part or duration.minutes):
                yield Finding(path, f"{path[-1]}: {value!r} must be a duration above zero, e.g. '30d'")


_DURATION_KEYS = frozenset(
    {"after", "warn_before", "pending", "reversible_for", "period", "every", "min_hold", "within", "claim_within"}
)


# --- earning ------------------------------------------------------------------------------------------------


def _check_earn(
    rules: Iterator[tuple[int, ld.EarnRule]], default: ld.Expiry | None, consumption: bool, known: Known
) -> Iterator[Finding]:
    listed = list(rules)
    yield from _unique(listed, "earn", "earn rule")
    for k, rule in listed:
        path: Path = (*ROOT, "earn", k)
        yield from _check_trigger(rule.on, rule.when, path, known)
        yield from _check_key(rule, path)
        expiry = rule.expiry or default
        if rule.pending is not None and expiry is not None and not _shorter(rule.pending, expiry.after):
            yield Finding(
                (*path, "pending"),
                f"pending {rule.pending} is not shorter than the expiry ({expiry.after}): the points would expire "
                "before they could be spent",
            )
        if rule.points_per is not None and not consumption:
            yield Finding((*path, "points_per"), "points_per needs consumption: true (points per amount spent)")
        if expiry is not None and expiry.warn_before is not None and not _shorter(expiry.warn_before, expiry.after):
            where = (*path, "expiry", "warn_before") if rule.expiry else (*ROOT, "expiry", "warn_before")
            yield Finding(where, f"warn_before {expiry.warn_before} is not shorter than after {expiry.after}")


def _check_trigger(on: str, when: list[Any], path: Path, known: Known) -> Iterator[Finding]:
    if on in LOYALTY_INPUTS:
        yield Finding((*path, "on"), f"{on} cannot earn points: it asks for points, it is not something the member did")
        return
    if on not in EARNING_TYPES:
        yield Finding(
            (*path, "on"),
            f"unknown event type {on!r}{did_you_mean(on, EARNING_TYPES)} (a clinical event type, or {COURSE_FINISHED})",
        )
        return
    for rel, cmp in _compares(when, ()):
        where = (*path, "when", *rel)
        if message := _field_problem(cmp.field, on):
            yield Finding((*where, "field"), message)
        if cmp.in_value_set is not None and cmp.in_value_set not in known.value_sets:
            yield Finding(
                (*where, "in_value_set"),
                f"unknown value set {cmp.in_value_set!r}{did_you_mean(cmp.in_value_set, known.value_sets)} "
                "(define it under value_sets)",
            )
        if on == COURSE_FINISHED and cmp.field == "event.journey_id":
            yield from _journeys_named(cmp, where, known.journey_ids)


def _journeys_named(cmp: Compare, where: Path, journey_ids: frozenset[str]) -> Iterator[Finding]:
    """A course that does not exist never finishes: a misspelt journey id would silently earn nothing."""
    if cmp.operator not in ("eq", "ne", "in", "not_in"):
        return
    listed = isinstance(cmp.operand, list)
    for i, value in enumerate(cmp.operand if listed else [cmp.operand]):
        if str(value) not in journey_ids:
            at: Path = (*where, cmp.operator, i) if listed else (*where, cmp.operator)
            yield Finding(at, f"unknown journey {value!r}{did_you_mean(str(value), journey_ids)}")


def _check_key(rule: ld.EarnRule, path: Path) -> Iterator[Finding]:
    if rule.reversed_by and rule.key is None:
        yield Finding((*path, "reversed_by"), "reversed_by needs key: the field naming which earning is taken back")
    for k, type_ in enumerate(rule.reversed_by):
        if type_ not in CLINICAL_TYPES or type_ in LOYALTY_INPUTS:
            choices = set(CLINICAL_TYPES) - LOYALTY_INPUTS
            yield Finding((*path, "reversed_by", k), f"unknown event type {type_!r}{did_you_mean(type_, choices)}")
        elif rule.key is not None and rule.key not in EVENT_TYPES[type_].model_fields:
            yield Finding((*path, "reversed_by", k), f"{type_} has no field {rule.key!r} (the rule's key)")
    if rule.key is not None and rule.on in EARNING_TYPES:
        fields = EVENT_TYPES[rule.on].model_fields
        if rule.key not in fields:
            yield Finding((*path, "key"), f"{rule.on} has no field {rule.key!r}{did_you_mean(rule.key, fields)}")


def _field_problem(field: str, on: str) -> str | None:
    scope, _, rest = field.partition(".")
    head, _, tail = rest.partition(".")
    if scope == "patient":
        known = PATIENT_FIELDS
        return None if head in known else f"unknown patient field {head!r}{did_you_mean(head, known)}"
    if scope != "event":
        return f"{scope}.* means nothing in a loyalty rule: test event.* (the {on} event) or patient.*"
    fields = EVENT_TYPES[on].model_fields
    if head not in fields:
        return f"{on} has no field {head!r}{did_you_mean(head, fields)}"
    nested = _nested_model(fields[head].annotation)
    sub = tail.split(".")[0]
    if tail and nested is not None and sub not in nested.model_fields:
        return f"{head} has no field {sub!r}{did_you_mean(sub, nested.model_fields)}"
    return None


# --- tiers and rewards --------------------------------------------------------------------------------------


def _levels(section: dict[str, Any]) -> list[tuple[int, ld.Level]]:
    tiers = section.get("tiers")
    return list(_items(tiers, "levels", ld.Level)) if isinstance(tiers, dict) else []


def _check_levels(levels: list[tuple[int, ld.Level]]) -> Iterator[Finding]:
    yield from _unique(levels, "tiers", "level", ("levels",))
    before: ld.Level | None = None
    for k, level in levels:
        path: Path = (*ROOT, "tiers", "levels", k)
        if k == 0:
            for name in ("entry", "keep"):
                if getattr(level, name) is not None:
                    yield Finding(
                        (*path, name),
                        f"the first level ({level.id}) is the base every member starts on: remove its {name}",
                    )
        elif level.entry is None or level.keep is None:
            missing = " and ".join(n for n in ("entry", "keep") if getattr(level, n) is None)
            yield Finding(path, f"level {level.id} needs {missing}: the qualifying points to reach and to keep it")
        else:
            yield from _thresholds(level.id, (level.entry, level.keep), before, path)
        before = level


def _thresholds(level: str, own: tuple[int, int], before: ld.Level | None, path: Path) -> Iterator[Finding]:
    entry, keep = own
    if keep > entry:
        yield Finding((*path, "keep"), f"level {level}: keep {keep} is above entry {entry}")
    if before is None or before.entry is None or before.keep is None:
        return
    for name, mine, theirs in (("entry", entry, before.entry), ("keep", keep, before.keep)):
        if mine <= theirs:
            yield Finding(
                (*path, name),
                f"level {level}: {name} {mine} is not above {before.id}'s {theirs} (levels go from the base up)",
            )


def _check_rewards(
    rewards: Iterator[tuple[int, ld.Reward]], levels: list[tuple[int, ld.Level]], badges: set[str]
) -> Iterator[Finding]:
    listed = list(rewards)
    yield from _unique(listed, "rewards", "reward")
    level_ids = list(dict.fromkeys(level.id for _, level in levels))
    for k, reward in listed:
        path: Path = (*ROOT, "rewards", k)
        if reward.value_fen is not None and reward.kind != "fee_offset":
            yield Finding((*path, "value_fen"), f"value_fen is for kind fee_offset only (this is {reward.kind})")
        if reward.kind == "fee_offset" and reward.value_fen is None:
            yield Finding(path, "a fee_offset reward needs value_fen: the offset, in fen")
        if (reward.kind == "tier_upgrade") != (reward.to_tier is not None):
            yield Finding(path, "to_tier goes with kind tier_upgrade, and a tier_upgrade reward needs to_tier")
        for name in ("to_tier", "requires_tier"):
            if (value := getattr(reward, name)) is not None and value not in level_ids:
                yield Finding((*path, name), _unknown_level(value, level_ids))
        if reward.requires_badge is not None and reward.requires_badge not in badges:
            yield Finding(
                (*path, "requires_badge"),
                f"unknown badge {reward.requires_badge!r}{did_you_mean(reward.requires_badge, badges)}",
            )


def _unknown_level(value: str, level_ids: list[str]) -> str:
    if not level_ids:
        return f"unknown tier {value!r}: loyalty.tiers declares no levels"
    return f"unknown tier {value!r}{did_you_mean(value, level_ids)} (levels: {', '.join(level_ids)})"


# --- journeys branching on the membership -------------------------------------------------------------------


def _check_journey_conditions(journeys: Any, levels: list[tuple[int, ld.Level]], has_tiers: bool) -> Iterator[Finding]:
    if not has_tiers:
        return
    level_ids = list(dict.fromkeys(level.id for _, level in levels))
    privileges = {p for _, level in levels for p in level.privileges}
    for path, cond in _walk(journeys, ("journeys",)):
        if path[-1] != "field" or cond not in ("patient.loyalty.tier", "patient.loyalty.privileges"):
            continue
        parent = _at(journeys, path[1:-1])
        for op in ("eq", "ne", "in", "not_in"):
            operand = parent.get(op) if isinstance(parent, dict) else None
            values = operand if isinstance(operand, list) else [operand] if operand is not None else []
            for i, value in enumerate(values):
                where = (*path[:-1], op, i) if isinstance(operand, list) else (*path[:-1], op)
                if cond.endswith("tier") and str(value) not in level_ids:
                    yield Finding(where, _unknown_level(str(value), level_ids))
                elif cond.endswith("privileges") and str(value) not in privileges:
                    yield Finding(
                        where,
                        f"unknown privilege {value!r}: no level of loyalty.tiers grants it"
                        f"{did_you_mean(str(value), privileges)}",
                    )


# --- helpers ------------------------------------------------------------------------------------------------


def _items(section: Any, key: str, model: type[M]) -> Iterator[tuple[int, M]]:
    raw = section.get(key) if isinstance(section, dict) else None
    for k, item in enumerate(raw if isinstance(raw, list) else []):
        if (parsed := _one(item, model)) is not None:
            yield k, parsed


def _one(raw: Any, model: type[M]) -> M | None:
    try:
        return model.model_validate(raw) if raw is not None else None
    except ValidationError:
        return None


def _unique(items: list[tuple[int, Any]], key: str, what: str, under: Path = ()) -> Iterator[Finding]:
    first: dict[str, int] = {}
    for k, item in items:
        if item.id in first:
            yield Finding(
                (*ROOT, key, *under, k, "id"),
                f"a second {what} {item.id!r} (the first is item {first[item.id] + 1}): ids are unique",
            )
        first.setdefault(item.id, k)


def _shorter(a: Duration, b: Duration) -> bool:
    """Whether ``a`` ends before ``b`` from every start (months and years are not all the same length)."""
    return all(a.add_to(start) < b.add_to(start) for start in _STARTS)


def _compares(conds: list[Any], path: Path) -> Iterator[tuple[Path, Compare]]:
    for k, c in enumerate(conds):
        if isinstance(c, Compare):
            yield (*path, k), c
        elif isinstance(c, AllOf):
            yield from _compares(c.all, (*path, k, "all"))
        elif isinstance(c, AnyOf):
            yield from _compares(c.any, (*path, k, "any"))
        elif isinstance(c, NotOf):
            yield from _compares([c.not_], (*path, k, "not"))


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for member in typing.get_args(annotation) or (annotation,):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _walk(node: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, str(key)), value
            yield from _walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, (*path, i))


def _at(node: Any, path: Path) -> Any:
    for part in path:
        node = node[part]
    return node
