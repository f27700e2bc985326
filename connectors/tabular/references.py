"""Every column and lookup a spec entry refers to, with where in the YAML it is written.

The loader checks them against the declared ``columns`` and ``lookups``; the reader checks the columns against
the file's real header before reading a row, so a renamed column stops the file, not every row.
"""

from __future__ import annotations

from collections.abc import Iterator

from connectors.tabular.spec import Condition, CsvSpec, EventSpec, Expr, FileSpec, PatientSpec

Path = tuple[str | int, ...]


def file_columns(spec: CsvSpec, file: FileSpec, index: int = 0) -> list[tuple[str, Path]]:
    """(column, YAML path) for every column the entry at ``files[index]`` reads."""
    patient, where = (file.patient, ("files", index, "patient")) if file.patient else (spec.patient, ("patient",))
    return columns_read(index, file.key or (), patient, where, dict(enumerate(file.events)))


def columns_read(
    index: int,
    key: tuple[str, ...],
    patient: PatientSpec | None,
    patient_at: Path,
    events: dict[int, EventSpec],
) -> list[tuple[str, Path]]:
    """The columns of a files[] entry given as parts, so the loader can check a spec that does not validate."""
    base: Path = ("files", index)
    found: list[tuple[str, Path]] = [(c, (*base, "key", i)) for i, c in enumerate(key)]
    for i, ident in enumerate(patient.identifiers if patient else ()):
        found.append((ident.column, (*patient_at, "identifiers", i, "column")))
        if ident.authority_column:
            found.append((ident.authority_column, (*patient_at, "identifiers", i, "authority_column")))
    for j, entry in events.items():
        found += event_columns(entry, (*base, "events", j))
    return found


def event_columns(entry: EventSpec, at: Path) -> Iterator[tuple[str, Path]]:
    yield from _conditions(entry.when, (*at, "when"))
    if entry.type_from is not None:
        yield from expr_columns(entry.type_from, (*at, "type_from"))
    for name, expr in entry.fields.items():
        yield from expr_columns(expr, (*at, "fields", name))


def _conditions(conditions: tuple[Condition, ...], at: Path) -> Iterator[tuple[str, Path]]:
    for k, condition in enumerate(conditions):
        yield condition.column, (*at, k, "column")


def expr_columns(expr: Expr, at: Path) -> Iterator[tuple[str, Path]]:
    yield from _conditions(expr.when, (*at, "when"))
    if expr.column is not None:
        yield expr.column, (*at, "column")
    for i, column in enumerate(expr.join or ()):
        yield column, (*at, "join", i)
    for inner, where in inner_values(expr, at):
        yield from expr_columns(inner, where)


def expr_lookups(expr: Expr, at: Path) -> Iterator[tuple[str, Path]]:
    """(lookup name, YAML path) for every lookup table an expression uses."""
    if expr.lookup is not None:
        yield expr.lookup, (*at, "lookup")
    for inner, where in inner_values(expr, at):
        yield from expr_lookups(inner, where)


def inner_values(expr: Expr, at: Path) -> Iterator[tuple[Expr, Path]]:
    """The values an expression is made of (a coding's code, a contact's phone, alternatives), with their paths."""
    if expr.coding is not None:
        yield expr.coding.code, (*at, "coding", "code")
        if expr.coding.display is not None:
            yield expr.coding.display, (*at, "coding", "display")
    if expr.contact is not None:
        for name in ("phone", "email", "wechat_openid"):
            if (way := getattr(expr.contact, name)) is not None:
                yield way, (*at, "contact", name)
    if expr.person is not None:
        for name in ("name", "language", "timezone"):
            if (part := getattr(expr.person, name)) is not None:
                yield part, (*at, "person", name)
        for name in ("phone", "email", "wechat_openid"):
            if expr.person.contact is not None and (way := getattr(expr.person.contact, name)) is not None:
                yield way, (*at, "person", "contact", name)
    for key in ("first", "items"):
        for i, inner in enumerate(getattr(expr, key) or ()):
            yield inner, (*at, key, i)
