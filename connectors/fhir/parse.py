"""FHIR R4 JSON (bytes or str) to validated resources, or a Problem naming the JSON path and what is wrong.

Validation uses fhir.resources' R4B models (FHIR 4.3.0): R4B changed no element of the resources careloop maps,
so R4 JSON validates as it is (see README.md). A document is a single resource or a Bundle. Entries are
validated one by one, so one bad entry is rejected alone; only resources careloop reads (``validate``) are
validated: an invalid Claim in a Synthea bundle must not block that patient's encounters, and skipping the
claims' validation keeps large bundles fast.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir_core.fhirabstractmodel import FHIRAbstractModel  # the models' base, from fhir.resources' own dependency
from pydantic import ValidationError

from connectors.fhir.bindings import unbound
from connectors.fhir.charset import utf8_text
from connectors.fhir.errors import Problem
from connectors.fhir.options import FhirOptions
from connectors.fhir.times import add_missing_offsets, instant
from connectors.profiles import SourceProfile

M = TypeVar("M", bound=FHIRAbstractModel)
# Bundle types that carry care data. Responses and history carry a server's answers or old versions.
BUNDLE_TYPES = frozenset({"transaction", "batch", "collection", "searchset", "document", "message"})


@dataclass(frozen=True, slots=True)
class Entry:
    """One resource: a Bundle entry (``index`` is 0-based) or the whole document (``index`` is None)."""

    path: str  # "Bundle.entry[3].resource", or "Encounter" for a single resource
    index: int | None
    resource_type: str  # "" when the entry carries no resource (a DELETE or GET request)
    resource_id: str | None
    resource: FHIRAbstractModel | None  # validated; None when invalid, absent, or of a type careloop does not read
    full_url: str | None
    request: str | None  # "POST Patient", "DELETE Patient/234"
    original: bytes  # the entry (or resource) as JSON, for rejects and audit
    problem: Problem | None = None


@dataclass(frozen=True, slots=True)
class Document:
    resource_type: str  # "Bundle" or the single resource's type
    bundle_type: str | None
    bundle_id: str | None
    system: str | None  # Bundle.meta.source (or the single resource's meta.source)
    recorded: tuple[datetime, ...]  # Bundle.meta.lastUpdated, Bundle.timestamp: when the sender assembled it
    entries: tuple[Entry, ...]
    profile: SourceProfile  # what the sending system leaves unsaid: the zone of offset-less times, its country


def parse(data: bytes | str, options: FhirOptions, validate: Collection[str]) -> Document | Problem:
    """The document, its entries validated where their type is in ``validate``; a Problem if it is not FHIR."""
    loaded = load_json(data)
    if isinstance(loaded, Problem):
        return loaded
    if not isinstance(loaded, dict):
        return Problem(f"a FHIR document is a JSON object with a resourceType, not a {_json_type(loaded)}", "")
    rtype = loaded.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        return Problem("the JSON object has no resourceType: it is not a FHIR resource", "resourceType")
    profile = options.profile(_meta_source(loaded))
    if rtype == "Bundle":
        return _bundle(loaded, profile, validate)
    raw = data.encode() if isinstance(data, str) else data
    entry = _entry_resource(loaded, rtype, rtype, None, None, None, raw, profile, validate)
    return Document(rtype, None, None, _meta_source(loaded), (), (entry,), profile)


def load_json(data: bytes | str) -> Any:
    """Parsed JSON, or an 'unparseable' Problem: not UTF-8 (what it looks like, the byte offset; a UTF-8 BOM is
    allowed), or not JSON (the line and column)."""
    text = utf8_text(data) if isinstance(data, bytes) else data
    if isinstance(text, Problem):
        return text
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return Problem(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", "", "unparseable")
    except (ValueError, RecursionError) as exc:
        return Problem(f"not JSON that FHIR allows: {exc}", "", "unparseable")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number (FHIR decimals are finite)")


def _bundle(doc: dict[str, Any], profile: SourceProfile, validate: Collection[str]) -> Document | Problem:
    entries = doc.get("entry") or []
    shell = validated(Bundle, {k: v for k, v in doc.items() if k != "entry"}, "Bundle")
    if isinstance(shell, Problem):
        return shell
    if not isinstance(entries, list):
        return Problem(f"Bundle.entry must be a JSON array, not a {_json_type(entries)}", "Bundle.entry")
    if shell.type not in BUNDLE_TYPES:
        allowed = ", ".join(sorted(BUNDLE_TYPES))
        return Problem(
            f"Bundle.type {shell.type!r} carries no care data careloop maps; send one of: {allowed}",
            "Bundle.type",
            "unsupported",
        )
    # When the sender last changed the Bundle, else when it assembled it: both say when the source recorded it.
    times = (instant(_last_updated(shell), profile.tz), instant(shell.timestamp, profile.tz))
    parsed = tuple(_bundle_entry(i, e, profile, validate) for i, e in enumerate(entries))
    source = shell.meta.source if shell.meta else None
    return Document("Bundle", shell.type, shell.id, source, tuple(t for t in times if t), parsed, profile)


def _bundle_entry(index: int, raw: Any, profile: SourceProfile, validate: Collection[str]) -> Entry:
    path = f"Bundle.entry[{index}]"
    original = json.dumps(raw, ensure_ascii=False).encode()
    if not isinstance(raw, dict):
        problem = Problem(f"a Bundle entry is a JSON object, not a {_json_type(raw)}", path)
        return Entry(path, index, "", None, None, None, None, original, problem)
    shell = validated(BundleEntry, {k: v for k, v in raw.items() if k != "resource"}, path)
    if isinstance(shell, Problem):
        return Entry(path, index, "", None, None, None, None, original, shell)
    request = f"{shell.request.method} {shell.request.url}" if shell.request else None
    resource = raw.get("resource")
    if resource is None:
        return Entry(path, index, "", None, None, shell.fullUrl, request, original)
    rpath = f"{path}.resource"
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(rtype, str) or not rtype:
        problem = Problem("the resource has no resourceType", rpath)
        return Entry(path, index, "", None, None, shell.fullUrl, request, original, problem)
    return _entry_resource(resource, rtype, rpath, index, shell.fullUrl, request, original, profile, validate)


def _entry_resource(
    resource: dict[str, Any],
    rtype: str,
    path: str,
    index: int | None,
    full_url: str | None,
    request: str | None,
    original: bytes,
    profile: SourceProfile,
    validate: Collection[str],
) -> Entry:
    rid = resource.get("id") if isinstance(resource.get("id"), str) else None
    if rtype not in validate:
        return Entry(path, index, rtype, rid, None, full_url, request, original)
    add_missing_offsets(resource, profile.tz)
    model = validated(get_fhir_model_class(rtype), resource, path)
    if isinstance(model, Problem):
        return Entry(path, index, rtype, rid, None, full_url, request, original, model)
    if (problem := unbound(model, path)) is not None:
        return Entry(path, index, rtype, rid, None, full_url, request, original, problem)
    return Entry(path, index, rtype, rid, model, full_url, request, original)


def validated(model: type[M], data: dict[str, Any], path: str) -> M | Problem:
    """The model, or a Problem naming each invalid element's path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return describe(exc, path)
    except Exception as exc:  # the models fail this way on some invalid input (a contained resource of no type)
        return Problem(f"{path}: not valid FHIR; the models failed with {type(exc).__name__}: {exc}", path)


def describe(exc: ValidationError, base: str, limit: int = 3) -> Problem:
    """The first few validation errors, each with its FHIR path: ``Encounter.period.start: ... (got '...')``."""
    errors = exc.errors(include_url=False)
    lines = []
    for error in errors[:limit]:
        got = error.get("input")
        shown = f" (got {got!r})" if isinstance(got, str | int | float) and len(repr(got)) <= 60 else ""
        message = str(error["msg"]).removeprefix("Value error, ").split("\n")[0]
        lines.append(f"{fhir_path(base, error['loc'])}: {message}{shown}")
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    first = fhir_path(base, errors[0]["loc"]) if errors else base
    return Problem("; ".join(lines) + more, first, "invalid")


def fhir_path(base: str, loc: tuple[int | str, ...]) -> str:
    """('entry', 3, 'resource', 'status__ext') under 'Bundle' -> 'Bundle.entry[3].resource._status'."""
    out = base
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "root":  # pydantic's name for a model validated as a whole
            name = f"_{part.removesuffix('__ext')}" if part.endswith("__ext") else part
            out += f".{name}"
    return out


def _meta_source(resource: Mapping[str, Any]) -> str | None:
    meta = resource.get("meta")
    source = meta.get("source") if isinstance(meta, dict) else None
    return source if isinstance(source, str) and source else None


def _last_updated(shell: Bundle) -> object:
    return shell.meta.lastUpdated if shell.meta else None


def _json_type(value: object) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")
