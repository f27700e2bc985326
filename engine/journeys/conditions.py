"""The safe condition language: comparisons, membership, value sets, date windows, all/any/not. No eval."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from engine.journeys.durations import DurationField

Scalar = str | int | float | bool
FIELD_PATTERN = r"^(event|entry|patient|counter)\.[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
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
Conditions = list[Condition]

AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()

ConditionKind = Literal["compare", "all", "any", "not"]
