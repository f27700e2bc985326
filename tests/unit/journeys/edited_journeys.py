"""The shipped journeys.yaml edited the way staff edit it (ruamel round trip: comments and layout kept), for the
`careloop diff` tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from engine.journeys.catalog import Catalog
from engine.language.loader import load_catalog
from tests.builders import JOURNEYS

Edit = Callable[[Any], None]


def write_edited(folder: Path, edit: Edit, name: str = "new.yaml", indent: tuple[int, int, int] | None = None) -> Path:
    """journeys.yaml with ``edit`` applied to its data, written to ``folder/name``; ``indent`` re-indents it."""
    yaml = YAML()
    if indent:
        yaml.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    data = yaml.load(JOURNEYS.read_text(encoding="utf-8"))
    edit(data)
    path = folder / name
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(data, out)
    return path


def edited(folder: Path, edit: Edit) -> Catalog:
    return load_catalog(write_edited(folder, edit))


def journey(data: Any, journey_id: str) -> Any:
    return next(j for j in data["journeys"] if j["id"] == journey_id)


def step(data: Any, journey_id: str, step_id: str) -> Any:
    return next(s for s in journey(data, journey_id)["steps"] if s["id"] == step_id)


def step_index(data: Any, journey_id: str, step_id: str) -> int:
    return [s["id"] for s in journey(data, journey_id)["steps"]].index(step_id)
