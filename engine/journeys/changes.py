"""What changed between two compiled journeys files, for `careloop diff`. Pure.

The compiled models are compared, not the YAML text, so reformatting and comments are no change. Values are shown
the way the file writes them (durations as '3d', a step or rule as its flow mapping without defaults).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from typing import Any, Literal

from pydantic import BaseModel

from engine.journeys import definition as d
from engine.journeys.catalog import Catalog, content_hash
from engine.journeys.conditions import AllOf, AnyOf, Compare, NotOf
from engine.journeys.durations import Duration
from engine.journeys.valuesets import ValueSet

What = Literal["added", "removed", "changed", "moved"]
Status = Literal["added", "removed", "changed", "unchanged"]
NONE = "(none)"
ARROW = "→"
# Fields that name an item of a list, tried in this order: exits by event, arms by name, caps by channel...
_KEYS = ("id", "name", "event", "channel", "reason")
_CONDITIONS = (Compare, AllOf, AnyOf, NotOf)
# Journey fields compared one by one; id and version are the journey's identity, steps are compared by id.
_JOURNEY_FIELDS = ("name", "description", "entry", "exit", "goals")


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: ``field`` is a path inside the step (or journey, or file) such as 'wait.offset'."""

    what: What
    field: str
    old: str | None
    new: str | None
    step: str | None = None


@dataclass(frozen=True, slots=True)
class JourneyChanges:
    id: str
    status: Status
    old_version: int | None
    new_version: int | None
    content_changed: bool = False
    unbumped: bool = False  # same version, different content: deploy refuses the file
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True, slots=True)
class Changes:
    journeys: tuple[JourneyChanges, ...]
    file: tuple[Change, ...] = field(default=())

    @property
    def identical(self) -> bool:
        return not self.file and all(j.status == "unchanged" for j in self.journeys)

    def totals(self) -> dict[str, int]:
        def count(status: Status) -> int:
            return sum(j.status == status for j in self.journeys)

        return {
            "journeys_added": count("added"),
            "journeys_removed": count("removed"),
            "journeys_changed": count("changed"),
            "journeys_unchanged": count("unchanged"),
            "unbumped": sum(j.unbumped for j in self.journeys),
            "journey_changes": sum(len(j.changes) for j in self.journeys),
            "file_changes": len(self.file),
        }


def compare(old: Catalog, new: Catalog) -> Changes:
    """Every difference from ``old`` to ``new``: journeys in the new file's order, then those it removed."""
    ids = [*new.current, *(i for i in old.current if i not in new.current)]
    journeys = tuple(_journey(old, new, i) for i in ids)
    file: list[Change] = []
    for name, before, after in (
        ("settings", old.settings, new.settings),
        ("outreach", old.outreach, new.outreach),
        ("value_sets", old.value_sets, new.value_sets),
        ("templates", old.templates, new.templates),
        ("churn", old.churn, new.churn),
    ):
        file += walk((name,), before, after)
    file += deployment_changes(old, new)
    return Changes(journeys, tuple(file))


def deployment_changes(old: Catalog, new: Catalog) -> list[Change]:
    """The `deployment:` section's differences, rule by rule: rollouts by journey, migrations by journey and
    from-versions. Read from each catalog's latest deployment (a file loaded alone: its own section), so a salt
    written out as its default, or `from: 2` as `[2]`, is no change: the draw and the migration are the same."""
    before, after = _rules(old), _rules(new)
    return [c for part in ("rollouts", "migrations") for c in _keyed(("deployment", part), before[part], after[part])]


def _rules(catalog: Catalog) -> dict[str, dict[str, Any]]:
    latest = catalog.deployments[-1]
    rollouts = {
        r.journey_id: d.RolloutRule(
            journey=r.journey_id, version=r.candidate_version, share=r.share_bp / 100, salt=r.salt
        )
        for r in latest.rollouts.values()
    }
    migrations = {
        f"{m.journey_id} from {', '.join(f'v{v}' for v in m.from_versions)}": d.MigrationRule(
            journey=m.journey_id,
            from_=m.from_versions[0] if len(m.from_versions) == 1 else list(m.from_versions),
            to=m.to_version,
            running=m.running,
            map=dict(m.step_map),
        )
        for m in latest.directives
    }
    # Sorted, so that only a rule's content counts: neither list's order means anything (one rule per key).
    return {
        part: {f"[{k}]": v for k, v in sorted(rules.items())}
        for part, rules in (("rollouts", rollouts), ("migrations", migrations))
    }


def _journey(old: Catalog, new: Catalog, journey_id: str) -> JourneyChanges:
    before, after = old.current.get(journey_id), new.current.get(journey_id)
    if before is None or after is None:
        status: Status = "added" if before is None else "removed"
        return JourneyChanges(
            journey_id, status, before.version if before else None, after.version if after else None, True
        )
    changes = [*step_changes(before.steps, after.steps)]
    for name in _JOURNEY_FIELDS:
        changes += walk((name,), getattr(before, name), getattr(after, name))
    # The hash covers the version: compare the new content under the old version number.
    content_changed = old.hash_of(before) != content_hash(
        after.model_copy(update={"version": before.version}), new.value_sets
    )
    if content_changed and not changes:  # the hash covers the value sets the journey uses
        changes += _value_sets_behind(before, old, new)
    older = _older_versions(old, new, journey_id, after.version)
    changes += older
    unbumped = bool(older) or (content_changed and before.version == after.version)
    differs = bool(changes) or before.version != after.version
    return JourneyChanges(
        journey_id,
        "changed" if differs else "unchanged",
        before.version,
        after.version,
        content_changed,
        unbumped,
        tuple(changes),
    )


def position_changes(
    old: d.Journey,
    new: d.Journey,
    step_id: str,
    old_value_sets: Mapping[str, ValueSet],
    new_value_sets: Mapping[str, ValueSet],
) -> tuple[str, ...]:
    """Why an instance waiting at ``step_id`` of ``old`` cannot wait there in ``new``; empty: the step still exists
    and means the same (same kind and settings, same way out, same entry key and anchors, same value-set codes).

    Steps after it, exits and goals may differ: adopting them is the point of moving an instance.
    """
    if step_id not in {s.id for s in new.steps}:
        return ("step removed",)
    before, after = old.step(step_id), new.step(step_id)
    if d.step_kind(before) != d.step_kind(after):
        return (f"step kind changed: {d.step_kind(before)} {ARROW} {d.step_kind(after)}",)
    words = [_words(c) for c in _own_changes(old, new, step_id)]
    if isinstance(before, d.WaitStep):  # a wait_for's ways out are its targets, compared above
        was, becomes = old.next_after(step_id) or d.END, new.next_after(step_id) or d.END
        if was != becomes:
            words.append(f"successor: {was} {ARROW} {becomes}")
    words += [
        f"entry.{name} changed" for name in ("event", "key") if getattr(old.entry, name) != getattr(new.entry, name)
    ]
    named = _value_sets_named(before.model_dump(mode="json", by_alias=True))
    words += [f"value set {n} changed" for n in sorted(named) if old_value_sets.get(n) != new_value_sets.get(n)]
    return tuple(words)


def position_cause(words: Sequence[str]) -> Literal["step_removed", "step_changed", "entry_changed"]:
    """The cause ``journey.version_kept`` records for non-empty ``position_changes`` words."""
    if "step removed" in words:
        return "step_removed"
    if all(w.startswith("entry.") for w in words):
        return "entry_changed"
    return "step_changed"


def _own_changes(old: d.Journey, new: d.Journey, step_id: str) -> list[Change]:
    """The step's own differences, compared alone so that its place in the list does not count. A note means
    nothing to the engine; a wait's ``next`` is compared as its successor instead."""
    before, after = old.step(step_id), new.step(step_id)
    ignored = {"note", "next"} if isinstance(before, d.WaitStep) else {"note"}
    return [c for c in step_changes([before], [after]) if c.field.split(".")[0] not in ignored]


def _words(c: Change) -> str:
    if c.what == "added":
        return f"{c.field} added: {c.new}"
    if c.what == "removed":
        return f"{c.field} removed: {c.old}"
    return f"{c.field}: {c.old} {ARROW} {c.new}"


def step_changes(old: Sequence[d.AnyStep], new: Sequence[d.AnyStep]) -> list[Change]:
    """Steps removed, added, moved (their order among the steps both keep) and changed, matched by id."""
    before = {s.id: s for s in old}
    after = {s.id: s for s in new}
    out = [Change("removed", "", render(s), None, s.id) for s in old if s.id not in after]
    out += [Change("added", "", None, render(s), s.id) for s in new if s.id not in before]
    kept_old = [s.id for s in old if s.id in after]
    kept_new = [s.id for s in new if s.id in before]
    in_place = _in_place(kept_old, kept_new)
    for s in new:
        if s.id in before and s.id not in in_place:
            out.append(Change("moved", "position", _position(old, s.id), _position(new, s.id), s.id))
        if s.id in before:
            out += [
                Change(c.what, c.field, c.old, c.new, s.id) for c in walk((), before[s.id], s, skip=frozenset({"id"}))
            ]
    return out


def _in_place(old: list[str], new: list[str]) -> set[str]:
    """The ids that keep their order: the longest run of matches; the rest moved."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return {new[b.b + k] for b in matcher.get_matching_blocks() for k in range(b.size)}


def _position(steps: Sequence[d.AnyStep], step_id: str) -> str:
    ids = [s.id for s in steps]
    i = ids.index(step_id)
    return f"{i + 1}, after {ids[i - 1]}" if i else "1, first"


def walk(path: tuple[str, ...], old: Any, new: Any, skip: frozenset[str] = frozenset()) -> list[Change]:
    """The differences between two values of one field, down to the smallest part that differs."""
    if old == new:
        return []
    if _is_model(old) and type(old) is type(new):
        out: list[Change] = []
        for name, info in type(old).model_fields.items():
            if name not in skip:
                out += walk((*path, info.alias or name), getattr(old, name), getattr(new, name))
        return out
    if isinstance(old, dict) and isinstance(new, dict):
        return _keyed(path, old, new)
    if isinstance(old, list) and isinstance(new, list) and (key := _list_key(old, new)):
        return _keyed(path, {getattr(x, key): x for x in old}, {getattr(x, key): x for x in new}, brackets=True)
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and all(map(_is_model, old + new)):
        return [c for i, (a, b) in enumerate(zip(old, new, strict=True)) for c in walk((*path, f"[{i + 1}]"), a, b)]
    return [Change("changed", _dotted(path), render(old), render(new))]


def _keyed(path: tuple[str, ...], old: dict[Any, Any], new: dict[Any, Any], brackets: bool = False) -> list[Change]:
    def at(key: Any) -> tuple[str, ...]:
        return (*path, f"[{key}]" if brackets else str(key))

    out = [Change("removed", _dotted(at(k)), render(v), None) for k, v in old.items() if k not in new]
    out += [Change("added", _dotted(at(k)), None, render(v)) for k, v in new.items() if k not in old]
    kept_old, kept_new = [k for k in old if k in new], [k for k in new if k in old]
    if brackets and kept_old != kept_new:  # a list's order means something (first match wins, arms in order)
        out.append(Change("moved", _dotted((*path, "order")), ", ".join(kept_old), ", ".join(kept_new)))
    for k in kept_new:
        out += walk(at(k), old[k], new[k])
    return out


def _list_key(old: list[Any], new: list[Any]) -> str | None:
    """The field that names each item of both lists once, if there is one."""
    items = old + new
    if not items or not all(map(_is_model, items)):
        return None
    for key in _KEYS:
        named = all(isinstance(getattr(x, key, None), str) for x in items)
        if named and all(len({getattr(x, key) for x in side}) == len(side) for side in (old, new)):
            return key
    return None


def _is_model(value: Any) -> bool:
    return isinstance(value, BaseModel) and not isinstance(value, _CONDITIONS)


def _dotted(path: Iterable[str]) -> str:
    return "".join(p if p.startswith("[") or not i else f".{p}" for i, p in enumerate(path))


def _value_sets_behind(journey: d.Journey, old: Catalog, new: Catalog) -> list[Change]:
    names = sorted(_value_sets_named(journey.model_dump(mode="json", by_alias=True)))
    return [
        Change("changed", f"value set {n}", render(old.value_sets.get(n)), render(new.value_sets.get(n)))
        for n in names
        if old.value_sets.get(n) != new.value_sets.get(n)
    ]


def _value_sets_named(node: Any) -> set[str]:
    if isinstance(node, dict):
        own = {node["in_value_set"]} if isinstance(node.get("in_value_set"), str) else set()
        return own.union(*(_value_sets_named(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_value_sets_named(v) for v in node))
    return set()


def _older_versions(old: Catalog, new: Catalog, journey_id: str, current: int) -> list[Change]:
    """Earlier versions kept in both files (for running instances) that were edited: deploy refuses those too."""
    return [
        Change("changed", f"version {v}", "as before", "edited without a new version")
        for (i, v), j in new.versions.items()
        if i == journey_id and v != current and (i, v) in old.versions and old.hashes[(i, v)] != new.hash_of(j)
    ]


def render(value: Any) -> str:
    """A value as the journeys file writes it: scalars plain, models as flow mappings without their defaults."""
    if value is None:
        return NONE
    if isinstance(value, BaseModel):
        return render(value.model_dump(mode="json", by_alias=True, exclude_defaults=True))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Duration):
        return value.text
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, float) and value.is_integer():  # a share written 5 is read as 5.0
        return str(int(value))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render(v) for v in value) + "]"
    return str(value)
