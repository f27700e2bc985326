"""Where the runner reads from: pages of the event store's notification log, as careloop events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from engine.store.aggregate import PatientJourneys
from engine.store.application import JourneyStore
from events import EventError, parse_event
from events.base import Event
from projections.errors import UndecodableNotificationError


@dataclass(frozen=True, slots=True)
class Page:
    """Notifications ``after`` < id <= ``last``; ``events`` are the careloop events among them with their ids."""

    after: int
    last: int
    events: tuple[tuple[int, Event], ...]

    @property
    def empty(self) -> bool:
        return self.last == self.after


class NotificationSource(Protocol):
    channel: str  # the PostgreSQL LISTEN/NOTIFY channel the writer notifies after each insert

    def head(self) -> int:
        """The id of the newest notification, 0 for an empty log."""
        ...

    def read(self, after: int, limit: int) -> Page: ...


class StoreSource:
    """The journey store's log, through eventsourcing's recorder and mapper (which decode, decompress...)."""

    def __init__(self, store: JourneyStore) -> None:
        self._store = store
        self.channel: str = getattr(store.recorder, "channel_name", "careloop_events")

    def head(self) -> int:
        return self._store.recorder.max_notification_id() or 0

    def read(self, after: int, limit: int) -> Page:
        notifications = self._store.recorder.select_notifications(start=after + 1, limit=limit)
        events: list[tuple[int, Event]] = []
        for n in notifications:
            domain_event = self._store.mapper.to_domain_event(n)
            if not isinstance(domain_event, PatientJourneys.Recorded):
                continue  # PatientJourneys.Opened and the like carry no careloop event
            try:
                events.append((n.id, parse_event(domain_event.payload)))
            except EventError as exc:
                raise UndecodableNotificationError(n.id, str(exc)) from exc
        return Page(after, notifications[-1].id if notifications else after, tuple(events))
