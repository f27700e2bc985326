"""What a projection is: a name, the tables it owns, its DDL, and a pure event -> row operations mapping."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources

from events.base import Event
from projections.ops import Op


@dataclass(frozen=True, slots=True)
class Projection:
    name: str
    tables: tuple[str, ...]  # truncated by a rebuild, counted by status
    changes: Callable[[Event, int], Sequence[Op]]  # (event, its notification id) -> row operations
    package: str  # holds schema.sql

    def schema_sql(self) -> str:
        return resources.files(self.package).joinpath("schema.sql").read_text(encoding="utf-8")
