"""Message templates as the journeys file declares them: text per template id and locale. Data only: the core
refers to templates by id and checks nothing in their text; rendering and the load-time template checks are the
shell's (engine.outreach)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LocalizedText(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str | None = Field(default=None, description="Email subject (required if a step sends it by email).")
    body: str = Field(min_length=1, description="The message text: Jinja, e.g. {{ appointment.start_at | date }}.")


class Template(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str | None = None
    locales: dict[str, LocalizedText] = Field(min_length=1, description="Text per BCP 47 locale, e.g. zh-CN, en.")
    relative: dict[str, LocalizedText] = Field(
        default_factory=dict,
        description="Text per locale for a relative's copy (a guardian, a caregiver); a locale without one sends the "
        "patient's text after outreach.family.on_behalf.",
    )
