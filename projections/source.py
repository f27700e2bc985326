"""Where the runner reads from: pages of the event store's notification log, as careloop events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from psycopg import sql
from psycopg.rows import tuple_row
from pydantic import BaseModel, ConfigDict, ValidationError

from engine.store.aggregate import RECORDED_TOPIC, PatientJourneys
from engine.store.application import JourneyStore
from events import EventError, parse_event
from events.base import Event
from events.catalog import AnyEvent
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


class _Stored(BaseModel):
    """The stored state of a PatientJourneys.Recorded: its careloop event, validated straight from the JSON."""

    model_config = ConfigDict(extra="ignore")
    payload: AnyEvent


class StoreSource:
    """The journey store's log, read with one plain select of (id, topic, state) per page.

    eventsourcing's mapper would decode each state into a domain event (JSON into dicts, its own transcoding),
    and then parse_event would validate the payload again: twice the work. Here a Recorded state is validated
    from its JSON bytes in one pass by pydantic; Opened and other topics are skipped by topic without decoding.
    That shortcut holds only for current-version payloads: a state that fails it, or whose event is of an older
    schema_version, goes the careful way (decode, upcast in parse_event, validate). With a cipher or compressor
    configured the states are not plain JSON, and every notification goes through the mapper as before.
    """

    def __init__(self, store: JourneyStore) -> None:
        self._store = store
        self.channel: str = getattr(store.recorder, "channel_name", "careloop_events")
        recorder: Any = store.recorder
        self._plain = store.mapper.cipher is None and store.mapper.compressor is None
        self._select = (
            sql.SQL(
                "SELECT notification_id, topic, state FROM {}.{} WHERE notification_id > %s "
                "ORDER BY notification_id LIMIT %s"
            )
            .format(sql.Identifier(recorder.datastore.schema), sql.Identifier(recorder.events_table_name))
            .as_string(None)
        )

    def head(self) -> int:
        return self._store.recorder.max_notification_id() or 0

    def read(self, after: int, limit: int) -> Page:
        if not self._plain:
            return self._read_mapped(after, limit)
        # Binary results: the state comes as its bytes, where text would send it hex-encoded for this process to
        # decode (half the fetch's time on a rebuild's pages).
        with self._store.datastore().get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as cur:
            rows = cur.execute(self._select, (after, limit), prepare=True).fetchall()
        events = [(nid, decode(nid, state)) for nid, topic, state in rows if topic == RECORDED_TOPIC]
        return Page(after, rows[-1][0] if rows else after, tuple(events))

    def _read_mapped(self, after: int, limit: int) -> Page:
        notifications = self._store.recorder.select_notifications(start=after + 1, limit=limit)
        events: list[tuple[int, Event]] = []
        for n in notifications:
            domain_event = self._store.mapper.to_domain_event(n)
            if not isinstance(domain_event, PatientJourneys.Recorded):
                continue  # PatientJourneys.Opened and the like carry no careloop event
            events.append((n.id, _parsed(n.id, domain_event.payload)))
        return Page(after, notifications[-1].id if notifications else after, tuple(events))


def decode(notification_id: int, state: bytes) -> Event:
    """The careloop event in a Recorded state (JSON bytes), as parse_event would return it."""
    try:
        event: Event = _Stored.model_validate_json(state).payload
    except ValidationError:
        pass  # an older schema the current model refuses, or an invalid event: parse_event says which
    else:
        if event.schema_version == type(event).SCHEMA_VERSION:
            return event
    try:
        payload = json.loads(state)["payload"]
    except (ValueError, TypeError, KeyError) as exc:
        raise UndecodableNotificationError(notification_id, f"not a recorded event's JSON: {exc}") from exc
    return _parsed(notification_id, payload)


def _parsed(notification_id: int, payload: Any) -> Event:
    try:
        return parse_event(payload)
    except EventError as exc:
        raise UndecodableNotificationError(notification_id, str(exc)) from exc
