"""Checks of the `loyalty:` section's tiers and rewards (issue 17): levels from a base up with their thresholds in
order, rewards fitting their kind and naming real levels and badges, and journeys' conditions on the membership
naming declared levels and privileges."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.journeys import loyalty_definition as ld
from engine.language.checks import Finding
from engine.language.loyalty_items import ROOT, at, items, unique, walk
from engine.yamlfile.source import Path
from engine.yamlfile.suggest import did_you_mean


def parsed_levels(section: dict[str, Any]) -> list[tuple[int, ld.Level]]:
    tiers = section.get("tiers")
    return list(items(tiers, "levels", ld.Level)) if isinstance(tiers, dict) else []


def check_levels(levels: list[tuple[int, ld.Level]]) -> Iterator[Finding]:
    yield from unique(levels, "tiers", "level", ("levels",))
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


def check_rewards(
    rewards: Iterator[tuple[int, ld.Reward]], levels: list[tuple[int, ld.Level]], badges: set[str]
) -> Iterator[Finding]:
    listed = list(rewards)
    yield from unique(listed, "rewards", "reward")
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


def check_journey_conditions(journeys: Any, levels: list[tuple[int, ld.Level]], has_tiers: bool) -> Iterator[Finding]:
    if not has_tiers:
        return
    level_ids = list(dict.fromkeys(level.id for _, level in levels))
    privileges = {p for _, level in levels for p in level.privileges}
    for path, cond in walk(journeys, ("journeys",)):
        if path[-1] != "field" or cond not in ("patient.loyalty.tier", "patient.loyalty.privileges"):
            continue
        parent = at(journeys, path[1:-1])
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
