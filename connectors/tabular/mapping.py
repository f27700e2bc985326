"""Pure mapping: one CSV row and a spec -> ``Mapped`` with its canonical events, or a precise ``Reject``.

No I/O here: the row arrives as a dict of cells with its location and original bytes (``source.py`` reads files);
patient ids come from the identity port passed in. A row is all or nothing: if one of its events cannot be
built, the row is rejected and none of its events is published.

One exception, the referral code (the mapping target ``referral_code`` of ``patient.registered``): looked up in
``FilePlan.referrals`` and stamped as ``referral``; a cell that is not a code is refused on its own
(``Mapped.problems``, naming the column) and the patient is registered without a referral.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from connectors.base import Location, Mapped, Outcome, PatientIdentity, Reject
from connectors.profiles import SourceProfile, SourceProfiles
from connectors.referrals import NOT_A_CODE, WITHOUT_REFERRAL, ReferralDirectory, claim
from connectors.relations import RelationIdError, Relative, normalised_name, relation_ids
from connectors.tabular.contracts import END_REASON, HOUSEHOLD_NUMBER, SIGNED_ON, contract_values
from connectors.tabular.references import file_columns
from connectors.tabular.spec import CsvSpec, EventSpec, Expr, FileSpec
from connectors.tabular.values import MISSING, CellError, RowContext, cell, evaluate, first_column, holds
from events.base import Event, Source
from events.catalog import CLINICAL_TYPES
from events.patient import Identifier, ReferralClaim

# Envelope fields the connector fills itself; a spec may not set them.
ENVELOPE = frozenset({"event_id", "type", "schema_version", "patient_id", "source", "causation_id"})
# Demographic events carry the identifiers the row was resolved with, so the identity store learns them.
DEMOGRAPHIC = frozenset({"patient.registered", "patient.updated"})
# A mapping target that is no event field: the referral code as written, which the connector looks up.
REFERRAL_CODE = "referral_code"
# Targets that name a relative (relationship.recorded|ended) without being event fields: their medical record number
# (under the authority of the file's first patient identifier: a patient of the same hospital), else their role and
# name (a recorded row takes them from role and person.name; an ended row must give them). connectors/relations.py
# derives relation_id and related_patient_id from them: a spec never maps those.
RELATIVE_MRN = "relative_mrn"
RELATIVE_TARGETS = (RELATIVE_MRN, "relative_role", "relative_name")
RELATION_DERIVED = frozenset({"relation_id", "related_patient_id"})
# Targets of a family doctor contract (family_contract.signed|ended) that are no event fields: the signing system's
# household number, of which the connector makes household_id, a keyed pseudonym (tabular/households.py); and on an
# ended row the date it was signed, so an end before the signing is refused rather than published; on a signed row the
# end reason column, so a reason without an end date is refused rather than dropped (tabular/contracts.py).
CONTRACT_TARGETS = {
    HOUSEHOLD_NUMBER: "family_contract.signed",
    END_REASON: "family_contract.signed",
    SIGNED_ON: "family_contract.ended",
}
HOUSEHOLD_DERIVED = frozenset({"household_id"})


@dataclass(frozen=True, slots=True)
class FilePlan:
    """A spec entry bound to one file: ``name`` goes into message ids and ``Mapped.kind``; ``profile`` says what
    the spec leaves unsaid (the source profile of its source_system, else of its name, else the default)."""

    spec: CsvSpec
    file: FileSpec
    name: str
    profile: SourceProfile = field(default_factory=SourceProfile)
    # Whose referral code a registration carries, injected by the composition root; None: none is looked up.
    referrals: ReferralDirectory | None = field(default=None, compare=False)

    @classmethod
    def for_file(cls, spec: CsvSpec, file_name: str, profiles: SourceProfiles | None = None) -> FilePlan | None:
        entry = spec.file_for(file_name)
        return None if entry is None else cls.of(spec, entry, file_name, profiles)

    @classmethod
    def of(cls, spec: CsvSpec, entry: FileSpec, file_name: str, profiles: SourceProfiles | None = None) -> FilePlan:
        profile = (profiles or SourceProfiles()).for_system(spec.source_system, spec.name)
        return cls(spec, entry, entry.id_name(file_name), profile)

    @property
    def encoding(self) -> str:
        return self.file.encoding or self.profile.charset

    @property
    def encoding_origin(self) -> str:
        """Where the encoding comes from, for a reason that tells the operator what to change."""
        files = f"files matching {self.file.match!r}"
        if self.file.encoding is not None:
            return f"the encoding: spec {self.spec.name} sets for {files}"
        return f"the source profile's charset (spec {self.spec.name} sets no encoding: for {files})"

    @property
    def zone(self) -> str:
        """The zone of times without offset: the spec's default_timezone, else the source profile's."""
        return self.spec.default_timezone or self.profile.timezone

    @property
    def country(self) -> str:
        """The region of phone numbers without a country code: the spec's country, else the source profile's."""
        return self.spec.country or self.profile.country

    def columns(self) -> list[str]:
        """Every column the entry reads, in spec order: the header must have them all."""
        return list(dict.fromkeys(c for c, _ in file_columns(self.spec, self.file)))


def map_row(
    row: Mapping[str, str | None],
    plan: FilePlan,
    identity: PatientIdentity,
    location: Location,
    original: bytes,
) -> Outcome:
    """The row's events (in spec order), or why it cannot be mapped, pointing at the column at fault."""
    try:
        key = _row_key(row, plan.file, location.message)
        identifiers = _identifiers(row, plan)
        patient_id = _resolve(identity, identifiers, plan)
        ctx = RowContext(row, key, plan.spec.lookups, plan.zone, plan.country, plan.spec.quote_values)
        source = Source(system=plan.spec.source_system, message_id=f"{plan.name}:{key}")
        refused: list[CellError] = []  # referral codes that are no codes: the rest of the row still maps
        known = _Known(patient_id, identifiers, identity, plan.referrals)
        built = (_event(entry, ctx, source, known, refused) for entry in plan.file.events)
        events = tuple(e for e in built if e is not None)
    except CellError as exc:
        detail = f"column {exc.column}" if exc.column else None
        return Reject(exc.message, dataclasses.replace(location, detail=detail), original, "invalid")
    except ValidationError as exc:  # a model refused a value the checks above let through: still the row's fault
        return Reject(f"invalid value: {exc.errors()[0]['msg']}", location, original, "invalid")
    if not events:
        return Reject("no event applies to this row: every event's `when` is false", location, original, "skipped")
    problems = tuple(
        Reject(e.message, dataclasses.replace(location, detail=f"column {e.column}"), original, "invalid")
        for e in refused
    )
    return Mapped(events, location, original, kind=plan.name, problems=problems)


def _row_key(row: Mapping[str, str | None], file: FileSpec, number: int | None) -> str:
    """What makes the row's message id: the key column(s), else its row number (stable for one export).

    A key of several columns is hashed: it usually holds the patient's identifier (conditions.csv has no id of
    its own), and ids travel into logs and topics where an MRN must not.
    """
    if not file.key:
        return f"row-{number}"
    parts = [cell(row, c) or "" for c in file.key]
    if not any(parts):
        raise CellError(file.key[0], f"column {'/'.join(file.key)} is empty: the row key identifies the message")
    if len(parts) == 1:
        return parts[0]
    return "k-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def _identifiers(row: Mapping[str, str | None], plan: FilePlan) -> tuple[Identifier, ...]:
    patient = plan.spec.patient_of(plan.file)
    specs = patient.identifiers if patient else ()
    found: list[Identifier] = []
    for ident in specs:
        value = cell(row, ident.column)
        if value is None:
            continue
        authority = ident.authority or cell(row, ident.authority_column or "")
        if authority is None:
            why = f"it names the authority of the identifier in column {ident.column}"
            raise CellError(ident.authority_column, f"column {ident.authority_column} is empty: {why}")
        try:
            found.append(Identifier(authority=authority, value=value, kind=ident.kind))
        except ValidationError as exc:
            raise CellError(
                ident.column, f"column {ident.column}: not an identifier ({exc.errors()[0]['msg']})"
            ) from exc
    if not found:
        columns = " and ".join(i.column for i in specs)
        why = "every row needs the patient's identifier"
        raise CellError(specs[0].column if specs else None, f"column {columns} is empty: {why}")
    return tuple(found)


def _resolve(identity: PatientIdentity, identifiers: tuple[Identifier, ...], plan: FilePlan) -> str:
    try:
        return identity.resolve(identifiers)
    except ValueError as exc:  # the port refuses the identifiers themselves; infrastructure errors propagate
        patient = plan.spec.patient_of(plan.file)
        column = patient.identifiers[0].column if patient else None
        raise CellError(column, f"the patient identifier was refused: {exc}") from exc


@dataclass(frozen=True, slots=True)
class _Known:
    """What every event of a row shares: its patient, the identifiers they were resolved with, the ports."""

    patient_id: str
    identifiers: tuple[Identifier, ...]
    identity: PatientIdentity
    referrals: ReferralDirectory | None


def _event(entry: EventSpec, ctx: RowContext, source: Source, known: _Known, refused: list[CellError]) -> Event | None:
    patient_id, identifiers, referrals = known.patient_id, known.identifiers, known.referrals
    if not all(holds(c, ctx.row) for c in entry.when):
        return None
    cls = _event_class(entry, ctx)
    type_ = cls.model_fields["type"].default
    values: dict[str, Any] = {}
    for name, expr in entry.fields.items():
        # With type_from, a field given for one of the choices (admitted_at) is left out of the others.
        if name in cls.model_fields and (value := evaluate(expr, ctx)) is not MISSING:
            values[name] = value
    if type_ in DEMOGRAPHIC:
        values.setdefault("identifiers", identifiers)
    if type_ == "patient.registered" and REFERRAL_CODE in entry.fields:
        referral = _referral(entry.fields[REFERRAL_CODE], ctx, referrals, refused)
        if referral is not None:
            values["referral"] = referral
    if type_.startswith("relationship."):
        values |= _relation(entry, ctx, values, known)
    if type_.startswith("family_contract."):
        values |= contract_values(entry, ctx, values, known.identity, source.system)
    if "occurred_at" in values:
        # An export carries no arrival time: the clinical time stands in, so re-imports stay identical.
        values.setdefault("recorded_at", values["occurred_at"])
    for name, info in cls.model_fields.items():
        if info.is_required() and name not in ENVELOPE and name not in values:
            column = first_column(entry.fields[name]) if name in entry.fields else None
            why = f"column {column} is empty" if column else "the spec gives no value"
            raise CellError(column, f"{why}: {type_} needs {name}")
    try:
        event: Event = cls.create(source=source, discriminator=entry.discriminator, patient_id=patient_id, **values)
    except ValidationError as exc:
        raise _explain(exc, entry, type_, ctx.quote) from exc
    return event


def _relation(entry: EventSpec, ctx: RowContext, values: dict[str, Any], known: _Known) -> dict[str, Any]:
    """relation_id (and related_patient_id) of the row's relative: connectors/relations.py."""
    named = {t: evaluate(entry.fields[t], ctx) for t in RELATIVE_TARGETS if t in entry.fields}
    mrn, role, name = (named.get(t, MISSING) for t in RELATIVE_TARGETS)
    person = values.get("person") or {}
    role = values.get("role", MISSING) if role is MISSING else role
    name = person.get("name", MISSING) if name is MISSING else name
    related: tuple[Identifier, ...] = ()
    if mrn is not MISSING:
        related = (Identifier(authority=known.identifiers[0].authority, value=str(mrn), kind="MR"),)
    where = first_column(entry.fields[RELATIVE_MRN]) if RELATIVE_MRN in entry.fields else None
    if not related and (role is MISSING or name is MISSING):
        raise CellError(where, f"nothing names the relative: give {RELATIVE_MRN}, or their role and name")
    material = () if related else (str(role), normalised_name(str(name)))
    try:
        ids = relation_ids(known.identity, known.patient_id, Relative(related, material))
    except RelationIdError as exc:
        raise CellError(where, str(exc)) from exc
    found: dict[str, Any] = {"relation_id": ids.relation_id}
    if entry.type == "relationship.recorded" and ids.related_patient_id is not None:
        found["related_patient_id"] = ids.related_patient_id
    return found


def _referral(
    expr: Expr, ctx: RowContext, referrals: ReferralDirectory | None, refused: list[CellError]
) -> ReferralClaim | None:
    """The claim the row's referral code makes, or None (no code written; or refused, and added to ``refused``:
    the reason names the column, never the code)."""
    text = evaluate(expr, ctx)
    if text is MISSING:
        return None
    column = first_column(expr)
    origin = f"column {column}" if column else REFERRAL_CODE
    if referrals is None:
        refused.append(CellError(column, f"{origin}: this intake looks no referral code up; {WITHOUT_REFERRAL}"))
        return None
    made = claim(str(text), referrals)
    if made is None:
        refused.append(CellError(column, f"{origin}: {NOT_A_CODE}"))
    return made


def _event_class(entry: EventSpec, ctx: RowContext) -> type[Event]:
    if entry.type is not None:
        return CLINICAL_TYPES[entry.type]  # the loader checked the name
    choice = entry.type_from
    chosen = evaluate(choice, ctx) if choice is not None else MISSING
    column = first_column(choice) if choice is not None else None
    if chosen is MISSING:
        raise CellError(column, f"column {column} is empty: it chooses the event type")
    if str(chosen) not in CLINICAL_TYPES:
        raise CellError(column, f"column {column}: {str(chosen)[:40]!r} is not an event type")
    return CLINICAL_TYPES[str(chosen)]


def _explain(exc: ValidationError, entry: EventSpec, type_: str, quote: bool = True) -> CellError:
    """The event model refused a value: say which field, which column and what was expected."""
    err = exc.errors(include_url=False)[0]
    field = str(err["loc"][0]) if err["loc"] else ""
    expr = entry.fields.get(field)
    column = first_column(expr) if expr is not None else None
    given = err.get("input")
    shown = f" {str(given)[:40]!r}" if quote and isinstance(given, str | int | float) else ""
    origin = f"column {column}" if column else f"field {field}"
    return CellError(column, f"{origin}:{shown} does not fit {type_} {field}: {err['msg']}")
