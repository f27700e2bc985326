"""Row operations applied to dictionaries: the in-memory twin of projections.sql, for tests and what-ifs.

It follows the same semantics as the SQL statements: an upsert keeps ``keep`` columns of an existing row (while
``keep_while`` holds), an update changes every row matching ``where`` and not matching ``unless``, a delete removes
every row matching ``where``. Columns an
operation never mentions are absent here, where PostgreSQL would hold their default (NULL).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from projections.ops import Delete, Op, Upsert

Row = dict[str, Any]


class MemoryTables:
    def __init__(self) -> None:
        self.tables: dict[str, dict[tuple[Any, ...], Row]] = {}
        self.keys: dict[str, tuple[str, ...]] = {}  # each table's key columns, as its upserts name them

    def apply(self, ops: Iterable[Op]) -> MemoryTables:
        for op in ops:
            table = self.tables.setdefault(op.table, {})
            if isinstance(op, Upsert):
                self.keys[op.table] = op.key
                self._upsert(table, op)
            elif isinstance(op, Delete):
                for key in [k for k, row in table.items() if all(row.get(c) == v for c, v in op.where.items())]:
                    del table[key]
            else:
                for row in table.values():
                    if all(row.get(c) == v for c, v in op.where.items()) and all(
                        row.get(c) != v for c, v in op.unless.items()
                    ):
                        row.update(op.values)
        return self

    @staticmethod
    def _upsert(table: dict[tuple[Any, ...], Row], op: Upsert) -> None:
        key = tuple(op.values[k] for k in op.key)
        old = table.get(key)
        if old is None:
            table[key] = dict(op.values)
            return
        keeping = op.keep_while is None or old.get(op.keep_while[0]) == op.keep_while[1]
        for column, value in op.values.items():
            if column not in op.key and not (column in op.keep and keeping):
                old[column] = value

    def rows(self, table: str) -> list[Row]:
        """The table's rows in key order."""
        return [dict(row) for _, row in sorted(self.tables.get(table, {}).items(), key=lambda kv: repr(kv[0]))]
