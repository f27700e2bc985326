"""Load a CSV mapping spec from YAML, or report every problem with file:line:column and a 'did you mean'.

Structure is checked by the pydantic models (spec.py); meaning by checks.py on every part that validated on its
own, so one misspelt key does not hide an unknown event type three entries further down.
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from connectors.tabular import spec as s
from connectors.tabular.checks import FileParts, SpecParts, check_spec
from connectors.tabular.errors import SpecError
from engine.yamlfile.problems import Problem
from engine.yamlfile.source import Path, YamlDocument, read_yaml
from engine.yamlfile.suggest import did_you_mean

_MODELS: list[type[BaseModel]] = [
    s.CsvSpec,
    s.FileSpec,
    s.EventSpec,
    s.Expr,
    s.CodingSpec,
    s.ContactSpec,
    s.Condition,
    s.PatientSpec,
    s.IdentifierSpec,
]
# Every key the language knows, for 'did you mean' on a misspelt one.
_EVENT: TypeAdapter[s.EventSpec] = TypeAdapter(s.EventSpec)
_VALUE: TypeAdapter[s.Expr] = TypeAdapter(s.Value)
_WHEN: TypeAdapter[tuple[s.Condition, ...]] = TypeAdapter(s.When)
# Numbers read from YAML (`232717009: surgical`) are text here, as in the spec models.
_LOOKUPS: TypeAdapter[dict[str, dict[str, str]]] = TypeAdapter(
    dict[str, dict[str, str]], config=ConfigDict(coerce_numbers_to_str=True)
)
_COLUMNS: TypeAdapter[tuple[str, ...]] = TypeAdapter(s.Columns, config=ConfigDict(coerce_numbers_to_str=True))
_KNOWN_KEYS = sorted({info.alias or name for m in _MODELS for name, info in m.model_fields.items()})


def load_spec(path: str | FsPath) -> s.CsvSpec:
    """The spec in ``path``; raises SpecError listing every problem."""
    file = str(path)
    try:
        text = FsPath(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SpecError([Problem(file, 1, 1, f"cannot read the mapping spec: {exc.strerror}")]) from exc
    spec, problems = check_text(text, file)
    if spec is None:
        raise SpecError(problems)
    return spec


def check_text(text: str, file: str) -> tuple[s.CsvSpec | None, list[Problem]]:
    """Parse and check; returns the spec (None if anything is wrong) and every problem found."""
    doc, problems = read_yaml(text, file)
    if doc is None:
        return None, problems
    if not isinstance(doc.data, dict):
        return None, [doc.problem((), "a mapping spec is a YAML mapping with name, source_system and files")]
    problems += _validate(doc, s.CsvSpec, doc.data, ())
    problems += [doc.problem(_in_data(doc.data, path), message) for path, message in check_spec(_parts(doc.data))]
    problems = sorted(set(problems), key=lambda p: (p.line, p.column, p.message))
    if problems:
        return None, problems
    return s.CsvSpec.model_validate(doc.data), []


def _parts(data: dict[str, Any]) -> SpecParts:
    """What validates on its own, for the semantic checks; invalid parts were reported by _validate."""
    lookups = _attempt(_LOOKUPS, data.get("lookups") or {}) or {}
    patient = _attempt(TypeAdapter(s.PatientSpec), data.get("patient")) if data.get("patient") else None
    raw_files = data.get("files")
    files = []
    for i, raw in enumerate(raw_files if isinstance(raw_files, list) else []):
        if not isinstance(raw, dict):
            continue
        raw_events = raw.get("events")
        events = [_event_parts(r) for r in (raw_events if isinstance(raw_events, list) else [])]
        key = _attempt(_COLUMNS, raw["key"]) if "key" in raw else None
        files.append(
            FileParts(
                index=i,
                columns=_attempt(_COLUMNS, raw["columns"]) if "columns" in raw else None,
                key=key or (),
                patient=_attempt(TypeAdapter(s.PatientSpec), raw["patient"]) if "patient" in raw else None,
                events={j: e for j, (e, _) in enumerate(events) if e is not None},
                written={j: names for j, (_, names) in enumerate(events)},
            )
        )
    return SpecParts(lookups=lookups, patient=patient, files=files)


def _event_parts(raw: Any) -> tuple[s.EventSpec | None, set[str]]:
    """The event with what validates of it: one misspelt key in a field must not hide the others' problems.
    Also the names of every field written, valid or not, so that none is reported missing."""
    if not isinstance(raw, dict):
        return None, set()
    head = _attempt(_EVENT, {k: v for k, v in raw.items() if k in ("type", "type_from", "discriminator")})
    raw_fields: dict[Any, Any] = raw["fields"] if isinstance(raw.get("fields"), dict) else {}
    if head is None:
        return None, {str(n) for n in raw_fields}
    fields = {str(n): e for n, v in raw_fields.items() if (e := _attempt(_VALUE, v)) is not None}
    when = _attempt(_WHEN, raw["when"]) if "when" in raw else ()
    return head.model_copy(update={"fields": fields, "when": when or ()}), {str(n) for n in raw_fields}


def _in_data(data: Any, path: Path) -> Path:
    """A model path as written in the YAML, where shorthands drop levels: `[a, b]` for `items: [a, b]`, one
    condition for a list of one, a column name for `{column: ...}`. Stops at the deepest node that exists."""
    node, found = data, []
    for part in path:
        if (isinstance(node, list) and part == "items") or (isinstance(node, dict) and part == 0):
            continue
        child = _child(node, part)
        if child is _ABSENT:
            break
        node = child
        found.append(part)
    return tuple(found)


_ABSENT = object()


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(part, _ABSENT)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _ABSENT


def _attempt(adapter: TypeAdapter[Any], value: Any) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


def _validate(doc: YamlDocument, model: type[BaseModel], value: Any, base: Path) -> list[Problem]:
    try:
        model.model_validate(value)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        return [_explain(doc, err, base) for err in errors if not _echo(err, errors)]
    return []


def _echo(err: Any, errors: list[Any]) -> bool:
    """pydantic reports a list whose items failed as also too short ('not 0'): the items' errors say it all."""
    loc = tuple(err["loc"])
    return err["type"] == "too_short" and any(tuple(e["loc"])[: len(loc)] == loc and e is not err for e in errors)


def _explain(doc: YamlDocument, err: Any, base: Path) -> Problem:
    loc = tuple(err["loc"])
    path = doc.resolve(loc, base)
    where = _where(path) or "the spec"
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        return doc.problem(
            path, f"{_where(path[:-1]) or 'the spec'}: unknown key {key!r}{did_you_mean(key, _KNOWN_KEYS)}"
        )
    if err["type"] == "missing":
        return doc.problem(path, f"{where}: missing required key {loc[-1]!r}")
    message = str(err["msg"]).removeprefix("Value error, ")
    return doc.problem(path, f"{where}: {message}")


def _where(path: Path) -> str:
    """files[2].events[0].fields.code: the YAML path, written as a reader would look for it."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text
