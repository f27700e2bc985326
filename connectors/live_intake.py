"""Accepting one payload from a live channel (MLLP, HTTP): map it, publish its events and wait for the broker,
or dead-letter it; the verdict says which, so the channel can acknowledge truthfully.

A payload over CARELOOP_MAX_MESSAGE_BYTES is rejected as ``too_large`` without being mapped (``refuse_too_large``
takes the first bytes a channel kept of one it did not read whole); each outcome is sealed and size-checked as
the file intake does it (``connectors.intake.sized``), and rejects' originals are sealed with the intake key. A
message about an erased patient is one of those rejects (``erased``), never a failure the sender would resend.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from connectors.base import Location, Mapped, Outcome, PatientIdentity, Reject
from connectors.formats import BytesMapper
from connectors.intake import RejectFile, dead_letter, sized
from connectors.limits import BUNDLE_SETTING, DEFAULT_MAX_MESSAGE_BYTES, SETTING, too_large_reason
from connectors.publisher import EventPublisher, Record
from connectors.sealing import Sealer

Status = Literal["accepted", "rejected", "failed"]


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status  # accepted: on Kafka; rejected: dead-lettered, do not resend; failed: not stored, resend
    reason: str = ""
    category: str = ""
    events: int = 0


class LiveIntake:
    def __init__(
        self,
        fmt: str,
        mapper: BytesMapper,
        clock: Callable[[], datetime],
        identity: PatientIdentity,
        sealer: Sealer,
        publisher: EventPublisher,
        dead_letters: Any,
        dead_letter_topic: str,
        rejects: RejectFile,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_payload_bytes: int | None = None,
    ) -> None:
        self._fmt = fmt
        self._map = mapper
        self._clock = clock  # when a payload was received: recorded_at of what dates itself nowhere
        self._identity = identity
        self._sealer = sealer
        self._publisher = publisher
        self._dead_letters = dead_letters
        self._dead_letter_topic = dead_letter_topic
        self._rejects = rejects
        self.max_message_bytes = max_message_bytes
        # A payload may carry many messages (a FHIR Bundle): it is bounded apart, each message by max_message_bytes.
        self.max_payload_bytes = max_payload_bytes or max_message_bytes
        self.payload_setting = BUNDLE_SETTING if max_payload_bytes else SETTING
        self._lock = threading.Lock()  # the identity connection and the reject file are not shared by threads

    def accept(self, data: bytes, source: str) -> Verdict:
        if len(data) > self.max_payload_bytes:
            return self.refuse_too_large(data, len(data), source)
        with self._lock:
            try:
                checked = [sized(o, self.max_message_bytes, self._sealer) for o in self._outcomes(data, source)]
            except Exception as exc:  # identity or the key store did not answer: nothing stored, the sender resends
                return Verdict("failed", f"could not identify or seal the message's patient: {type(exc).__name__}")
            rejects = [o for o, _ in checked if isinstance(o, Reject)]
            # a field refused in a message whose events are published: dead-lettered, the message still accepted
            problems = [p for o, _ in checked if isinstance(o, Mapped) for p in o.problems]
            return self._store(rejects, [r for _, records in checked for r in records], problems=problems)

    def close(self) -> None:
        """Close what it opened: the producers, the reject file and the identity's connection."""
        with self._lock:
            self._publisher.close()
            self._dead_letters.close()
            self._rejects.close()
            self._identity.close()

    def refuse_too_large(self, kept: bytes, size: int, source: str) -> Verdict:
        """Reject, unmapped, a payload of ``size`` bytes over the limit, of which ``kept`` are the first bytes."""
        reason = too_large_reason("message", size, self.max_payload_bytes, self.payload_setting)
        with self._lock:
            return self._store([Reject(reason, Location(source), kept, "too_large")], [], size)

    def _outcomes(self, data: bytes, source: str) -> list[Outcome]:
        try:
            return self._map(data, source, self._identity, self._clock())
        except Exception as exc:  # a connector bug must not lose the message: dead-letter it with the reason
            return [Reject(f"internal mapping error: {type(exc).__name__}: {exc}", Location(source), data, "internal")]

    def _store(
        self,
        rejects: list[Reject],
        records: list[Record],
        size: int | None = None,
        problems: list[Reject] | None = None,
    ) -> Verdict:
        """Dead-letter the rejects and ``problems`` (fields refused in accepted messages) and publish the records;
        ``size`` is the original's when only part was kept."""
        try:
            for reject in [*rejects, *(problems or [])]:
                self._rejects.write(reject, self._fmt, size)
                value, headers = dead_letter(reject, self._fmt, self.max_message_bytes, self._sealer, size)
                self._dead_letters.send(self._dead_letter_topic, value=value, headers=headers).get(timeout=30)
            if records:
                self._publisher.publish_records(records, timeout=30)
        except Exception as exc:  # the broker (or the key store) did not answer: tell the sender to try again
            return Verdict("failed", f"could not store the message durably: {type(exc).__name__}: {exc}")
        if rejects:
            first = rejects[0]
            return Verdict("rejected", first.reason, first.category, len(records))
        if problems:  # the sender's message went through: its refused field is said, not a reason to resend
            return Verdict("accepted", problems[0].reason, problems[0].category, len(records))
        return Verdict("accepted", events=len(records))
