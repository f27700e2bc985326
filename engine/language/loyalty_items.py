"""Reading the `loyalty:` section's raw data item by item for its checks (loyalty_checks.py, loyalty_tier_checks.py):
an item that does not parse is skipped here, the schema check reports it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from engine.language.checks import Finding
from engine.yamlfile.source import Path

M = TypeVar("M", bound=BaseModel)
ROOT: Path = ("loyalty",)


def items(section: Any, key: str, model: type[M]) -> Iterator[tuple[int, M]]:
    """The items of the list under ``key`` that parse, with their indexes."""
    raw = section.get(key) if isinstance(section, dict) else None
    for k, item in enumerate(raw if isinstance(raw, list) else []):
        if (parsed := one(item, model)) is not None:
            yield k, parsed


def one(raw: Any, model: type[M]) -> M | None:
    try:
        return model.model_validate(raw) if raw is not None else None
    except ValidationError:
        return None


def unique(listed: list[tuple[int, Any]], key: str, what: str, under: Path = ()) -> Iterator[Finding]:
    """A second item with an id already used, at its id."""
    first: dict[str, int] = {}
    for k, item in listed:
        if item.id in first:
            yield Finding(
                (*ROOT, key, *under, k, "id"),
                f"a second {what} {item.id!r} (the first is item {first[item.id] + 1}): ids are unique",
            )
        first.setdefault(item.id, k)


def walk(node: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    """Every (path, value) under ``node``, mappings' keys as text."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, str(key)), value
            yield from walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, (*path, i))


def at(node: Any, path: Path) -> Any:
    for part in path:
        node = node[part]
    return node
