"""Checks of the `deployment:` section against the journeys of the same file: the journeys, versions and steps its
rollouts and migrations name. Runs on the raw data, item by item, so one bad item does not hide the others' errors
(an item that does not parse is reported by the schema check already)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from engine.journeys import definition as d
from engine.language.checks import Finding
from engine.yamlfile.source import Path
from engine.yamlfile.suggest import did_you_mean

M = TypeVar("M", bound=BaseModel)
Held = dict[tuple[str, int], dict[str, str | None]]  # (journey, version) in the file -> step id -> step kind
_WAITING_KINDS = ("wait", "wait_for")


def check_deployment(section: Any, journeys: Any) -> Iterator[Finding]:
    if not isinstance(section, dict):
        return
    held = _held(journeys)
    yield from _check_rollouts(_items(section, "rollouts", d.RolloutRule), held)
    yield from _check_migrations(_items(section, "migrations", d.MigrationRule), held)


def _held(journeys: Any) -> Held:
    held: Held = {}
    for raw in journeys if isinstance(journeys, list) else []:
        if isinstance(raw, dict) and isinstance(raw.get("version"), int):
            steps = raw.get("steps")
            listed = steps if isinstance(steps, list) else []
            kinds = {str(s["id"]): d.step_kind(s) for s in listed if isinstance(s, dict) and "id" in s}
            held[(str(raw.get("id")), raw["version"])] = kinds
    return held


def _items(section: dict[str, Any], key: str, model: type[M]) -> Iterator[tuple[int, M]]:
    raw = section.get(key)
    for k, item in enumerate(raw if isinstance(raw, list) else []):
        try:
            yield k, model.model_validate(item)
        except ValidationError:
            continue


def _versions(held: Held, journey: str) -> list[int]:
    return sorted(v for j, v in held if j == journey)


def _unknown_journey(held: Held, journey: str, path: Path) -> Finding | None:
    if _versions(held, journey):
        return None
    known = {j for j, _ in held}
    return Finding((*path, "journey"), f"unknown journey {journey!r}{did_you_mean(journey, known)}")


def _check_rollouts(rules: Iterator[tuple[int, d.RolloutRule]], held: Held) -> Iterator[Finding]:
    first: dict[str, int] = {}
    for k, rule in rules:
        path: Path = ("deployment", "rollouts", k)
        if unknown := _unknown_journey(held, rule.journey, path):
            yield unknown
            continue
        if rule.journey in first:
            yield Finding(
                (*path, "journey"),
                f"a second rollout of {rule.journey} (the first is rollouts item {first[rule.journey] + 1}): "
                "one rollout per journey",
            )
        first.setdefault(rule.journey, k)
        yield from _rollout_version(rule, _versions(held, rule.journey), (*path, "version"))


def _rollout_version(rule: d.RolloutRule, versions: list[int], path: Path) -> Iterator[Finding]:
    listed = ", ".join(f"v{v}" for v in versions)
    if rule.version not in versions:
        yield Finding(path, f"{rule.journey} has no version {rule.version} in this file (it has {listed})")
    elif rule.version != versions[-1]:
        yield Finding(
            path,
            f"{rule.journey} v{rule.version} is not its newest version in this file (v{versions[-1]}): a rollout "
            "tries the newest version on a share of new entries",
        )
    elif len(versions) == 1:
        yield Finding(
            path,
            f"a rollout of {rule.journey} v{rule.version} needs the version the other new entries start on: keep "
            f"a lower version of {rule.journey} in the file beside v{rule.version}",
        )


def _check_migrations(rules: Iterator[tuple[int, d.MigrationRule]], held: Held) -> Iterator[Finding]:
    migrated: dict[tuple[str, int], int] = {}
    for k, rule in rules:
        path: Path = ("deployment", "migrations", k)
        if unknown := _unknown_journey(held, rule.journey, path):
            yield unknown
            continue
        for v in rule.from_versions:
            if (rule.journey, v) in migrated:
                yield Finding(
                    (*path, "from"),
                    f"{rule.journey} v{v} already has a migration (migrations item {migrated[(rule.journey, v)] + 1}):"
                    " one migration per version",
                )
            migrated.setdefault((rule.journey, v), k)
        if (rule.journey, rule.to) not in held:
            listed = ", ".join(f"v{v}" for v in _versions(held, rule.journey))
            yield Finding(
                (*path, "to"),
                f"{rule.journey} has no version {rule.to} in this file (it has {listed}): instances move to a "
                "version of this file",
            )
        yield from _check_map(rule, held, path)


def _check_map(rule: d.MigrationRule, held: Held, path: Path) -> Iterator[Finding]:
    targets = held.get((rule.journey, rule.to))
    # Keys are checked when the file holds every `from` version; an archived one is checked by `deploy --plan`.
    olds = [held[(rule.journey, v)] for v in rule.from_versions if (rule.journey, v) in held]
    complete = len(olds) == len(rule.from_versions)
    for old, new in rule.map.items():
        at: Path = (*path, "map", old)
        if old == d.END:
            yield Finding(at, "map: 'end' is not a step an instance can wait at; map a step id of the old version")
        elif complete:
            yield from _map_key(rule, old, olds, at)
        if targets is not None and new != d.END and new not in targets:
            choices = [*targets, d.END]
            yield Finding(
                at,
                f"map {old}: {new!r} is not a step of {rule.journey} v{rule.to}{did_you_mean(new, choices)} "
                f"(its steps: {', '.join(targets)}, or 'end')",
            )


def _map_key(rule: d.MigrationRule, old: str, olds: list[dict[str, str | None]], at: Path) -> Iterator[Finding]:
    versions = ", ".join(f"v{v}" for v in rule.from_versions)
    kinds = {old_kinds[old] for old_kinds in olds if old in old_kinds}
    if not kinds:
        known = {s for old_kinds in olds for s in old_kinds}
        yield Finding(
            at, f"map: {old!r} is not a step of {rule.journey} {versions}{did_you_mean(old, known)}", key=True
        )
    elif not kinds & set(_WAITING_KINDS):
        yield Finding(
            at,
            f"map: {old!r} is a {' / '.join(sorted(str(k) for k in kinds))} step: instances only wait at wait and "
            "wait_for steps, so this entry would never apply",
            key=True,
        )
