"""Accepting one payload from a live channel (MLLP, HTTP): map it, publish its events and wait for the broker,
or dead-letter it; the verdict says which, so the channel can acknowledge truthfully."""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from connectors.base import Location, Mapped, PatientIdentity, Reject
from connectors.formats import bytes_mapper
from connectors.identity import PostgresIdentity
from connectors.intake import RejectFile, reject_headers
from connectors.publisher import EventPublisher

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # kafka-python 3 on Python 3.11
    from kafka import KafkaProducer

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
        identity: PatientIdentity,
        publisher: EventPublisher,
        dead_letters: Any,
        dead_letter_topic: str,
        rejects: RejectFile,
    ) -> None:
        self._fmt = fmt
        self._map = bytes_mapper(fmt)
        self._identity = identity
        self._publisher = publisher
        self._dead_letters = dead_letters
        self._dead_letter_topic = dead_letter_topic
        self._rejects = rejects
        self._lock = threading.Lock()  # the identity connection and the reject file are not shared by threads

    def accept(self, data: bytes, source: str) -> Verdict:
        with self._lock:
            try:
                outcomes = self._map(data, source, self._identity)
            except Exception as exc:  # a connector bug must not lose the message: dead-letter it with the reason
                outcomes = [
                    Reject(f"internal mapping error: {type(exc).__name__}: {exc}", _where(source), data, "internal")
                ]
            rejects = [o for o in outcomes if isinstance(o, Reject)]
            events = [e for o in outcomes if isinstance(o, Mapped) for e in o.events]
            try:
                for reject in rejects:
                    self._rejects.write(reject, self._fmt)
                    self._dead_letters.send(
                        self._dead_letter_topic, value=reject.original, headers=reject_headers(reject, self._fmt)
                    ).get(timeout=30)
                if events:
                    self._publisher.publish(events, timeout=30)
            except Exception as exc:  # the broker did not acknowledge: tell the sender to try again
                return Verdict("failed", f"could not store the message durably: {type(exc).__name__}: {exc}")
            if rejects:
                first = rejects[0]
                return Verdict("rejected", first.reason, first.category, len(events))
            return Verdict("accepted", events=len(events))


def _where(source: str) -> Location:
    return Location(source)


def open_live_intake(fmt: str, bootstrap: str, database_url: str, topics: Any, data_dir: Path) -> LiveIntake:
    """The composition root of a live intake: identity in PostgreSQL, Kafka producers, a reject file."""
    dead = KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=10, client_id=f"careloop-{fmt}-intake")
    rejects = RejectFile(data_dir / "rejects" / f"{fmt}-live-{time.strftime('%Y%m%dT%H%M%S')}.jsonl")
    return LiveIntake(
        fmt,
        PostgresIdentity(database_url),
        EventPublisher(bootstrap, topics.clinical),
        dead,
        topics.dead_letter,
        rejects,
    )
