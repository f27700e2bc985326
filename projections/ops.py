"""Row operations: what a projection wants done to its tables, as plain data. Pure and comparable in tests.

Every kind is idempotent when a page is applied again in the same order: an upsert overwrites a row keyed by
a stable id (message_id, instance_id, event_id...), an update sets fixed values on the rows it matches, and a
delete removes rows that are then gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias


@dataclass(frozen=True, slots=True)
class Upsert:
    """Insert ``values`` as a row, or overwrite the row with the same ``key`` columns.

    ``keep`` columns are written only when the row is new; with ``keep_while=(column, value)`` an existing row
    keeps them only while its ``column`` equals ``value`` (a churn flag keeps its ``since`` while it is open).
    """

    table: str
    key: tuple[str, ...]
    values: Mapping[str, Any]
    keep: tuple[str, ...] = ()
    keep_while: tuple[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Update:
    """Set ``values`` on every row whose columns equal ``where`` and differ from ``unless``."""

    table: str
    values: Mapping[str, Any]
    where: Mapping[str, Any]
    unless: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete every row whose columns equal ``where``: an erased patient's rows (projections.base)."""

    table: str
    where: Mapping[str, Any]


Op: TypeAlias = Upsert | Update | Delete
