"""The safe condition language: comparisons, membership, value sets, date windows, all/any/not. No eval."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, GetCoreSchemaHandler, Tag, model_validator
from pydantic_core import CoreSchema, core_schema

from engine.journeys.durations import Duration, DurationField

Scalar = str | int | float | bool
# A segment after the first may hold hyphens: patient.campaigns.<journey id>.* names a journey id (sanfu-tie).
FIELD_PATTERN = r"^(event|entry|patient|counter)\.[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*$"
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "in_value_set", "exists", "within", "older_than")


class _Cond(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Compare(_Cond):
    """``field`` compared with one operator. Fields: event.*, entry.*, patient.*, counter.*."""

    field: str = Field(pattern=FIELD_PATTERN, description="event.X, entry.X, patient.X or counter.X")
    eq: Scalar | None = None
    ne: Scalar | None = None
    gt: int | float | None = None
    gte: int | float | None = None
    lt: int | float | None = None
    lte: int | float | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_in: list[Scalar] | None = None
    in_value_set: str | None = Field(default=None, description="Name of a value set under value_sets.")
    exists: bool | None = None
    within: DurationField | None = Field(default=None, description="A date field no older than this before now.")
    older_than: DurationField | None = Field(
        default=None, description="A date field older than this before now; a missing date counts as older."
    )

    @model_validator(mode="after")
    def _one_operator(self) -> Compare:
        given = [op for op in OPERATORS if getattr(self, "in_" if op == "in" else op) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"a condition needs exactly one operator out of {', '.join(OPERATORS)} (found {found})")
        return self

    @property
    def operator(self) -> str:
        return next(op for op in OPERATORS if getattr(self, "in_" if op == "in" else op) is not None)

    @property
    def operand(self) -> Any:
        return getattr(self, "in_" if self.operator == "in" else self.operator)


class AllOf(_Cond):
    all: list[Condition] = Field(min_length=1)


class AnyOf(_Cond):
    any: list[Condition] = Field(min_length=1)


class NotOf(_Cond):
    not_: Condition = Field(alias="not")


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, AllOf | AnyOf | NotOf):
        return "all" if isinstance(value, AllOf) else "any" if isinstance(value, AnyOf) else "not"
    if isinstance(value, BaseModel):
        return "compare"
    if not isinstance(value, dict):
        return None
    for key in ("all", "any", "not"):
        if key in value:
            return key
    return "compare"


Condition = Annotated[
    Annotated[Compare, Tag("compare")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition",
        custom_error_message="a condition is a mapping: {field: ..., <operator>: ...}, {all: [...]}, {any: [...]} "
        "or {not: ...}",
    ),
]

AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()

ConditionKind = Literal["compare", "all", "any", "not"]


# --- compiled once, when the journeys file is read ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Test:
    """A Compare with its operator, operand and field path worked out: what evaluate.holds reads."""

    op: str
    operand: Any  # a scalar, a list of them, a value set's name, a bool (exists) or a Duration
    scope: str  # event, entry, patient or counter
    parts: tuple[str, ...]  # the field path after the scope
    limit: timedelta  # within / older_than: the operand as elapsed time (zero for the other operators)


@dataclass(frozen=True, slots=True)
class AllTests:
    tests: tuple[Predicate, ...]


@dataclass(frozen=True, slots=True)
class AnyTests:
    tests: tuple[Predicate, ...]


@dataclass(frozen=True, slots=True)
class NotTest:
    test: Predicate


Predicate = Test | AllTests | AnyTests | NotTest


def compile_condition(cond: Compare | AllOf | AnyOf | NotOf) -> Predicate:
    if isinstance(cond, AllOf):
        return AllTests(tuple(compile_condition(c) for c in cond.all))
    if isinstance(cond, AnyOf):
        return AnyTests(tuple(compile_condition(c) for c in cond.any))
    if isinstance(cond, NotOf):
        return NotTest(compile_condition(cond.not_))
    op, operand = cond.operator, cond.operand
    scope, *parts = cond.field.split(".")
    limit = operand.approx_timedelta() if isinstance(operand, Duration) else timedelta(0)
    return Test(op, operand, scope, tuple(parts), limit)


class When(list[Condition]):
    """Conditions that must all hold, with their predicates compiled when the file is read (the models are frozen,
    so this list is never changed after). Validated and serialised as the plain list of conditions it holds."""

    __slots__ = ("predicates",)

    def __init__(self, conditions: Iterable[Compare | AllOf | AnyOf | NotOf] = ()) -> None:
        super().__init__(conditions)
        self.predicates = tuple(compile_condition(c) for c in self)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(cls, handler(list[Condition]))
