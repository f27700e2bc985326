"""Load journeys.yaml into a Catalog, or report every problem with file:line:column."""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any

from pydantic import TypeAdapter, ValidationError

from engine.journeys import definition as d
from engine.journeys.catalog import Catalog
from engine.language.calendar_checks import calendar_journey_ids, check_calendar
from engine.language.checks import JourneyParts, check_global_holdout, check_journey
from engine.language.deployment_checks import check_deployment
from engine.language.errors import JourneyFileError
from engine.language.loyalty_checks import check_loyalty
from engine.language.misplaced import explain_unknown_key
from engine.outreach.checks import check_templates_data
from engine.yamlfile.placement import LIST_ITEM, Grammar, field_type
from engine.yamlfile.problems import Problem
from engine.yamlfile.source import Path, YamlDocument, read_yaml
from engine.yamlfile.suggest import closest
from engine.yamlfile.syntax import glued_key

_step_adapter: TypeAdapter[Any] = TypeAdapter(d.Step)
_rule_adapter: TypeAdapter[Any] = TypeAdapter(d.EventRule)
_entry_adapter: TypeAdapter[Any] = TypeAdapter(d.Entry)
_journey_adapter: TypeAdapter[Any] = TypeAdapter(d.Journey)
# Error types of a value that should have been a mapping or a list of them.
_NESTED_EXPECTED = {"model_type", "dict_type", "list_type", "model_attributes_type", "step_kind", "condition"}


def load_catalog(path: str | FsPath) -> Catalog:
    """The catalog in ``path``; raises JourneyFileError listing every error."""
    catalog, problems = check_text(read_journeys_text(path), str(path))
    if catalog is None:
        raise JourneyFileError(problems)
    return catalog


def read_journeys_text(path: str | FsPath) -> str:
    """The text of the journeys file at ``path`` (a BOM dropped); JourneyFileError at 1:1 when it cannot be read."""
    try:
        return FsPath(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise JourneyFileError([Problem(str(path), 1, 1, f"cannot read journeys file: {exc.strerror}")]) from exc


def check_text(text: str, file: str) -> tuple[Catalog | None, list[Problem]]:
    """Parse and check; returns the catalog (None if any error) and every problem, warnings included."""
    doc, problems = read_yaml(text, file)
    if doc is None:
        return None, problems
    if not isinstance(doc.data, dict):
        return None, [
            doc.problem((), "a journeys file is a mapping with 'journeys:' (and optional settings, value_sets)")
        ]
    grammar = Grammar(d.JourneysFile)
    problems += _structural(doc, grammar)
    problems.sort(key=lambda p: (p.line, p.column))
    if any(p.severity == "error" for p in problems):
        return None, problems
    try:
        model = d.JourneysFile.model_validate(doc.data)
    except ValidationError as exc:  # a rule the piecewise checks above did not see: still reported in place
        return None, [*problems, *_explain_all(doc, grammar, exc, ())]
    return Catalog.from_file(model), problems


def _structural(doc: YamlDocument, grammar: Grammar) -> list[Problem]:
    data: dict[str, Any] = doc.data
    problems: list[Problem] = []
    for key in data:
        if key not in d.JourneysFile.model_fields:
            problems.append(doc.key_problem((key,), explain_unknown_key(grammar, data, (), str(key))))
    for name, info in d.JourneysFile.model_fields.items():
        if name in data and name != "journeys":  # journeys are checked one by one below
            problems += _validate(doc, grammar, TypeAdapter(field_type(info)), data[name], (name,))
    value_sets = {str(k) for k in data["value_sets"]} if isinstance(data.get("value_sets"), dict) else set()
    journeys = data.get("journeys")
    if not isinstance(journeys, list) or not journeys:
        problems.append(doc.problem(("journeys",), "expected 'journeys:' with a list of at least one journey"))
        return problems
    ids = {str(j.get("id")) for j in journeys if isinstance(j, dict)}
    calendar_ids = calendar_journey_ids(journeys)
    seen: set[tuple[str, Any]] = set()
    every: list[JourneyParts] = []
    for j, raw in enumerate(journeys):
        base: Path = ("journeys", j)
        problems += _validate(doc, grammar, _journey_adapter, raw, base)
        if not isinstance(raw, dict):
            continue
        ident = (str(raw.get("id")), raw.get("version"))
        if ident in seen:
            problems.append(doc.problem((*base, "id"), f"journey {ident[0]!r} version {ident[1]} is defined twice"))
        seen.add(ident)
        parts = _parts(raw, j)
        every.append(parts)
        for f in [*check_journey(parts, value_sets, ids), *check_calendar(parts, calendar_ids)]:
            problems.append(doc.problem(f.path, f.message, f.severity))
    for f in [
        *check_global_holdout(data.get("outreach"), ids),
        *check_deployment(data.get("deployment"), journeys),
        *check_loyalty(data.get("loyalty"), journeys, value_sets),
    ]:
        problems.append(doc.key_problem(f.path, f.message) if f.key else doc.problem(f.path, f.message, f.severity))
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
        exits=[t for r in items("exit") if (t := attempt(_rule_adapter, r)) is not None],
        goals=[t for r in items("goals") if (t := attempt(_rule_adapter, r)) is not None],
        steps=steps,
        raw_step_ids=[str(r.get("id")) for r in raw_steps if isinstance(r, dict)],
    )


def _validate(doc: YamlDocument, grammar: Grammar, adapter: TypeAdapter[Any], value: Any, base: Path) -> list[Problem]:
    try:
        adapter.validate_python(value)
    except ValidationError as exc:
        return _explain_all(doc, grammar, exc, base)
    return []


def _explain_all(doc: YamlDocument, grammar: Grammar, exc: ValidationError, base: Path) -> list[Problem]:
    return [_explain(doc, grammar, err, base) for err in exc.errors(include_url=False)]


def _explain(doc: YamlDocument, grammar: Grammar, err: Any, base: Path) -> Problem:
    loc = tuple(err["loc"])
    path = doc.resolve(loc, base)
    kind, msg = err["type"], str(err["msg"])
    where = ".".join(str(p) for p in path[len(base) :]) or "here"
    if kind == "extra_forbidden" and path[-1:] == loc[-1:]:
        parent, key = path[:-1], path[-1]
        return doc.key_problem(path, explain_unknown_key(grammar, doc.data, parent, str(key)))
    if kind == "missing":
        return doc.problem(path, f"{where}: missing required field {loc[-1]!r}")
    if kind in _NESTED_EXPECTED and (hint := _nested_hint(err.get("input"), path)):
        return doc.problem(path, f"{where}: {hint}")
    if kind == "step_kind":
        return doc.problem(path, _step_kind_message(grammar, doc.node(path), msg))
    msg = msg.removeprefix("Value error, ")
    return doc.problem(path, f"{where}: {msg}")


def _nested_hint(value: Any, path: Path) -> str | None:
    """Why a mapping or list is not one: nothing indented under its key, or 'key:value' without a space."""
    name = next((p for p in reversed(path) if isinstance(p, str)), None)
    if value is None and name is not None:
        return f"nothing is under '{name}:': indent what belongs to it under it (more than '{name}:' itself)"
    glued = glued_key(value) if isinstance(value, str) else None
    if glued is not None:
        key, rest = glued
        return f"{value!r} is read as text, not as a key and its value: write '{key}: {rest}' (a space after ':')"
    return None


def _step_kind_message(grammar: Grammar, raw: Any, msg: str) -> str:
    if not isinstance(raw, dict):
        return msg
    kinds = [k for k in d.STEP_KINDS if k in raw]
    label = f"step {raw.get('id')!r}" if "id" in raw else "step"
    if len(kinds) > 1:
        return f"{label} has several actions ({', '.join(kinds)}): one step does one thing; split it"
    unknown = [str(k) for k in raw if k not in ("id", "next", "note")]
    for k in unknown:
        if match := closest(k, d.STEP_KINDS):
            return f"{label}: unknown action {k!r}; did you mean {match!r}?"
    # The keys of an action written straight under the step ('message:' left out, or its keys indented too little).
    holders = [_actions_holding(grammar, k) for k in unknown]
    shared = [kind for kind in d.STEP_KINDS if holders and all(kind in h for h in holders)]
    if shared:
        keys = ", ".join(repr(k) for k in unknown)
        return (
            f"{label} has no action: {keys} belong under {shared[0]!r}; add '{shared[0]}:' to the step and indent "
            f"them under it"
        )
    return f"{label}: {msg}"


def _actions_holding(grammar: Grammar, key: str) -> set[str]:
    """The step actions whose settings include ``key`` ('channels': message)."""
    return {p.pattern[-1] for p in grammar.homes(key) if p.pattern[-3:-1] == ("steps", LIST_ITEM)}
