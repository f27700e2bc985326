"""The error of a journeys file that does not load."""

from __future__ import annotations

from collections.abc import Sequence

from engine.journeys.errors import JourneyError
from engine.yamlfile.problems import Problem


class JourneyFileError(JourneyError):
    """journeys.yaml has errors; ``problems`` lists every one of them with its position."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        super().__init__(f"{len(errors)} error(s) in journeys file:\n" + "\n".join(str(p) for p in errors))
