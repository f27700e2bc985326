"""The column-mapping language: which canonical events a row of a CSV export becomes, as typed models.

A spec is data a HIS team writes for its own export (``mappings/synthea.yaml`` is the worked example);
``loader.py`` reads the YAML into these models and checks them against the event catalog. Every model forbids
unknown keys, so a misspelt key is an error with its line and column, never silently ignored.
"""

from __future__ import annotations

import codecs
import fnmatch
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

Parse = Literal["text", "number", "date", "datetime", "phone"]
Scalar = str | int | float | bool

# The keys that say where a value comes from; a value has exactly one of them.
SOURCES = ("column", "const", "join", "coding", "contact", "person", "first", "items", "row_key")


class SpecModel(BaseModel):
    # YAML reads `1: male` with an int key; numbers become strings so lookup keys compare with cell text.
    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True, populate_by_name=True)


def _valid_zone(value: str | None) -> str | None:
    if value is not None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r} (expected e.g. 'Asia/Shanghai')") from exc
    return value


def _valid_country(value: str | None) -> str | None:
    if value is not None and value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{value!r} is not an ISO 3166 region code (e.g. 'CN', 'US')")
    return value


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, dict | str) else value


class Condition(SpecModel):
    """A test on one cell of the row. Every test given must hold; an empty cell is 'not present'."""

    column: str = Field(min_length=1)
    equals: str | None = None
    in_: tuple[str, ...] | None = Field(default=None, alias="in")
    not_in: tuple[str, ...] | None = None
    present: bool | None = None

    @model_validator(mode="after")
    def _has_a_test(self) -> Condition:
        if self.equals is None and self.in_ is None and self.not_in is None and self.present is None:
            raise ValueError("a condition needs a test: equals, in, not_in or present")
        return self


When = Annotated[tuple[Condition, ...], BeforeValidator(_one_or_many)]
# One column or several: `key: Id` or `key: [PATIENT, CODE, START]`.
Columns = Annotated[tuple[str, ...], BeforeValidator(_one_or_many)]


def _shorthand(value: Any) -> Any:
    """A bare string names a column; a YAML list is a list value (`items`)."""
    if isinstance(value, str):
        return {"column": value}
    if isinstance(value, list):
        return {"items": value}
    return value


class CodingSpec(SpecModel):
    """A coded value: a constant terminology (snomed, loinc, icd-10, ...) and where code and display come from."""

    system: str = Field(min_length=1)
    code: Value
    display: Value | None = None


class ContactSpec(SpecModel):
    """How the patient can be reached: ``phone`` (with ``parse: phone``, so it becomes E.164), email, WeChat."""

    phone: Value | None = None
    email: Value | None = None
    wechat_openid: Value | None = None


class PersonSpec(SpecModel):
    """A relative as a family file names them (relationship.recorded ``person``): name, how to reach them (as
    ``contact:``), language and time zone. Sealed at the intake under the relation's own key."""

    name: Value | None = None
    contact: ContactSpec | None = None
    language: Value | None = None
    timezone: Value | None = None


class Expr(SpecModel):
    """Where one event field comes from, and the few safe transforms applied to it.

    Order of work: the cell is read (surrounding spaces dropped); empty means missing, so ``default`` is used or
    the field is left out; otherwise ``map``/``lookup`` translate it (``otherwise`` for values not listed), then
    ``parse`` turns it into a number, a date, a date-time (``format``, ``timezone`` for times without offset) or
    an E.164 phone number (read in the spec's ``country`` when it has no country code).
    """

    column: str | None = None
    const: Scalar | None = None
    join: tuple[str, ...] | None = None
    coding: CodingSpec | None = None
    contact: ContactSpec | None = None
    person: PersonSpec | None = None
    first: tuple[Value, ...] | None = Field(default=None, description="The first alternative that has a value.")
    items: tuple[Value, ...] | None = Field(default=None, description="A list; items without a value are dropped.")
    row_key: bool | None = Field(default=None, description="The row's key (file `key` columns or row number).")
    sep: str = " "
    map: dict[str, str] | None = None
    lookup: str | None = None
    otherwise: str | None = None
    parse: Parse = "text"
    format: str | None = Field(default=None, description="strptime format when the source is not ISO 8601.")
    timezone: str | None = Field(default=None, description="Zone for times without offset (default: the spec's).")
    default: Scalar | None = None
    required: bool = False
    when: When = ()

    _zone = field_validator("timezone")(_valid_zone)

    @model_validator(mode="after")
    def _consistent(self) -> Expr:
        given = [key for key in SOURCES if key in self.model_fields_set]
        if len(given) != 1:
            found = f" (found {', '.join(given)})" if given else ""
            raise ValueError(f"a value needs exactly one of {', '.join(SOURCES)}{found}")
        if self.map is not None and self.lookup is not None:
            raise ValueError("use either map (inline) or lookup (a table under lookups:), not both")
        if self.otherwise is not None and self.map is None and self.lookup is None:
            raise ValueError("otherwise applies to map or lookup: add one, or drop otherwise")
        if (self.format or self.timezone) and self.parse not in ("date", "datetime"):
            raise ValueError("format and timezone apply to parse: date or parse: datetime")
        if "sep" in self.model_fields_set and self.join is None:
            raise ValueError("sep applies to join")
        return self

    @property
    def source(self) -> str:
        return next(key for key in SOURCES if key in self.model_fields_set)


Value = Annotated[Expr, BeforeValidator(_shorthand)]


class IdentifierSpec(SpecModel):
    """One patient identifier: the column holding its value and its assigning authority."""

    column: str = Field(min_length=1)
    authority: str | None = Field(default=None, description="A constant authority, e.g. 'synthea' or 'his-main'.")
    authority_column: str | None = Field(default=None, description="Or the column that holds the authority.")
    kind: str | None = Field(default=None, description="HL7 identifier type code, e.g. MR.")

    @model_validator(mode="after")
    def _one_authority(self) -> IdentifierSpec:
        if (self.authority is None) == (self.authority_column is None):
            raise ValueError("an identifier needs exactly one of authority (a constant) or authority_column")
        return self


class PatientSpec(SpecModel):
    """How a row names its patient; the identity port turns these identifiers into careloop's patient id."""

    identifiers: Annotated[tuple[IdentifierSpec, ...], BeforeValidator(_one_or_many)] = Field(min_length=1)


class EventSpec(SpecModel):
    """One canonical event a row becomes: a fixed ``type``, or ``type_from`` a column (an event-type choice)."""

    type: str | None = None
    type_from: Value | None = None
    when: When = ()
    discriminator: str = Field(default="", description="Tells apart two events of one type from the same row.")
    fields: dict[str, Value] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_type(self) -> EventSpec:
        if (self.type is None) == (self.type_from is None):
            raise ValueError("an event needs exactly one of type (an event type) or type_from (a column choice)")
        return self


class FileSpec(SpecModel):
    """The rows of files whose name matches ``match`` (a glob, case-insensitive)."""

    match: str = Field(min_length=1)
    name: str | None = Field(default=None, description="Name in message ids; set it when match is a glob.")
    description: str | None = None
    columns: tuple[str, ...] | None = Field(default=None, description="The expected header, to check references.")
    key: Columns | None = None
    patient: PatientSpec | None = None
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    # The character set of the file; when not given, the source profile's (connectors.profiles), else utf-8.
    encoding: str | None = None
    events: tuple[EventSpec, ...] = Field(min_length=1)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {value!r} (e.g. utf-8, gb18030)") from exc
        if not line_readable(value):
            raise ValueError(f"{value} is read line by line as bytes and cannot be: re-export as utf-8")
        return value

    def matches(self, file_name: str) -> bool:
        return fnmatch.fnmatchcase(file_name.lower(), self.match.lower())

    def id_name(self, file_name: str) -> str:
        """The name in message ids: ``name``, else a literal ``match`` (so 'Encounters.CSV' and a replayed row
        give the same ids as 'encounters.csv'), else the file's own name."""
        if self.name:
            return self.name
        return file_name if any(c in self.match for c in "*?[") else self.match


class CsvSpec(SpecModel):
    """A whole mapping file: the source system, defaults, lookup tables and one entry per kind of file."""

    name: str = Field(min_length=1)
    description: str | None = None
    source_system: str = Field(min_length=1, description="Source.system of every event, e.g. 'synthea-csv'.")
    # Times without offset, and phone numbers without country code, when the spec does not say: the source
    # profile's (connectors.profiles, by source_system, then name), by default Asia/Shanghai and CN.
    default_timezone: str | None = None
    country: str | None = Field(default=None, description="ISO 3166 region of phone numbers without a country code.")
    # A reason quotes the bad cell (shortened) to help find it; false: it names file, line and column only, for
    # exports where any cell may say something about a person (a signing date, a household's role word).
    quote_values: bool = True
    patient: PatientSpec | None = None
    lookups: dict[str, dict[str, str]] = Field(default_factory=dict)
    files: tuple[FileSpec, ...] = Field(min_length=1)

    _zone = field_validator("default_timezone")(_valid_zone)
    _country = field_validator("country")(_valid_country)

    def file_for(self, file_name: str) -> FileSpec | None:
        """The first entry whose pattern matches the file's name, or None when the spec does not map it."""
        return next((f for f in self.files if f.matches(file_name)), None)

    def patient_of(self, file: FileSpec) -> PatientSpec | None:
        return file.patient or self.patient


def line_readable(encoding: str) -> bool:
    """Whether a file in this encoding splits into lines at its newline bytes (UTF-16 and UTF-32 do not)."""
    return not codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))


CodingSpec.model_rebuild()
ContactSpec.model_rebuild()
PersonSpec.model_rebuild()
Expr.model_rebuild()
