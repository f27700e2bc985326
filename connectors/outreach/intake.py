"""Accepting outreach requests: validate every one, map them to events, publish them keyed by patient and wait
for Kafka's acknowledgement. All or nothing per call: one bad request in a batch refuses the batch, unsent.

What the events carry of the patient's own words (a reply's text, a pause's reason, a questionnaire's free-text
answers) is sealed with the patient's key before it is published (connectors/sealing.py); a reply is classified
here, while its text is in hand, into the non-identifying ``keyword`` the engine reads (``keywords``: the journeys
file's consent-by-reply words)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from connectors.base import erased_reason
from connectors.outreach.directory import MessageDirectory
from connectors.outreach.errors import PayloadError, UnavailableError
from connectors.outreach.mapping import Mapped, to_event
from connectors.outreach.payloads import parse
from connectors.sealing import Sealer
from engine.security.errors import ErasedError
from events.base import Event

Clock = Callable[[], datetime]
Keywords = Callable[[str | None], str | None]  # a reply's text -> its consent keyword, or None


class Publisher(Protocol):
    def publish(self, events: Sequence[Event], timeout: float = 60.0) -> dict[int, int]: ...


@dataclass(frozen=True, slots=True)
class Accepted:
    mapped: tuple[Mapped, ...] = field(default_factory=tuple)

    @property
    def event_ids(self) -> list[str]:
        return [m.event.event_id for m in self.mapped]

    def as_json(self) -> dict[str, Any]:
        results = []
        for m in self.mapped:
            result: dict[str, Any] = {"event_id": m.event.event_id, "type": m.event.type}
            if m.scored is not None:
                response_id = getattr(m.event, "response_id", None)
                result |= {"response_id": response_id, "score": m.scored.score, "band": m.scored.band}
                result["warnings"] = list(m.scored.warnings)
            results.append(result)
        return {"event_ids": self.event_ids, "results": results}


def utc_now() -> datetime:
    return datetime.now(UTC)


class OutreachIntake:
    def __init__(
        self,
        directory: MessageDirectory,
        publisher: Publisher,
        system: str,
        sealer: Sealer,
        keywords: Keywords,
        clock: Clock = utc_now,
    ) -> None:
        self._directory = directory
        self._publisher = publisher
        self._system = system
        self._sealer = sealer
        self._keywords = keywords
        self._clock = clock

    def map(self, kind: str, body: Any, caller: str | None = None) -> Accepted:
        """The events for a request (a JSON object) or a batch (a JSON array); nothing is published. ``caller``:
        the authenticated client that sent it, recorded as the events' source system (else the intake's own)."""
        batch = body if isinstance(body, list) else [body]
        indexed = isinstance(body, list)
        if not batch:
            raise PayloadError(f"the {kind} array is empty: send one object or an array of them")
        arrived = self._clock()
        mapped = []
        for n, data in enumerate(batch):
            payload = parse(kind, data, n if indexed else None)
            message_id = getattr(payload, "message_id", None)
            sent = self._directory.find(message_id) if message_id is not None else None
            mapped.append(to_event(payload, sent, arrived, caller or self._system, self._keywords))
        return Accepted(tuple(mapped))

    def accept(self, kind: str, body: Any, caller: str | None = None) -> Accepted:
        """Map and publish; returns once Kafka acknowledged every event. PayloadError: refused, nothing sent (a
        request about an erased patient too); UnavailableError: not stored, send again."""
        accepted = self.map(kind, body, caller)
        try:
            sealed = self._sealer.events([m.event for m in accepted.mapped])
        except ErasedError as exc:  # nothing more is taken about them: resending will not help
            raise PayloadError(f"{kind}: {erased_reason(exc.patient_id)}", _patient_field(body, accepted, exc)) from exc
        except Exception as exc:  # the key store did not answer: nothing was published, the sender sends again
            raise UnavailableError(f"could not seal the patient's data: {type(exc).__name__}") from exc
        try:
            self._publisher.publish(sealed, timeout=30)
        except Exception as exc:  # the broker did not acknowledge: the sender must try again
            raise UnavailableError(f"Kafka did not acknowledge the events: {type(exc).__name__}: {exc}") from exc
        return accepted


def _patient_field(body: Any, accepted: Accepted, exc: ErasedError) -> str:
    """The request at fault, as the 422's field: ``patient_id`` (``[n].patient_id`` in a batch), the patient's
    whether the request named them or its message did."""
    if not isinstance(body, list):
        return "patient_id"
    n = next((i for i, m in enumerate(accepted.mapped) if m.event.patient_id == exc.patient_id), 0)
    return f"[{n}].patient_id"
