"""Reading a JSON Lines file of canonical events, with every bad line reported as file:line: reason."""

from __future__ import annotations

from pathlib import Path

from events import EventError, parse_clinical
from events.base import Event


class EventFileError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} invalid event(s):\n" + "\n".join(problems))


def read_events(path: Path) -> list[Event]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise EventFileError([f"{path}: cannot read: {exc.strerror}"]) from exc
    events: list[Event] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            events.append(parse_clinical(line))
        except EventError as exc:
            problems.append(f"{path}:{number}: {exc}")
    if problems:
        raise EventFileError(problems)
    return events
