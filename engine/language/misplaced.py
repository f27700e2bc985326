"""Explain a key its mapping does not allow: a known key at the wrong place (say where it belongs), or a
misspelling (suggest the close matches among the keys allowed there). Never suggests the key itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.yamlfile.placement import LIST_ITEM, MAP_ENTRY, Grammar, Located, Pattern, Place, Tags
from engine.yamlfile.source import Path
from engine.yamlfile.suggest import closest, did_you_mean

_MENTIONED = 3  # places named at most, nearest first
# What the items of a list are called where its name does not say it.
_NOUNS = {"when": "condition", "all": "condition", "any": "condition", "channel_rules": "channel rule"}


@dataclass(frozen=True)
class _Home:
    """A place where the key is allowed, ranked by how near it is to where the key stands."""

    rank: tuple[int, ...]
    text: str
    fix: str = ""  # what to do, when it is one thing


def explain_unknown_key(grammar: Grammar, data: Any, parent: Path, key: str) -> str:
    """Why ``key`` may not stand in the mapping at ``parent`` and what to do instead."""
    here = grammar.locate(data, parent)
    if here is None:
        return f"unknown field {key!r} under {dotted(parent)}"
    allowed = ", ".join(sorted(here.place.keys))
    homes = _homes(grammar, data, here, key)
    if homes:
        where = ", or ".join(h.text for h in homes)
        fix = f": {homes[0].fix}" if len(homes) == 1 and homes[0].fix else ""
        return (
            f"{key!r} is not allowed under {_named(here)}: {key!r} belongs {where}, not {_this(here)}{fix}; "
            f"keys allowed here: {allowed}"
        )
    hint = did_you_mean(key, here.place.keys)
    if hint:
        return f"unknown field {key!r}{hint} (keys allowed under {dotted(parent)}: {allowed})"
    near = _near_match(grammar, data, here, key)
    if near is not None:
        match, home = near
        return f"unknown field {key!r} under {_named(here)}; did you mean {match!r}? It belongs {home.text}"
    return f"unknown field {key!r} under {_named(here)} (keys allowed there: {allowed})"


def dotted(path: Path) -> str:
    """journeys[2].steps[1].message: how a path is written in messages."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out or "the top level"


def _homes(grammar: Grammar, data: Any, here: Located, key: str) -> list[_Home]:
    homes = sorted((_home(data, here, p, key) for p in grammar.homes(key)), key=lambda h: h.rank)
    best = [h for h in homes if h.rank[:2] == homes[0].rank[:2]] if homes else []
    unique = {h.text: h for h in best}
    return list(unique.values())[:_MENTIONED]


def _near_match(grammar: Grammar, data: Any, here: Located, key: str) -> tuple[str, _Home] | None:
    """A close match among the keys of the mappings just inside or around this one ('priorty' under a step)."""
    near = {k for p in grammar.places for k in p.keys if _home(data, here, p, k).rank[0] <= 1}
    match = closest(key, near - set(here.place.keys))
    if match is None:
        return None
    homes = _homes(grammar, data, here, match)
    return (match, homes[0]) if homes else None


def _home(data: Any, here: Located, place: Place, key: str) -> _Home:
    mine, theirs = here.place.pattern, place.pattern
    size = len(mine)
    if theirs[:size] == mine and len(theirs) > size and _agree(place.tags, here.place.tags, size + 1):
        child = theirs[size]
        present = isinstance(here.value, dict) and child in here.value
        fix = f"move it into '{child}:'" if present else ""
        return _Home((0 if present else 2, 0, len(theirs)), f"under {_pattern(theirs[size:])}", fix)
    if mine[: len(theirs)] == theirs and len(theirs) < size and _agree(place.tags, here.place.tags, len(theirs) + 1):
        return _ancestor(data, here, len(theirs))
    common = _common(place, here.place)
    return _Home((3, -common, len(theirs)), _elsewhere(place, common, key, here.path[:common]))


def _ancestor(data: Any, here: Located, depth: int) -> _Home:
    rank = (1, len(here.path) - depth)
    level = here.path[depth]
    if depth == 0:
        return _Home(rank, "at the top level of the file", f"indent it like '{level}:' (not at all)")
    path = here.path[:depth]
    owner = Located(Place(here.place.pattern[:depth], here.place.model), path, _value(data, path))
    return _Home(rank, f"directly under {_named(owner)}", f"indent it like '{level}:'")


def _elsewhere(place: Place, common: int, key: str, shared: Path) -> str:
    rest = place.pattern[common:]
    kind = next((_a(tag, _noun(place.pattern[:k])) for k, tag in place.tags if k >= common), None)
    if not rest:
        if dict(place.tags).get(common) == key:
            return f"to a step of its own (a step does one thing: add '- id: ...' with '{key}:')"
        return f"in {kind}" if kind else "elsewhere"
    if common == 0 and len(rest) == 1:
        return f"in the top-level '{rest[0]}:' section"
    if common and place.pattern[common - 1] != LIST_ITEM:
        rest = (*(str(p) for p in shared), *rest)  # name the shared mapping: 'outreach.caps[]', not 'caps[]'
    return f"under {_pattern(rest)}" + (f" of {kind}" if kind else "")


def _a(tag: str, noun: str) -> str:
    return f"{'an' if tag[:1] in 'aeiou' else 'a'} {tag!r} {noun}"


def _value(data: Any, path: Path) -> Any:
    for part in path:
        data = data[part]
    return data


def _this(here: Located) -> str:
    pattern = here.place.pattern
    if not pattern:
        return "at the top level"
    if pattern[-1] == LIST_ITEM:
        return f"directly under the {_noun(pattern)}"
    return f"under '{here.path[-1]}:'"


def _named(here: Located) -> str:
    """journeys[0].steps[1] (step 'day-3'): the path, and the item's id or name where it has one."""
    where = dotted(here.path)
    value = here.value if isinstance(here.value, dict) else {}
    pattern = here.place.pattern
    label = next((value[k] for k in ("id", "name") if isinstance(value.get(k), str)), None)
    if pattern and pattern[-1] == LIST_ITEM and label is not None:
        return f"{where} ({_noun(pattern)} {label!r})"
    return where


def _noun(pattern: Pattern) -> str:
    """'step' for an item of steps: the list's name made singular, or what its items are."""
    name = next((p for p in reversed(pattern) if p not in (LIST_ITEM, MAP_ENTRY)), "item")
    return _NOUNS.get(name) or (name[:-1] if name.endswith("s") else name)


def _pattern(parts: Pattern) -> str:
    """'message:' or 'wait_for.events[]': a relative pattern as written in messages."""
    out = ""
    for part in parts:
        if part == LIST_ITEM:
            out += "[]"
        elif part == MAP_ENTRY:
            out += ".<name>"
        else:
            out += f".{part}" if out else part
    return f"'{out}:'" if parts[-1] not in (LIST_ITEM, MAP_ENTRY) else f"'{out}'"


def _agree(theirs: Tags, mine: Tags, upto: int) -> bool:
    """Both go through the same variant of every tagged union before pattern length ``upto``."""
    a, b = dict(theirs), dict(mine)
    return all(a[k] == b[k] for k in a.keys() & b.keys() if k < upto)


def _common(place: Place, mine: Place) -> int:
    """How much of the pattern two places share, up to the first union where they take different variants."""
    size = 0
    for x, y in zip(place.pattern, mine.pattern, strict=False):
        if x != y:
            break
        size += 1
    differ = [k for k, t in place.tags if k <= size and dict(mine.tags).get(k, t) != t]
    return min([size, *differ])
