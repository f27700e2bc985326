"""A history file read as a stream: JSON Lines of canonical events, checked whole before anything is written.

The file may hold years of messages, so it is never held in memory: a first pass checks every line (it parses,
and it is history: recorded by the as-of) and lists every problem with file:line; the load reads it again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from engine.journeys.backfill import not_history
from events import EventError, parse_clinical
from events.base import Event

MAX_PROBLEMS = 50  # listed in full; beyond, counted


class HistoryFileError(Exception):
    def __init__(self, problems: list[str], more: int = 0) -> None:
        self.problems, self.more = problems, more
        tail = f"\n... and {more} more" if more else ""
        super().__init__(f"{len(problems) + more} line(s) cannot be backfilled:\n" + "\n".join(problems) + tail)


def events(path: Path) -> Iterator[tuple[int, Event]]:
    """(line number, event) for every event line; blank lines and # comments skipped. Raises EventError."""
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip() and not line.lstrip().startswith("#"):
                yield number, _parsed(path, number, line)


def _parsed(path: Path, number: int, line: str) -> Event:
    try:
        return parse_clinical(line)
    except EventError as exc:
        raise HistoryFileError([f"{path}:{number}: {exc}"]) from exc


def check(path: Path, as_of: datetime) -> int:
    """Every line checked; the number of events, or HistoryFileError listing what is wrong where."""
    problems: list[str] = []
    count = 0
    try:
        with path.open(encoding="utf-8-sig") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                try:
                    event = parse_clinical(line)
                except EventError as exc:
                    problems.append(f"{path}:{number}: {exc}")
                    continue
                count += 1
                why = not_history(event, as_of)
                if why is not None:
                    problems.append(f"{path}:{number}: {why}")
    except OSError as exc:
        raise HistoryFileError([f"{path}: cannot read: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise HistoryFileError([f"{path}: not UTF-8 at byte {exc.start}"]) from exc
    if problems:
        raise HistoryFileError(problems[:MAX_PROBLEMS], max(len(problems) - MAX_PROBLEMS, 0))
    return count
