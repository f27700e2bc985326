"""Errors of the journey language and core, under one root."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal


class JourneyError(Exception):
    """Root of every journey-definition and journey-engine error."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding in a journeys file, pointing at file:line:column (1-based)."""

    file: str
    line: int
    column: int
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


class JourneyFileError(JourneyError):
    """journeys.yaml has errors; ``problems`` lists every one of them with its position."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        super().__init__(f"{len(errors)} error(s) in journeys file:\n" + "\n".join(str(p) for p in errors))


class UnknownJourneyError(JourneyError):
    """An instance or a start step names a journey (or version) the catalog does not hold."""
