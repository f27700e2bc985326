"""Errors of the events package, under one root so callers can catch them together."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from pydantic import ValidationError


class EventError(Exception):
    """Root of every error raised while reading an event."""


class EventDecodeError(EventError):
    """The bytes are not a JSON object."""


class EventValidationError(EventError):
    """The JSON is not a valid careloop event; ``problems`` lists each field and what is wrong."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)

    @classmethod
    def unknown_type(cls, type_: object, known: Sequence[str]) -> EventValidationError:
        if not isinstance(type_, str):
            return cls(f"missing or non-string 'type' field (expected one of: {', '.join(known)})")
        close = difflib.get_close_matches(type_, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (expected one of: {', '.join(known)})"
        return cls(f"unknown event type {type_!r}{hint}")

    @classmethod
    def from_pydantic(cls, type_: str, exc: ValidationError) -> EventValidationError:
        problems = []
        for err in exc.errors(include_url=False):
            # The first loc element is the union tag (the type); drop it so fields read naturally.
            loc = [str(p) for p in err["loc"]]
            if loc and loc[0] == type_:
                loc = loc[1:]
            problems.append(f"{'.'.join(loc) or '(event)'}: {err['msg']}")
        return cls(f"invalid {type_} event: " + "; ".join(problems), problems)


class UpcastError(EventError):
    """An event's schema_version cannot be brought to the current one."""
