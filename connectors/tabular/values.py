"""Evaluating a spec value against one row: read cells, translate, parse. Pure; every failure names its column."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from connectors.phones import PhoneNumberError, e164, is_no_number
from connectors.tabular.spec import Condition, ContactSpec, Expr, Scalar
from events.base import Coding
from events.patient import Contact


class _Missing:
    """The cell was empty (or a ``when`` did not hold): the field is left out, or the row rejected if required."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final[_Missing] = _Missing()

# ISO 8601 as exports write it, ASCII digits only: Python's own parsers also accept other scripts' digits.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,6})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?", re.ASCII
)
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


class CellError(Exception):
    """A value in the row cannot become the field it maps to; ``column`` is None for constants."""

    def __init__(self, column: str | None, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


@dataclass(frozen=True, slots=True)
class RowContext:
    row: Mapping[str, str | None]
    key: str
    lookups: Mapping[str, Mapping[str, str]]
    zone: str  # of times without offset
    country: str  # of phone numbers without a country code
    quote: bool = True  # whether a reason may quote the bad cell (the spec's quote_values)


def cell(row: Mapping[str, str | None], column: str) -> str | None:
    """The cell's text without surrounding spaces; an empty or absent cell is None."""
    value = row.get(column)
    return value.strip() or None if value else None


def holds(condition: Condition, row: Mapping[str, str | None]) -> bool:
    value = cell(row, condition.column)
    if condition.present is not None and (value is not None) != condition.present:
        return False
    if condition.equals is not None and value != condition.equals:
        return False
    if condition.in_ is not None and value not in condition.in_:
        return False
    return not (condition.not_in is not None and value in condition.not_in)


def first_column(expr: Expr) -> str | None:
    """The column a value mostly depends on: what a rejection points at."""
    if expr.column is not None:
        return expr.column
    if expr.join:
        return expr.join[0]
    if expr.coding is not None:
        return first_column(expr.coding.code)
    contact = expr.contact or (expr.person.contact if expr.person else None)
    reach = (contact.phone, contact.email, contact.wechat_openid) if contact else ()
    named = (expr.person.name,) if expr.person else ()
    for inner in (*(expr.first or ()), *(expr.items or ()), *(v for v in (*named, *reach) if v is not None)):
        if (column := first_column(inner)) is not None:
            return column
    return None


def evaluate(expr: Expr, ctx: RowContext) -> Any:
    """The field value, or MISSING. Raises CellError when a value is present but wrong."""
    if not all(holds(c, ctx.row) for c in expr.when):
        return MISSING
    source = expr.source
    if source == "coding":
        return _coding(expr, ctx)
    if source == "contact":
        return _contact(expr, ctx)
    if source == "person":
        return _person(expr, ctx)
    if source == "first":
        return next((v for alt in expr.first or () if (v := evaluate(alt, ctx)) is not MISSING), MISSING)
    if source == "items":
        return tuple(v for item in expr.items or () if (v := evaluate(item, ctx)) is not MISSING)
    if source == "row_key":
        return ctx.key
    raw = _raw(expr, ctx)
    if raw is None:
        if expr.default is not None:
            return expr.default
        if expr.required:
            raise CellError(first_column(expr), f"column {first_column(expr)} is empty and the spec requires it")
        return MISSING
    if not isinstance(raw, str):
        return raw  # a non-text constant (a number or a flag) is already the value
    return _parse(_translate(raw, expr, ctx), expr, ctx)


def _raw(expr: Expr, ctx: RowContext) -> Scalar | None:
    if expr.column is not None:
        return cell(ctx.row, expr.column)
    if expr.join is not None:
        parts = [v for c in expr.join if (v := cell(ctx.row, c)) is not None]
        return expr.sep.join(parts) or None
    return expr.const


def _coding(expr: Expr, ctx: RowContext) -> Coding | _Missing:
    spec = expr.coding
    if spec is None:  # Expr.source said coding; this only narrows the type
        return MISSING
    code = evaluate(spec.code, ctx)
    if isinstance(code, _Missing):
        if expr.required:
            raise CellError(first_column(spec.code), f"column {first_column(spec.code)} is empty (the code)")
        return code
    display = evaluate(spec.display, ctx) if spec.display is not None else MISSING
    return Coding(system=spec.system, code=str(code), display=None if display is MISSING else str(display))


def _person(expr: Expr, ctx: RowContext) -> dict[str, Any] | _Missing:
    """A relative's name, contact, language and zone, those that have a value; MISSING when none has."""
    spec = expr.person
    if spec is None:
        return MISSING
    parts = {name: getattr(spec, name) for name in ("name", "language", "timezone")}
    found: dict[str, Any] = {
        n: str(v) for n, e in parts.items() if e is not None and (v := evaluate(e, ctx)) is not MISSING
    }
    if spec.contact is not None and (reach := _ways(spec.contact, ctx)) is not MISSING:
        found["contact"] = reach
    return found or MISSING


def _contact(expr: Expr, ctx: RowContext) -> Contact | _Missing:
    """A Contact of the ways given that have a value; MISSING when none has."""
    return _ways(expr.contact, ctx)


def _ways(spec: ContactSpec | None, ctx: RowContext) -> Contact | _Missing:
    ways = {name: getattr(spec, name) for name in ("phone", "email", "wechat_openid")} if spec else {}
    found = {name: str(v) for name, e in ways.items() if e is not None and (v := evaluate(e, ctx)) is not MISSING}
    return Contact(**found) if found else MISSING


def _translate(raw: str, expr: Expr, ctx: RowContext) -> str:
    table = expr.map if expr.map is not None else ctx.lookups.get(expr.lookup) if expr.lookup else None
    if table is None:
        return raw
    if raw in table:
        return table[raw]
    if expr.otherwise is not None:
        return expr.otherwise
    where = f"lookup {expr.lookup!r}" if expr.lookup else "the spec's map"
    known = ", ".join(sorted(table)[:12])
    column = first_column(expr)
    given = f"value {_show(raw)}" if ctx.quote else f"the value of column {column}"
    raise CellError(column, f"{given} is not in {where} (known: {known})")


def _parse(value: str, expr: Expr, ctx: RowContext) -> Any:
    column = first_column(expr)
    if expr.parse == "number":
        number = float(value) if _NUMBER.fullmatch(value) else math.nan
        if not math.isfinite(number):
            raise CellError(column, f"column {column}: {_shown(value, ctx)}is not a number")
        return number
    if expr.parse == "date":
        return _date(value, expr.format, column, _shown(value, ctx))
    if expr.parse == "datetime":
        return _datetime(value, expr.format, expr.timezone or ctx.zone, column, _shown(value, ctx))
    if expr.parse == "phone":
        if is_no_number(value):
            return None  # 无, 不详, 0: the export's way of saying there is no number
        try:
            return e164(value, ctx.country)
        except PhoneNumberError as exc:  # the message never quotes the number
            raise CellError(column, f"column {column}: not a full phone number: {exc}") from exc
    return value


def _date(value: str, fmt: str | None, column: str | None, shown: str) -> date:
    try:
        if fmt:
            return datetime.strptime(value, fmt).date()
        if _DATE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    expected = f"format {fmt}" if fmt else "YYYY-MM-DD"
    raise CellError(column, f"column {column}: {shown}is not a date (expected {expected})")


def _datetime(value: str, fmt: str | None, zone: str, column: str | None, shown: str) -> datetime:
    parsed: datetime | None = None
    try:
        if fmt:
            parsed = datetime.strptime(value, fmt)
        elif _DATETIME.fullmatch(value):
            parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None:
        expected = f"format {fmt}" if fmt else "ISO 8601, e.g. 2024-01-31T08:30:00Z, or a date"
        raise CellError(column, f"column {column}: {shown}is not a date-time (expected {expected})")
    # A time written without offset (or a bare date, read as midnight) is local time in the export's zone.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=ZoneInfo(zone))


def _shown(value: str, ctx: RowContext) -> str:
    """The value, when the spec lets reasons quote cells; else only "the value" (the reason names the column)."""
    return f"{_show(value)} " if ctx.quote else "the value "


def _show(value: str) -> str:
    """The offending value, shortened: enough to find it in the file, not a copy of a long cell."""
    return repr(value if len(value) <= 40 else value[:37] + "...")
