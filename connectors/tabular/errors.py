"""Errors of the CSV connector, under one root. Bad rows are not errors: they are ``Reject`` outcomes."""

from __future__ import annotations

from collections.abc import Sequence

from engine.yamlfile.problems import Problem


class TabularError(Exception):
    """Root of every error the CSV connector raises."""


class SpecError(TabularError):
    """A mapping spec has errors; ``problems`` lists every one of them with file:line:column."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        super().__init__(f"{len(errors)} error(s) in CSV mapping spec:\n" + "\n".join(str(p) for p in errors))


class SourceNotFoundError(TabularError):
    """The file or export folder to import does not exist."""
