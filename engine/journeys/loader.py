"""Load journeys.yaml into a Catalog, or report every problem with file:line:column."""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from engine.journeys import definition as d
from engine.journeys.catalog import Catalog
from engine.journeys.checks import JourneyParts, check_journey
from engine.journeys.conditions import OPERATORS, Compare
from engine.journeys.errors import JourneyFileError, Problem
from engine.journeys.suggest import closest, did_you_mean
from engine.journeys.yamlsource import Path, YamlDocument, read_yaml
from engine.outreach.checks import check_templates_data
from engine.outreach.templates import LocalizedText, Template

_step_adapter: TypeAdapter[Any] = TypeAdapter(d.Step)
_trigger_adapter: TypeAdapter[Any] = TypeAdapter(d.Trigger)
_entry_adapter: TypeAdapter[Any] = TypeAdapter(d.Entry)


def _all_field_names() -> set[str]:
    """Every key the language knows, for 'did you mean' on a misspelt key."""
    models: list[type[BaseModel]] = [
        d.JourneysFile,
        d.Settings,
        d.ChurnLevels,
        d.ValueSet,
        d.ValueSetPart,
        d.Journey,
        d.Entry,
        d.Trigger,
        d.WaitSpec,
        d.WaitForSpec,
        d.Outcome,
        d.BranchSpec,
        d.Case,
        d.SplitSpec,
        d.Arm,
        d.MessageSpec,
        d.TaskSpec,
        d.FlagSpec,
        d.ClearFlagSpec,
        d.CountSpec,
        d.StartSpec,
        d.EndSpec,
        Compare,
        Template,
        LocalizedText,
        *d.STEP_KINDS.values(),
    ]
    names = {info.alias or name for model in models for name, info in model.model_fields.items()}
    return names | set(OPERATORS) | {"all", "any", "not"}


_KNOWN_KEYS = _all_field_names()


def load_catalog(path: str | FsPath) -> Catalog:
    """The catalog in ``path``; raises JourneyFileError listing every error."""
    file = str(path)
    try:
        text = FsPath(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise JourneyFileError([Problem(file, 1, 1, f"cannot read journeys file: {exc.strerror}")]) from exc
    catalog, problems = check_text(text, file)
    if catalog is None:
        raise JourneyFileError(problems)
    return catalog


def check_text(text: str, file: str) -> tuple[Catalog | None, list[Problem]]:
    """Parse and check; returns the catalog (None if any error) and every problem, warnings included."""
    doc, problems = read_yaml(text, file)
    if doc is None:
        return None, problems
    if not isinstance(doc.data, dict):
        return None, [
            doc.problem((), "a journeys file is a mapping with 'journeys:' (and optional settings, value_sets)")
        ]
    problems += _structural(doc)
    problems.sort(key=lambda p: (p.line, p.column))
    if any(p.severity == "error" for p in problems):
        return None, problems
    catalog = Catalog.from_file(d.JourneysFile.model_validate(doc.data))
    return catalog, problems


def _structural(doc: YamlDocument) -> list[Problem]:
    data: dict[str, Any] = doc.data
    problems: list[Problem] = []
    for key in data:
        if key not in d.JourneysFile.model_fields:
            problems.append(_unknown_key(doc, (key,), str(key), list(d.JourneysFile.model_fields)))
    value_sets: set[str] = set()
    if "settings" in data:
        problems += _validate(doc, d.Settings, data["settings"], ("settings",))
    if "value_sets" in data:
        problems += _validate(doc, TypeAdapter(dict[str, d.ValueSet]), data["value_sets"], ("value_sets",))
        if isinstance(data["value_sets"], dict):
            value_sets = {str(k) for k in data["value_sets"]}
    if "templates" in data:
        problems += _validate(doc, TypeAdapter(dict[str, Template]), data["templates"], ("templates",))
    journeys = data.get("journeys")
    if not isinstance(journeys, list) or not journeys:
        problems.append(doc.problem(("journeys",), "expected 'journeys:' with a list of at least one journey"))
        return problems
    ids = {str(j.get("id")) for j in journeys if isinstance(j, dict)}
    seen: set[tuple[str, Any]] = set()
    every: list[JourneyParts] = []
    for j, raw in enumerate(journeys):
        base: Path = ("journeys", j)
        problems += _validate(doc, d.Journey, raw, base)
        if not isinstance(raw, dict):
            continue
        ident = (str(raw.get("id")), raw.get("version"))
        if ident in seen:
            problems.append(doc.problem((*base, "id"), f"journey {ident[0]!r} version {ident[1]} is defined twice"))
        seen.add(ident)
        parts = _parts(raw, j)
        every.append(parts)
        for f in check_journey(parts, value_sets, ids):
            problems.append(doc.problem(f.path, f.message, f.severity))
    for f in check_templates_data(data.get("templates"), data.get("outreach"), every):
        problems.append(doc.problem(f.path, f.message, f.severity))
    return problems


def _parts(raw: dict[str, Any], index: int) -> JourneyParts:
    def attempt(adapter: TypeAdapter[Any], value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except ValidationError:
            return None

    def items(key: str) -> list[Any]:
        value = raw.get(key)
        return value if isinstance(value, list) else []

    raw_steps = items("steps")
    steps = {i: s for i, r in enumerate(raw_steps) if (s := attempt(_step_adapter, r)) is not None}
    return JourneyParts(
        index=index,
        raw=raw,
        entry=attempt(_entry_adapter, raw.get("entry")),
        exits=[t for r in items("exit") if (t := attempt(_trigger_adapter, r)) is not None],
        goals=[t for r in items("goals") if (t := attempt(_trigger_adapter, r)) is not None],
        steps=steps,
        raw_step_ids=[str(r.get("id")) for r in raw_steps if isinstance(r, dict)],
    )


def _validate(doc: YamlDocument, model: Any, value: Any, base: Path) -> list[Problem]:
    adapter = model if isinstance(model, TypeAdapter) else TypeAdapter(model)
    try:
        adapter.validate_python(value)
    except ValidationError as exc:
        return [_explain(doc, err, base) for err in exc.errors(include_url=False)]
    return []


def _explain(doc: YamlDocument, err: Any, base: Path) -> Problem:
    loc = tuple(err["loc"])
    path = doc.resolve(loc, base)
    kind, msg = err["type"], str(err["msg"])
    where = ".".join(str(p) for p in path[len(base) :]) or "here"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        parent = doc.node(path[:-1]) if path and path[-1] == key else doc.node(path)
        return _unknown_key(doc, path if path[-1:] == (key,) else (*path, key), key, _siblings(parent, key))
    if kind == "missing":
        return doc.problem(path, f"{where}: missing required field {loc[-1]!r}")
    if kind == "step_kind":
        return doc.problem(path, _step_kind_message(doc.node(path), msg))
    msg = msg.removeprefix("Value error, ")
    return doc.problem(path, f"{where}: {msg}")


def _siblings(parent: Any, key: str) -> list[str]:
    return sorted(_KNOWN_KEYS)


def _unknown_key(doc: YamlDocument, path: Path, key: str, options: list[str]) -> Problem:
    return doc.problem(path, f"unknown field {key!r}{did_you_mean(key, options)}")


def _step_kind_message(raw: Any, msg: str) -> str:
    if not isinstance(raw, dict):
        return msg
    kinds = [k for k in d.STEP_KINDS if k in raw]
    label = f"step {raw.get('id')!r}" if "id" in raw else "step"
    if len(kinds) > 1:
        return f"{label} has several actions ({', '.join(kinds)}): one step does one thing; split it"
    unknown = [k for k in raw if k not in ("id", "next", "note")]
    for k in unknown:
        if match := closest(str(k), d.STEP_KINDS):
            return f"{label}: unknown action {k!r}; did you mean {match!r}?"
    return f"{label}: {msg}"
