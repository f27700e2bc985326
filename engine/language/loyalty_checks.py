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
from typing import Any

from pydantic import BaseModel

from engine.journeys import loyalty_definition as ld
from engine.journeys.conditions import Compare
from engine.journeys.durations import Duration
from engine.journeys.notices import LOYALTY_INPUTS
from engine.language.checks import Finding, compares
from engine.language.fields import PATIENT_FIELDS
from engine.language.loyalty_items import ROOT, items, one, unique, walk
from engine.language.loyalty_tier_checks import check_journey_conditions, check_levels, check_rewards, parsed_levels
from engine.yamlfile.source import Path
from engine.yamlfile.suggest import did_you_mean
from events.catalog import CLINICAL_TYPES, EVENT_TYPES

COURSE_FINISHED = "journey.completed"
REFERRED = "referral.attributed"  # a referee attributed to a member (on the referee's side)
# Earning on a loyalty request would pay points for asking for them, and the referral hand-overs are plumbing (the
# referral's own rewards are in loyalty.referrals); engine events other than a finished course and an attribution
# are the core's own decisions (a pass feeding on its own points.* events would never end).
EARNING_TYPES = frozenset(CLINICAL_TYPES) - LOYALTY_INPUTS | {COURSE_FINISHED, REFERRED}
# The rule ids the referral rewards earn under (engine/journeys/referrals.py): a rule of the file may not take them.
REFERRAL_RULES = frozenset({ld.REFERRER_RULE, ld.REFEREE_RULE})
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
    programme_expiry = one(section.get("expiry"), ld.Expiry)
    earn = items(section, "earn", ld.EarnRule)
    yield from _check_earn(earn, programme_expiry, section.get("consumption") is True, known)
    levels = parsed_levels(section)
    yield from check_levels(levels)
    badges = list(items(section, "badges", ld.Badge))
    yield from unique(badges, "badges", "badge")
    for k, badge in badges:
        yield from _check_trigger(badge.on, badge.when, (*ROOT, "badges", k), known)
        if badge.within is not None and badge.times == 1:
            yield Finding(
                (*ROOT, "badges", k, "within"),
                f"within {badge.within} needs times above 1: it is the window the counted matches fall within "
                "(a badge of times: 1 is awarded on its first match)",
            )
    yield from check_rewards(items(section, "rewards", ld.Reward), levels, {b.id for _, b in badges})
    yield from check_journey_conditions(journeys, levels, section.get("tiers") is not None)


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
    for path, value in walk(section, ROOT):
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
    yield from unique(listed, "earn", "earn rule")
    for k, rule in listed:
        path: Path = (*ROOT, "earn", k)
        if rule.id in REFERRAL_RULES:
            yield Finding((*path, "id"), f"{rule.id!r} is the id of a referral reward (set it in loyalty.referrals)")
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
            f"unknown event type {on!r}{did_you_mean(on, EARNING_TYPES)} (a clinical event type, {COURSE_FINISHED} "
            f"or {REFERRED})",
        )
        return
    for rel, cmp in compares(when, ()):
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


# --- helpers ------------------------------------------------------------------------------------------------


def _shorter(a: Duration, b: Duration) -> bool:
    """Whether ``a`` ends before ``b`` from every start (months and years are not all the same length)."""
    return all(a.add_to(start) < b.add_to(start) for start in _STARTS)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for member in typing.get_args(annotation) or (annotation,):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None
