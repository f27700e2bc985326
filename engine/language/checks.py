"""Semantic checks of a journeys file: references, field paths, loops. Each finding names its path."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.journeys import definition as d
from engine.journeys.conditions import AllOf, AnyOf, Compare, NotOf
from engine.language.checkin_checks import check_checkin_step, checkin_targets
from engine.language.checkin_checks import waits as checkin_waits
from engine.language.fields import (
    LOYALTY_FIELDS,
    PATIENT_FIELDS,
    datetime_fields,
    event_fields,
    is_datetime_field,
    nested_model,
)
from engine.yamlfile.source import Path
from engine.yamlfile.suggest import did_you_mean


@dataclass
class Finding:
    path: Path
    message: str
    severity: str = "error"
    key: bool = False  # about a mapping key itself (a misspelt step id in a map): shown at the key, not its value


@dataclass
class JourneyParts:
    """What could be parsed of one journey; checks run on this even when other parts failed."""

    index: int
    raw: dict[str, Any]
    entry: d.Entry | None
    exits: list[d.EventRule]
    goals: list[d.EventRule]
    steps: dict[int, Any]  # step index -> parsed step
    raw_step_ids: list[str] = field(default_factory=list)


def check_journey(parts: JourneyParts, value_sets: set[str], journey_ids: set[str]) -> list[Finding]:
    base: Path = ("journeys", parts.index)
    out: list[Finding] = []
    out += _check_step_ids(parts, base)
    out += _check_references(parts, base, journey_ids)
    out += _check_entry(parts, base)
    out += _check_conditions(parts, base, value_sets)
    out += _check_waits(parts, base)
    out += _check_loops(parts, base)
    for i, step in parts.steps.items():
        out += [Finding(path, message) for path, message in check_checkin_step(step, (*base, "steps", i))]
    return out


def _check_step_ids(parts: JourneyParts, base: Path) -> Iterator[Finding]:
    seen: set[str] = set()
    for i, sid in enumerate(parts.raw_step_ids):
        if sid in seen:
            yield Finding((*base, "steps", i, "id"), f"duplicate step id {sid!r}: step ids must be unique in a journey")
        seen.add(sid)


def _targets(step: Any) -> Iterator[tuple[Path, str]]:
    """Every (relative path, step id) a step can jump to."""
    if step.next is not None:
        yield ("next",), step.next
    if isinstance(step, d.WaitForStep):
        for k, o in enumerate(step.wait_for.events):
            yield ("wait_for", "events", k, "goto"), o.goto
        yield ("wait_for", "on_timeout"), step.wait_for.on_timeout
    elif isinstance(step, d.BranchStep):
        for k, c in enumerate(step.branch.cases):
            yield ("branch", "cases", k, "goto"), c.goto
        yield ("branch", "otherwise"), step.branch.otherwise
    elif isinstance(step, d.SplitStep):
        for k, a in enumerate(step.split.arms):
            yield ("split", "arms", k, "goto"), a.goto
    else:
        yield from checkin_targets(step)


def _check_references(parts: JourneyParts, base: Path, journey_ids: set[str]) -> Iterator[Finding]:
    known = set(parts.raw_step_ids) | {d.END}
    for i, step in parts.steps.items():
        for rel, target in _targets(step):
            if target not in known:
                hint = did_you_mean(target, known)
                yield Finding(
                    (*base, "steps", i, *rel),
                    f"unknown step {target!r}{hint} (steps of this journey: {', '.join(parts.raw_step_ids)}, or 'end')",
                )
        if isinstance(step, d.StartStep) and step.start.journey not in journey_ids:
            hint = did_you_mean(step.start.journey, journey_ids)
            yield Finding((*base, "steps", i, "start", "journey"), f"unknown journey {step.start.journey!r}{hint}")


def check_global_holdout(outreach: Any, journey_ids: set[str]) -> Iterator[Finding]:
    """The global holdout's exempt journeys must exist: a misspelt one would hold out the very messages meant to
    reach everyone (a safety escalation)."""
    holdout = outreach.get("global_holdout") if isinstance(outreach, dict) else None
    exempt = holdout.get("exempt_journeys") if isinstance(holdout, dict) else None
    for k, journey in enumerate(exempt if isinstance(exempt, list) else []):
        if str(journey) not in journey_ids:
            hint = did_you_mean(str(journey), journey_ids)
            path: Path = ("outreach", "global_holdout", "exempt_journeys", k)
            yield Finding(path, f"exempt_journeys: unknown journey {journey!r}{hint}")


def _check_entry(parts: JourneyParts, base: Path) -> Iterator[Finding]:
    entry = parts.entry
    if entry is None:
        return
    fields = event_fields(entry.event)
    if entry.key is not None and entry.key not in fields:
        yield Finding(
            (*base, "entry", "key"), f"{entry.event} has no field {entry.key!r}{did_you_mean(entry.key, fields)}"
        )
    for key_name, rules in (("exit", parts.exits), ("goals", parts.goals)):
        for k, t in enumerate(rules):
            yield from _same_key(t, entry, (*base, key_name, k))
    for i, step in parts.steps.items():
        if isinstance(step, d.WaitForStep):
            for k, o in enumerate(step.wait_for.events):
                yield from _same_key(o, entry, (*base, "steps", i, "wait_for", "events", k))


def _same_key(t: d.EventRule | d.Outcome, entry: d.Entry, path: Path) -> Iterator[Finding]:
    if not t.same_key:
        return
    if entry.key is None:
        yield Finding((*path, "same_key"), "same_key needs a keyed entry (entry.key)")
    elif entry.key not in event_fields(t.event):
        yield Finding((*path, "same_key"), f"{t.event} has no field {entry.key!r} to compare with the entry key")


def condition_sites(parts: JourneyParts, base: Path) -> Iterator[tuple[Path, list[Any], set[str]]]:
    """(path, conditions, event types that 'event.' may refer to there)."""
    entry_type = {parts.entry.event} if parts.entry else set()
    seen_types = set(entry_type)
    for step in parts.steps.values():
        if isinstance(step, d.WaitForStep):
            seen_types |= {o.event for o in step.wait_for.events}
    if parts.entry:
        yield (*base, "entry", "when"), parts.entry.when, entry_type
    for key_name, rules in (("exit", parts.exits), ("goals", parts.goals)):
        for k, t in enumerate(rules):
            yield (*base, key_name, k, "when"), t.when, {t.event}
    for i, step in parts.steps.items():
        if isinstance(step, d.WaitForStep):
            for k, o in enumerate(step.wait_for.events):
                yield (*base, "steps", i, "wait_for", "events", k, "when"), o.when, {o.event}
        elif isinstance(step, d.BranchStep):
            for k, c in enumerate(step.branch.cases):
                yield (*base, "steps", i, "branch", "cases", k, "when"), c.when, seen_types


def _check_conditions(parts: JourneyParts, base: Path, value_sets: set[str]) -> Iterator[Finding]:
    counters = {s.count.counter for s in parts.steps.values() if isinstance(s, d.CountStep)}
    entry_types = {parts.entry.event} if parts.entry else set()
    for path, conds, event_types in condition_sites(parts, base):
        for rel, cmp in compares(conds, ()):
            where = (*path, *rel)
            if cmp.in_value_set is not None and cmp.in_value_set not in value_sets:
                yield Finding(
                    (*where, "in_value_set"),
                    f"unknown value set {cmp.in_value_set!r}"
                    f"{did_you_mean(cmp.in_value_set, value_sets)} (define it under value_sets)",
                )
            message = _field_problem(cmp.field, event_types, entry_types, counters)
            if message:
                yield Finding((*where, "field"), message)


def compares(conds: list[Any], path: Path) -> Iterator[tuple[Path, Compare]]:
    """Every comparison in a list of conditions, with its path inside the list (through all/any/not)."""
    for k, c in enumerate(conds):
        if isinstance(c, Compare):
            yield (*path, k), c
        elif isinstance(c, AllOf):
            yield from compares(c.all, (*path, k, "all"))
        elif isinstance(c, AnyOf):
            yield from compares(c.any, (*path, k, "any"))
        elif isinstance(c, NotOf):
            yield from compares([c.not_], (*path, k, "not"))


def _field_problem(path: str, event_types: set[str], entry_types: set[str], counters: set[str]) -> str | None:
    scope, _, rest = path.partition(".")
    head, _, tail = rest.partition(".")
    if scope == "patient":
        if head not in PATIENT_FIELDS:
            known = ", ".join(PATIENT_FIELDS)
            return f"unknown patient field {head!r}{did_you_mean(head, PATIENT_FIELDS)} (known: {known})"
        part = tail.split(".")[0]
        if head == "campaigns":
            return None  # a calendar journey's id, then its field: calendar_checks.py knows the calendar journeys
        if head == "loyalty" and part not in LOYALTY_FIELDS:
            known = ", ".join(LOYALTY_FIELDS)
            return f"unknown loyalty field {part!r}{did_you_mean(part, LOYALTY_FIELDS)} (known: {known})"
        return None
    if scope == "counter":
        if head not in counters:
            return f"unknown counter {head!r}{did_you_mean(head, counters)}: no count step sets it"
        return None
    types_ = entry_types if scope == "entry" else event_types
    if not types_:
        return None
    names: set[str] = set()
    for t in types_:
        names |= set(event_fields(t))
    if head not in names:
        return f"{' or '.join(sorted(types_))} has no field {head!r}{did_you_mean(head, names)}"
    for t in types_:
        sub = nested_model(t, head)
        if tail and sub is not None and tail.split(".")[0] not in sub.model_fields:
            return f"{head} has no field {tail!r}{did_you_mean(tail, sub.model_fields)}"
    return None


def _check_waits(parts: JourneyParts, base: Path) -> Iterator[Finding]:
    if parts.entry is None:
        return
    for i, step in parts.steps.items():
        if isinstance(step, d.WaitStep) and step.wait.from_ not in ("step", "entry"):
            name = step.wait.from_
            if not is_datetime_field(parts.entry.event, name):
                options = ["step", "entry", *datetime_fields(parts.entry.event)]
                yield Finding(
                    (*base, "steps", i, "wait", "from"),
                    f"wait from {name!r}: expected 'step', 'entry' or a date field of {parts.entry.event}"
                    f" ({', '.join(options[2:]) or 'it has none'}){did_you_mean(name, options)}",
                )


def _successors(step: Any, following: str | None) -> list[str]:
    if isinstance(step, d.EndStep):
        return []
    jumps = [t for _, t in _targets(step) if t != d.END]
    if isinstance(step, d.WaitForStep | d.BranchStep | d.SplitStep | d.CheckinStep):
        return jumps
    return jumps if step.next is not None else ([following] if following else [])


def _check_loops(parts: JourneyParts, base: Path) -> Iterator[Finding]:
    """A cycle of steps with no wait would spin forever in one decision: reject it. Unreachable steps warn."""
    if set(parts.steps) != set(range(len(parts.raw_step_ids))):
        return  # some steps failed to parse (or are not even mappings); their errors are reported already
    steps = [parts.steps[i] for i in range(len(parts.steps))]
    index = {s.id: i for i, s in enumerate(steps)}
    succ = {
        s.id: [t for t in _successors(s, steps[i + 1].id if i + 1 < len(steps) else None) if t in index]
        for i, s in enumerate(steps)
    }
    waits = {s.id for s in steps if isinstance(s, d.WaitStep | d.WaitForStep) or checkin_waits(s)}
    reachable: set[str] = set()
    stack = [steps[0].id]
    while stack:
        sid = stack.pop()
        if sid not in reachable:
            reachable.add(sid)
            stack.extend(succ[sid])
    for s in steps:
        if s.id not in reachable:
            yield Finding((*base, "steps", index[s.id], "id"), f"step {s.id!r} can never be reached", "warning")
    # Cycles through non-waiting steps only: DFS over the subgraph without waits.
    color: dict[str, int] = {}

    def visit(sid: str) -> str | None:
        color[sid] = 1
        for t in succ[sid]:
            if t in waits:
                continue
            if color.get(t) == 1:
                return t
            if t not in color and (found := visit(t)):
                return found
        color[sid] = 2
        return None

    for s in steps:
        if s.id not in waits and s.id not in color and (loop_at := visit(s.id)):
            yield Finding(
                (*base, "steps", index[loop_at], "id"),
                f"steps loop back to {loop_at!r} without a wait or wait_for: it would repeat forever",
            )
            return
