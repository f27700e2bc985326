"""Row operations folded in memory with PostgreSQL's semantics, then written with COPY: a rebuild's fast path.

A rebuild replays the whole log into empty tables. Executed one by one, its row operations cost a statement
each, most of them updates of a row inserted a moment before (a reminder is requested, approved, sent,
delivered...). Folded here instead, each row reaches PostgreSQL once, in its final state, through COPY.

The fold follows what projections.sql's statements do, not projections.memory's simpler reading:
- an upsert inserts ``values``, or on the same key sets every value but the key and the ``keep`` columns
  (those only while the existing row's ``keep_while`` column equals its value: ``CASE WHEN t.c = v``);
- an update sets ``values`` on the rows whose ``where`` columns equal its values (``c = v``: never true for
  NULL) and whose ``unless`` columns differ (``c IS DISTINCT FROM v``);
- a delete removes the rows whose ``where`` columns equal its values (an erased patient's);
- a column an operation never wrote holds its default: NULL, or the constant the table declares (``defaults``).
Rows are found by key when an update names the whole key, else through an index on its ``where`` columns,
built the first time that shape is seen and kept up to date from then on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from psycopg import Cursor, sql

from projections.errors import ProjectionError
from projections.ops import Delete, Op, Upsert

Key = tuple[Any, ...]
Row = dict[str, Any]


class FoldedTable:
    def __init__(self, name: str, defaults: Mapping[str, Any]) -> None:
        self.name = name
        self.defaults = dict(defaults)
        self.key: tuple[str, ...] | None = None
        self._keyset: frozenset[str] = frozenset()
        self.rows: dict[Key, Row] = {}
        self._indexes: dict[tuple[str, ...], dict[Key, set[Key]]] = {}
        self._loaded: dict[Key, tuple[str, tuple[tuple[str, Any], ...]]] = {}  # key: (ctid, row as stored)

    def keyed(self, key: tuple[str, ...]) -> None:
        """Rows are keyed by ``key``: the table's upsert key (what its upserts will name)."""
        if self.key != key:
            if self.key is not None:
                raise ProjectionError(f"{self.name}: upserts keyed by {self.key} and by {key}")
            self.key = key
            self._keyset = frozenset(key)

    # --- operations ------------------------------------------------------------------------------------------

    def upsert(self, op: Upsert) -> None:
        if self.key != op.key:
            self.keyed(op.key)
        values = op.values
        key = tuple([values[c] for c in op.key])
        old = self.rows.get(key)
        if old is None:
            row = dict(values)
            self.rows[key] = row
            for columns, index in self._indexes.items():
                index.setdefault(self._project(row, columns), set()).add(key)
            return
        if op.keep_while is None:
            skip = set(op.key).union(op.keep)
        else:
            column, value = op.keep_while
            keeping = value is not None and self._get(old, column) == value
            skip = set(op.key).union(op.keep) if keeping else set(op.key)
        self._set(key, old, {c: v for c, v in values.items() if c not in skip})

    def update(self, values: Mapping[str, Any], where: Mapping[str, Any], unless: Mapping[str, Any]) -> None:
        if not self.rows or None in where.values():
            return  # `c = NULL` matches nothing
        key = self.key
        if key is not None:
            keyset = self._keyset
            if not keyset.isdisjoint(values):
                raise ProjectionError(f"{self.name}: an update of the key columns {key} cannot be folded in memory")
            if keyset <= where.keys():  # the usual case: one row by its key, or none
                k = tuple([where[c] for c in key])
                row = self.rows.get(k)
                if row is not None and self._matches(row, where, unless):
                    self._set(k, row, values)
                return
        columns = tuple(sorted(where))
        index = self._index(columns)
        for k in tuple(index.get(tuple([where[c] for c in columns]), ())):
            row = self.rows[k]
            if self._matches(row, where, unless):
                self._set(k, row, values)

    def delete(self, where: Mapping[str, Any]) -> None:
        if not self.rows or None in where.values():
            return  # `c = NULL` matches nothing
        if self.key is not None and self._keyset <= where.keys():
            found: tuple[Key, ...] = (tuple([where[c] for c in self.key]),)
        else:
            found = tuple(self._index(tuple(sorted(where))).get(tuple([where[c] for c in sorted(where)]), ()))
        for k in found:
            row = self.rows.get(k)
            if row is None or not self._matches(row, where, {}):
                continue
            for columns, index in self._indexes.items():
                index[self._project(row, columns)].discard(k)
            del self.rows[k]

    def _index(self, columns: tuple[str, ...]) -> dict[Key, set[Key]]:
        index = self._indexes.get(columns)
        if index is None:
            index = self._indexes[columns] = {}
            for k, row in self.rows.items():
                index.setdefault(self._project(row, columns), set()).add(k)
        return index

    def _matches(self, row: Row, where: Mapping[str, Any], unless: Mapping[str, Any]) -> bool:
        get = self._get
        for c, v in where.items():
            if get(row, c) != v:
                return False
        return not unless or all(get(row, c) != v for c, v in unless.items())  # `c IS DISTINCT FROM v`

    # --- rows ------------------------------------------------------------------------------------------------

    def _get(self, row: Row, column: str) -> Any:
        return row[column] if column in row else self.defaults.get(column)

    def _project(self, row: Row, columns: tuple[str, ...]) -> Key:
        return tuple([self._get(row, c) for c in columns])

    def _set(self, key: Key, row: Row, values: Mapping[str, Any]) -> None:
        if not self._indexes:
            row.update(values)
            return
        moved = [
            (columns, index, self._project(row, columns))
            for columns, index in self._indexes.items()
            if any(c in values for c in columns)
        ]
        row.update(values)
        for columns, index, before in moved:
            after = self._project(row, columns)
            if after != before:
                index[before].discard(key)
                index.setdefault(after, set()).add(key)

    # --- rows stored already (a rebuild in chunks: projections.chunks) ------------------------------------------

    def load(self, ctid: str, row: Row) -> int:
        """A row as the table holds it (every column), before this fold's operations; 0 if held already."""
        if self.key is None:
            raise ProjectionError(f"{self.name}: rows loaded before the table's key is known")
        key = tuple([row[c] for c in self.key])
        if key in self.rows:
            return 0
        self.rows[key] = row
        self._loaded[key] = (ctid, tuple(row.items()))
        for columns, index in self._indexes.items():
            index.setdefault(self._project(row, columns), set()).add(key)
        return 1

    def changed(self) -> tuple[list[str], list[Row]]:
        """(ctids of loaded rows changed or deleted, rows to write: new ones and the changed ones' new state)."""
        stale: list[str] = []
        written: list[Row] = []
        loaded = self._loaded
        for key, (ctid, stored) in loaded.items():
            row = self.rows.get(key)
            if row is None or tuple(row.items()) != stored:
                stale.append(ctid)
        for key, row in self.rows.items():
            if key not in loaded or tuple(row.items()) != loaded[key][1]:
                written.append(row)
        return stale, written

    def copy_into(self, cursor: Cursor[Any], rows: Iterable[Row] | None = None) -> int:
        """COPY ``rows`` (default: every row) into the table; rows that never wrote a column leave it to its
        default. Return how many."""
        shapes: dict[tuple[str, ...], list[Row]] = {}
        count = 0
        for row in self.rows.values() if rows is None else rows:
            count += 1
            shapes.setdefault(tuple(row), []).append(row)
        for columns, shaped in shapes.items():
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(self.name), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
            )
            with cursor.copy(statement) as copy:
                for row in shaped:
                    copy.write_row(tuple(row.values()))
        return count


class Fold:
    """Every table of a set of projections, folded in memory."""

    def __init__(self, defaults: Mapping[str, Mapping[str, Any]]) -> None:
        self._defaults = defaults
        self.tables: dict[str, FoldedTable] = {}

    def table(self, name: str) -> FoldedTable:
        table = self.tables.get(name)
        if table is None:
            table = self.tables[name] = FoldedTable(name, self._defaults.get(name, {}))
        return table

    def apply(self, ops: Iterable[Op]) -> None:
        tables = self.tables
        for op in ops:
            table = tables.get(op.table) or self.table(op.table)
            if isinstance(op, Upsert):
                table.upsert(op)
            elif isinstance(op, Delete):
                table.delete(op.where)
            else:
                table.update(op.values, op.where, op.unless)


def column_defaults(cursor: Cursor[Any], tables: Iterable[str]) -> dict[str, dict[str, Any]] | None:
    """Each table's constant column defaults (``''``, ``false``...), evaluated by PostgreSQL; None when one is
    not a constant (now(), a sequence), which a fold in memory could not reproduce."""
    rows = cursor.execute(
        "SELECT table_name, column_name, column_default FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ANY(%s) AND column_default IS NOT NULL",
        (list(tables),),
    ).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for table, column, default in rows:
        if "(" in default:
            return None
        value = cursor.execute(sql.SQL("SELECT {}").format(sql.SQL(default))).fetchone()
        out.setdefault(table, {})[column] = value[0] if value else None
    return out
