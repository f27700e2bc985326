"""Where mapped messages go: events to Kafka (or, in a dry run, to stdout as JSON Lines); rejects to the
dead-letter topic and a local reject file (or stderr), each with the original bytes, location and reason.

Nothing is dropped silently: every message read is counted as published or rejected in the summary. A message
over CARELOOP_MAX_MESSAGE_BYTES, or with an event that would be once sealed, is rejected as ``too_large`` here,
once for every connector (``sized``); its dead letter keeps the first bytes that fit and says so, the reject file
keeps them all.

A message about an erased patient is rejected as ``erased`` (``sized`` again): the key store refuses to seal for
them, and careloop keeps nothing new about a patient who asked to be forgotten; its original is dead-lettered
sealed with the intake key like any reject. A relative erased alone (`careloop erase P --relation REL`) refuses only
the part of the message recording them when the mapping names it (an NK1: ``Mapped.parts``), a reject of its own
beside the rest, which is published.

Nothing rests in clear (connectors/sealing.py): events are published with their patient-identifying fields
sealed, and the original of a reject is sealed with the intake key in the reject file (mode 0600, in a folder only
its owner may enter) and in its dead letter. A dry run rests nothing: it prints events and reasons in clear.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from connectors.base import ERASED, Mapped, Outcome, Reject, erased_reason
from connectors.limits import DEFAULT_MAX_MESSAGE_BYTES, kept_note, too_large_reason
from connectors.publisher import EventPublisher, Record, encode
from connectors.sealing import SEALED_HEADER, Sealer, fitting, relation_erased_reason
from engine.security.cipher import PREFIX
from engine.security.errors import ErasedError, RelationErasedError
from events.base import Event

Header = tuple[str, bytes]


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
    """JSON Lines, one reject per line, with the original bytes sealed with the intake key
    (``original_sealed``), so nothing needs the source again and the file alone reveals nothing.

    ``original_kept`` says whether they are the whole original or only its first bytes (an MLLP frame over the
    limit is not kept whole in memory), and ``original_size`` how large the original was."""

    def __init__(self, path: Path, sealer: Sealer) -> None:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True)
        self.path = path
        self._sealer = sealer
        # 0600 from its creation: the sealed originals are only as private as the file's metadata allows
        self._file: IO[str] = os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a")

    def write(self, reject: Reject, connector: str, size: int | None = None) -> None:
        size = len(reject.original) if size is None else size
        record = {
            "connector": connector,
            "location": str(reject.location),
            "category": reject.category,
            "reason": reject.reason,
            "original_size": size,
            "original_kept": kept_note(len(reject.original), size),
            "original_sealed": self._sealer.original(reject.original),
        }
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def reject_headers(reject: Reject, connector: str) -> list[Header]:
    return [
        ("careloop-reason", reject.reason.encode()),
        ("careloop-reason-kind", reject.category.encode()),
        ("careloop-origin", f"connector:{connector}".encode()),
        ("careloop-location", str(reject.location).encode()),
    ]


def dead_letter(
    reject: Reject, connector: str, limit: int, sealer: Sealer, size: int | None = None
) -> tuple[bytes, list[Header]]:
    """A reject's dead letter: its original sealed with the intake key, cut to the first bytes that fit Kafka's
    record limit (``limit``) once sealed, and a ``careloop-original`` header saying 'whole' or 'first N of M
    bytes'."""
    size = len(reject.original) if size is None else size
    kept = reject.original[: fitting(len(reject.original), limit)]
    headers = [*reject_headers(reject, connector), ("careloop-original", kept_note(len(kept), size).encode())]
    return sealer.original(kept).encode(), [*headers, (SEALED_HEADER, PREFIX.encode())]


def sized(outcome: Outcome, limit: int, sealer: Sealer) -> tuple[Outcome, list[Record]]:
    """The outcome and its events, sealed and encoded for Kafka; or a Reject (and no records): ``too_large`` when
    the message is over ``limit`` bytes or one of its sealed events would be, ``erased`` when one of its events is
    about an erased patient (a verdict like any other reject: resending it unchanged is refused again)."""
    size = len(outcome.original)
    if size > limit:
        reason = too_large_reason("message", size, limit)
        if isinstance(outcome, Reject):  # keep what else is wrong with it: the sender will need to know
            reason += f" (it is also rejected as {outcome.category}: {outcome.reason})"
        return Reject(reason, outcome.location, outcome.original, "too_large"), []
    if isinstance(outcome, Reject):
        return outcome, []
    try:
        sealed, outcome = _sealed(outcome, sealer)
    except RelationErasedError as exc:  # a relative erased alone: the patient is not, the reason must say so
        reason = relation_erased_reason(exc.patient_id, exc.relation_id)
        return Reject(reason, outcome.location, outcome.original, ERASED), []
    except ErasedError as exc:
        return Reject(erased_reason(exc.patient_id), outcome.location, outcome.original, ERASED), []
    records = [encode(e) for e in sealed]
    for event, (_, value) in zip(outcome.events, records, strict=True):
        if len(value) > limit:
            reason = too_large_reason(f"its {event.type} event", len(value), limit)
            return Reject(reason, outcome.location, outcome.original, "too_large"), []
    return outcome, records


def _sealed(outcome: Mapped, sealer: Sealer) -> tuple[tuple[Event, ...], Mapped]:
    """The message's events sealed, and the outcome they belong to. A relative erased alone has no key to seal what
    records them: the part of the message naming them (an NK1, ``Mapped.parts``) is refused alone, a problem beside
    the rest, which goes through (the patient's update is not lost). RelationErasedError when the mapping names no
    part for such an event, or when nothing else is left: the whole message is refused, naming the relation."""
    try:
        return sealer.events(outcome.events), outcome
    except RelationErasedError:
        if not outcome.parts:
            raise
    kept: list[tuple[Event, Event]] = []  # (as mapped, sealed)
    refused: list[tuple[Reject, RelationErasedError]] = []
    for event in outcome.events:
        try:
            kept.append((event, sealer.event(event)))
        except RelationErasedError as exc:
            part = outcome.parts.get(event.event_id)
            if part is None:
                raise
            why = (
                f"{part}: {relation_erased_reason(exc.patient_id, exc.relation_id)}; the rest of the message was taken"
            )
            refused.append((Reject(why, replace(outcome.location, detail=part), outcome.original, ERASED), exc))
    if not kept:
        raise refused[0][1]
    problems = (*outcome.problems, *(r for r, _ in refused))
    return tuple(s for _, s in kept), replace(outcome, events=tuple(e for e, _ in kept), problems=problems)


class Intake:
    """Feeds outcomes to their destinations; publishes in batches and waits for the broker's acknowledgement."""

    def __init__(
        self,
        connector: str,
        sealer: Sealer,
        publisher: EventPublisher | None = None,
        dead_letters: Any = None,  # a kafka-python producer, or None
        dead_letter_topic: str = "",
        rejects: RejectFile | None = None,
        dry_run: IO[str] | None = None,
        dry_run_rejects: IO[str] | None = None,
        batch: int = 500,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self.connector = connector
        self._sealer = sealer
        self.summary = Summary()
        self._publisher = publisher
        self._dead_letters = dead_letters
        self._dead_letter_topic = dead_letter_topic
        self._rejects = rejects
        self._dry_run = dry_run
        self._dry_run_rejects = dry_run_rejects
        self._batch = batch
        self._limit = max_message_bytes
        self._pending: list[Record] = []

    def handle(self, outcome: Outcome) -> None:
        self.summary.messages += 1
        outcome, records = sized(outcome, self._limit, self._sealer)
        if isinstance(outcome, Mapped):
            # a dry run prints what it would publish in clear: it rests nowhere
            self._pending.extend(records if self._dry_run is None else [encode(e) for e in outcome.events])
            self.summary.events += len(outcome.events)
            self.summary.events_by_type.update(e.type for e in outcome.events)
            if len(self._pending) >= self._batch:
                self.flush()
            for problem in outcome.problems:  # published without the field: the field is rejected on its own
                self.summary.rejected[problem.category] += 1
                self._reject(problem)
        else:
            self.summary.rejected[outcome.category] += 1
            self._reject(outcome)

    def flush(self) -> None:
        records, self._pending = self._pending, []
        if self._dry_run is not None:
            for _, value in records:
                self._dry_run.write(value.decode() + "\n")
        elif self._publisher is not None and records:
            self._publisher.publish_records(records)  # raises if any is not acknowledged
        if self._dead_letters is not None:
            self._dead_letters.flush()

    def _reject(self, reject: Reject) -> None:
        if self._dry_run_rejects is not None:
            self._dry_run_rejects.write(f"rejected: {reject}\n")
        if self._rejects is not None:
            self._rejects.write(reject, self.connector)
        if self._dead_letters is not None:
            value, headers = dead_letter(reject, self.connector, self._limit, self._sealer)
            self._dead_letters.send(self._dead_letter_topic, value=value, headers=headers).get(timeout=60)
