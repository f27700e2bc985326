"""Reading stored careloop events as their JSON payloads, without building domain events or pydantic models.

For followers that pass events on rather than interpret them (the engine-topic relay): the events were
validated when they were written. Decryption and decompression, if the store is configured with them, are
applied as the library's mapper would.
"""

from __future__ import annotations

from typing import Any

from engine.store.aggregate import RECORDED_TOPIC
from engine.store.application import JourneyStore


class StoredPayloads:
    def __init__(self, store: JourneyStore) -> None:
        self._recorder = store.recorder
        self._mapper = store.mapper

    def read(self, after: int, limit: int) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
        """(the last notification id read, or ``after`` if none; the careloop payloads among them by id)."""
        notifications = self._recorder.select_notifications(start=after + 1, limit=limit)
        mapper = self._mapper
        out: list[tuple[int, dict[str, Any]]] = []
        for n in notifications:
            if n.topic != RECORDED_TOPIC:
                continue  # PatientJourneys.Opened and the like carry no careloop event
            state = n.state
            if mapper.cipher:
                state = mapper.cipher.decrypt(state)
            if mapper.compressor:
                state = mapper.compressor.decompress(state)
            out.append((n.id, mapper.transcoder.decode(state)["payload"]))
        return (notifications[-1].id if notifications else after), out
