"""What would a journeys file change? The same input history replayed through the current catalog and a new one,
side by side, and the decisions that differ. Pure: no I/O, no wall clock.

Decisions are matched across the two runs by what they are, not by their event ids (which derive from the journey
version and so differ whenever a journey is bumped): the patient, the journey, the instance (the input event it
entered on, the same in both runs), the kind, the step, what was decided (a message's template, a task's queue and
title, a flag's reason, an exit's outcome) and the occurrence of that same decision in the instance. A decision in
both runs at another time has moved; one in a single run was added or removed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from engine.journeys.catalog import Catalog
from engine.journeys.evolve import is_engine_event
from engine.journeys.simulation import Simulation
from events.base import Event
from events.journey import ChurnFlagged, JourneyCompleted, JourneyExited, JourneyStarted, MessageRequested, TaskCreated
from events.patient import PatientMerged

# The decisions compared, by engine event type, and the name the report gives each.
KINDS: dict[str, str] = {
    "message.requested": "message",
    "task.created": "task",
    "churn.flagged": "flag",
    "journey.exited": "exit",
    "journey.completed": "completion",
}
Change = Literal["added", "removed", "moved"]
CHANGES: tuple[Change, ...] = ("added", "removed", "moved")
Key = tuple[str, str, str, str, str, str, int]


@dataclass(frozen=True)
class Decision:
    """One compared decision of one run: ``at`` is a message's due time, else when it was decided."""

    patient_id: str
    journey_id: str
    instance: str  # the entry event's id where the instance started in this run, else the recorded instance id
    kind: str
    step_id: str
    what: str
    occurrence: int
    at: datetime
    reason: str

    @property
    def key(self) -> Key:
        return (self.patient_id, self.journey_id, self.instance, self.kind, self.step_id, self.what, self.occurrence)


@dataclass(frozen=True)
class Difference:
    change: Change
    patient_id: str
    journey_id: str
    kind: str
    step_id: str
    what: str
    current_at: datetime | None
    new_at: datetime | None
    reason: str  # the new run's reason where it made the decision, else the current run's
    was: str = ""  # where both runs made it (moved, or moved across the window's edge): the current run's reason

    @property
    def at(self) -> datetime:
        moment = self.new_at or self.current_at
        assert moment is not None  # a difference has at least one side, by construction
        return moment

    def as_json(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "patient_id": self.patient_id,
            "journey_id": self.journey_id,
            "kind": self.kind,
            "step_id": self.step_id,
            "what": self.what,
            "current_at": self.current_at.isoformat() if self.current_at else None,
            "new_at": self.new_at.isoformat() if self.new_at else None,
            "reason": self.reason,
            **({"was": self.was} if self.current_at and self.new_at else {}),
        }


@dataclass
class WhatIf:
    since: datetime | None
    until: datetime
    current: Counter[str] = field(default_factory=Counter)  # compared decisions per kind in the window, each run
    new: Counter[str] = field(default_factory=Counter)
    differences: list[Difference] = field(default_factory=list)

    def totals(self) -> dict[str, dict[str, int]]:
        """Per kind: the decisions each run made in the window and how many were added, removed, moved."""
        out: dict[str, dict[str, int]] = {}
        for kind in KINDS.values():
            changes = Counter(d.change for d in self.differences if d.kind == kind)
            out[kind] = {"current": self.current[kind], "new": self.new[kind], **{c: changes[c] for c in CHANGES}}
        return out

    def by_journey(self) -> dict[str, dict[str, int]]:
        """Per journey with differences: how many decisions were added, removed and moved."""
        out: dict[str, dict[str, int]] = {}
        for d in sorted(self.differences, key=lambda d: d.journey_id):
            out.setdefault(d.journey_id, dict.fromkeys(CHANGES, 0))[d.change] += 1
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat(),
            "totals": self.totals(),
            "by_journey": self.by_journey(),
            "differences": [d.as_json() for d in self.differences],
        }


def inputs_of(stream: Iterable[Event]) -> list[Event]:
    """What the history's decisions were made from: every event but the engine's own, in recorded order."""
    return [e for e in stream if not is_engine_event(e)]


def whatif(
    inputs: Sequence[Event],
    current: Catalog,
    new: Catalog,
    until: datetime,
    since: datetime | None = None,
    patients: Iterable[str] | None = None,
) -> WhatIf:
    """``inputs`` (no engine events) replayed through both catalogs with the clock run to ``until``; decisions
    before ``since`` are not compared. ``patients``: only these in the report (replayed with every patient a merge
    joins them to, as a merge hands journeys from one patient to another)."""
    wanted = set(patients) if patients is not None else None
    if wanted is not None:
        inputs = related(inputs, wanted)
    before, after = _run(inputs, current, until), _run(inputs, new, until)
    result = WhatIf(since=since, until=until)
    for patient_id in sorted(set(before) | set(after)):
        if wanted is not None and patient_id not in wanted:
            continue
        old, now = decisions(patient_id, before.get(patient_id, [])), decisions(patient_id, after.get(patient_id, []))
        result.current.update(d.kind for d in old if _within(d.at, since, until))
        result.new.update(d.kind for d in now if _within(d.at, since, until))
        result.differences += differences(old, now, since, until)
    result.differences.sort(key=_order)
    return result


def _order(d: Difference) -> tuple[str, str, datetime, str, str]:
    return (d.patient_id, d.journey_id, d.at, d.kind, d.step_id)


def parts(inputs: Sequence[Event], count: int) -> list[list[Event]]:
    """``inputs`` cut into at most ``count`` parts of about equal size that replay apart to the same decisions:
    each patient's events in one part, patients joined by a merge (which hands journeys over) in the same one, each
    part in recorded order. Groups are filled into parts in the order they first appear."""
    group = _merged_groups(inputs)
    sizes = Counter(group(e.patient_id) for e in inputs)
    target = -(-len(inputs) // max(1, count))
    part_of: dict[str, int] = {}
    part, filled = 0, 0
    for g, size in sizes.items():
        if filled >= target:
            part, filled = part + 1, 0
        part_of[g] = part
        filled += size
    out: list[list[Event]] = [[] for _ in range(part + 1 if inputs else 0)]
    for e in inputs:
        out[part_of[group(e.patient_id)]].append(e)
    return out


def related(inputs: Sequence[Event], patients: Iterable[str]) -> list[Event]:
    """The inputs of ``patients`` and of every patient a chain of merges joins one of them to, in recorded order:
    all that their decisions depend on."""
    group = _merged_groups(inputs)
    groups = {group(p) for p in patients}
    return [e for e in inputs if group(e.patient_id) in groups]


def _merged_groups(inputs: Sequence[Event]) -> Callable[[str], str]:
    """A patient's group: one patient, or every patient a chain of merges joins (union-find)."""
    parent: dict[str, str] = {}

    def find(patient_id: str) -> str:
        while (up := parent.get(patient_id, patient_id)) != patient_id:
            parent[patient_id] = parent.get(up, up)  # path halving
            patient_id = up
        return patient_id

    for e in inputs:
        if isinstance(e, PatientMerged):
            a, b = find(e.patient_id), find(e.into_patient_id)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return find


def combined(since: datetime | None, until: datetime, reports: Iterable[WhatIf]) -> WhatIf:
    """The reports of parts that replay apart (``parts``), as one report of the whole history."""
    result = WhatIf(since=since, until=until)
    for r in reports:
        result.current.update(r.current)
        result.new.update(r.new)
        result.differences += r.differences
    result.differences.sort(key=_order)
    return result


def _run(inputs: Sequence[Event], catalog: Catalog, until: datetime) -> dict[str, list[Event]]:
    sim = Simulation(catalog)
    sim.feed(inputs)
    sim.run_until(until)
    return sim.recorded


def decisions(patient_id: str, recorded: Sequence[Event]) -> list[Decision]:
    """The compared decisions of one patient's recorded run, each with its stable key."""
    entered: dict[str, str] = {}  # instance id -> the entry event's id
    seen: Counter[tuple[str, ...]] = Counter()
    out: list[Decision] = []
    for event in recorded:
        if isinstance(event, JourneyStarted):
            entered[event.instance_id] = event.entry_event_id
        kind = KINDS.get(event.type)
        if kind is None:
            continue
        journey_id, instance_id = getattr(event, "journey_id", ""), getattr(event, "instance_id", "")
        instance = entered.get(instance_id, instance_id)
        step_id, what = getattr(event, "step_id", None) or "", _what(event)
        seen[(journey_id, instance, kind, step_id, what)] += 1
        occurrence = seen[(journey_id, instance, kind, step_id, what)]
        at = event.due_at if isinstance(event, MessageRequested) else event.occurred_at
        reason = getattr(event, "reason", "")
        out.append(Decision(patient_id, journey_id, instance, kind, step_id, what, occurrence, at, reason))
    return out


def _what(event: Event) -> str:
    if isinstance(event, MessageRequested):
        return event.template
    if isinstance(event, TaskCreated):
        return f"{event.queue}: {event.title}"
    if isinstance(event, ChurnFlagged):
        return event.flag_reason
    if isinstance(event, JourneyExited | JourneyCompleted):
        return event.outcome
    return ""


def differences(
    current: Sequence[Decision], new: Sequence[Decision], since: datetime | None, until: datetime
) -> list[Difference]:
    """Added, removed and moved decisions of one patient; a pair is compared when either side is in the window."""
    old_by_key = {d.key: d for d in current}
    new_by_key = {d.key: d for d in new}
    out: list[Difference] = []
    for key, d in new_by_key.items():
        was = old_by_key.get(key)
        if was is None:
            if _within(d.at, since, until):
                out.append(_difference("added", None, d))
        elif was.at != d.at and (_within(d.at, since, until) or _within(was.at, since, until)):
            out.append(_difference(_move(was.at, d.at, since, until), was, d))
    out += [
        _difference("removed", d, None)
        for key, d in old_by_key.items()
        if key not in new_by_key and _within(d.at, since, until)
    ]
    return out


def _move(current: datetime, new: datetime, since: datetime | None, until: datetime) -> Change:
    """Moved within the window; moved out of it counts as removed from it, moved into it as added (both times
    kept), so that each kind's current count plus added minus removed is its new count."""
    if not _within(new, since, until):
        return "removed"
    return "moved" if _within(current, since, until) else "added"


def _difference(change: Change, current: Decision | None, new: Decision | None) -> Difference:
    d = new or current
    assert d is not None  # one side at least, by the callers
    return Difference(
        change=change,
        patient_id=d.patient_id,
        journey_id=d.journey_id,
        kind=d.kind,
        step_id=d.step_id,
        what=d.what,
        current_at=current.at if current else None,
        new_at=new.at if new else None,
        reason=d.reason,
        was=current.reason if current and new else "",
    )


def _within(at: datetime, since: datetime | None, until: datetime) -> bool:
    return (since is None or at >= since) and at <= until


__all__ = [
    "KINDS",
    "Decision",
    "Difference",
    "WhatIf",
    "combined",
    "decisions",
    "differences",
    "inputs_of",
    "parts",
    "related",
    "whatif",
]
