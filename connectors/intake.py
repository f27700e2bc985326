"""Where mapped messages go: events to Kafka (or, in a dry run, to stdout as JSON Lines); rejects to the
dead-letter topic and a local reject file (or stderr), each with the original bytes, location and reason.

Nothing is dropped silently: every message read is counted as published or rejected in the summary.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from connectors.base import Mapped, Outcome, Reject
from connectors.publisher import EventPublisher
from events.base import Event


@dataclass
class Summary:
    messages: int = 0
    events: int = 0
    events_by_type: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)

    @property
    def rejects(self) -> int:
        return sum(self.rejected.values())

    def lines(self, verb: str = "published") -> list[str]:
        out = [f"{self.messages} message(s): {self.events} event(s) {verb}, {self.rejects} rejected"]
        out += [f"  {n:>6}  {t}" for t, n in sorted(self.events_by_type.items())]
        out += [f"  {n:>6}  rejected: {c}" for c, n in sorted(self.rejected.items())]
        return out


class RejectFile:
    """JSON Lines, one reject per line, with the original bytes (base64) so nothing needs the source again."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def write(self, reject: Reject, connector: str) -> None:
        record = {
            "connector": connector,
            "location": str(reject.location),
            "category": reject.category,
            "reason": reject.reason,
            "original_base64": base64.b64encode(reject.original).decode(),
        }
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def reject_headers(reject: Reject, connector: str) -> list[tuple[str, bytes]]:
    return [
        ("careloop-reason", reject.reason.encode()),
        ("careloop-reason-kind", reject.category.encode()),
        ("careloop-origin", f"connector:{connector}".encode()),
        ("careloop-location", str(reject.location).encode()),
    ]


class Intake:
    """Feeds outcomes to their destinations; publishes in batches and waits for the broker's acknowledgement."""

    def __init__(
        self,
        connector: str,
        publisher: EventPublisher | None = None,
        dead_letters: Any = None,  # a kafka-python producer, or None
        dead_letter_topic: str = "",
        rejects: RejectFile | None = None,
        dry_run: IO[str] | None = None,
        dry_run_rejects: IO[str] | None = None,
        batch: int = 500,
    ) -> None:
        self.connector = connector
        self.summary = Summary()
        self._publisher = publisher
        self._dead_letters = dead_letters
        self._dead_letter_topic = dead_letter_topic
        self._rejects = rejects
        self._dry_run = dry_run
        self._dry_run_rejects = dry_run_rejects
        self._batch = batch
        self._pending: list[Event] = []

    def handle(self, outcome: Outcome) -> None:
        self.summary.messages += 1
        if isinstance(outcome, Mapped):
            self._pending.extend(outcome.events)
            self.summary.events += len(outcome.events)
            self.summary.events_by_type.update(e.type for e in outcome.events)
            if len(self._pending) >= self._batch:
                self.flush()
        else:
            self.summary.rejected[outcome.category] += 1
            self._reject(outcome)

    def flush(self) -> None:
        events, self._pending = self._pending, []
        if self._dry_run is not None:
            for e in events:
                self._dry_run.write(e.model_dump_json() + "\n")
        elif self._publisher is not None and events:
            self._publisher.publish(events)  # raises if any is not acknowledged
        if self._dead_letters is not None:
            self._dead_letters.flush()

    def _reject(self, reject: Reject) -> None:
        if self._dry_run_rejects is not None:
            self._dry_run_rejects.write(f"rejected: {reject}\n")
        if self._rejects is not None:
            self._rejects.write(reject, self.connector)
        if self._dead_letters is not None:
            self._dead_letters.send(
                self._dead_letter_topic, value=reject.original, headers=reject_headers(reject, self.connector)
            ).get(timeout=60)
