"""The envelope every careloop event carries, and the frozen model base all events share."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from events.ids import deterministic_id


class Frozen(BaseModel):
    """Immutable, strict-shape model: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Source(Frozen):
    """Where an event came from: the emitting system and its own id for the message."""

    system: str = Field(min_length=1, description="Emitting system, e.g. 'his-main' or 'careloop-engine'.")
    message_id: str = Field(min_length=1, description="The source system's id of the message (e.g. HL7 MSH-10).")


class Coding(Frozen):
    """A code from a terminology (ICD-10, SNOMED CT, LOINC, ...)."""

    system: str = Field(min_length=1, description="Terminology: 'icd-10', 'snomed', 'loinc', 'cpt', or a URI.")
    code: str = Field(min_length=1)
    display: str | None = None


class Event(Frozen):
    """The envelope. Subclasses add a ``type`` literal and their payload fields at the top level."""

    # The current schema version of a concrete event class; older payloads are upcast to it.
    SCHEMA_VERSION: ClassVar[int] = 1
    # A concrete class's ``type`` literal, taken once as the class is defined: ``model_fields`` is slow to reach
    # per call, and ``create`` needs it for every event an intake builds.
    TYPE: ClassVar[str] = ""

    event_id: str = Field(
        min_length=1, description="Deterministic from the source message: re-publishing is idempotent."
    )
    type: str
    schema_version: int = Field(default=1, ge=1)
    patient_id: str = Field(min_length=1, description="Canonical careloop patient id.")
    occurred_at: AwareDatetime = Field(description="Clinical time: when it happened, with its UTC offset.")
    recorded_at: AwareDatetime = Field(description="When the source system recorded it (arrival time for the engine).")
    source: Source
    correlation_id: str | None = Field(
        default=None, description="Groups events of one care episode or journey instance."
    )
    causation_id: str | None = Field(default=None, description="The event_id of the event that caused this one.")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        default = cls.model_fields["type"].default
        cls.TYPE = default if isinstance(default, str) else ""

    @classmethod
    def create(cls, *, source: Source, discriminator: str = "", **fields: Any) -> Any:
        """Build an event whose id derives from its source message, so the same message gives the same id."""
        if not cls.TYPE:
            raise TypeError(f"{cls.__name__} has no type literal: only concrete event classes are created")
        event_id = deterministic_id(source.system, source.message_id, cls.TYPE, discriminator)
        return cls(event_id=event_id, source=source, schema_version=cls.SCHEMA_VERSION, **fields)
