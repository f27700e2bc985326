"""Message templates per id and locale. (Skeleton: rendering and load-time checks are being built.)"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LocalizedText(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str | None = Field(default=None, description="Email subject; other channels ignore it.")
    body: str = Field(min_length=1)


class Template(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str | None = None
    locales: dict[str, LocalizedText] = Field(min_length=1, description="Text per BCP 47 locale, e.g. zh-CN, en.")
