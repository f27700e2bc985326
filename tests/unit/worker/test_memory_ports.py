"""The in-memory ports handle()'s unit tests run on hold to the contract the real adapters hold to
(tests/integration/test_worker_ports.py runs the same suites on PostgreSQL and the broker)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from engine.worker.memory import MemoryDeadLetters, MemoryJourneys, MemoryStore
from engine.worker.ports import DeadLetters, Journeys
from tests.contracts.worker import DeadLettersContract, JourneysContract


class InMemory:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def timers(self) -> dict[str, tuple[str, str, datetime]]:
        return dict(self._store.timers)

    def hand_overs(self) -> list[tuple[str, str]]:
        return [(e.patient_id, e.event_id) for e in self._store.hand_overs]


class TestMemoryJourneys(JourneysContract):
    @pytest.fixture
    def memory(self) -> MemoryStore:
        return MemoryStore()

    @pytest.fixture
    def journeys(self, memory: MemoryStore) -> Callable[[], Journeys]:
        return lambda: MemoryJourneys(memory, consumer="c")

    @pytest.fixture
    def stored(self, memory: MemoryStore) -> InMemory:
        return InMemory(memory)


class TestMemoryDeadLetters(DeadLettersContract):
    @pytest.fixture
    def dead_letters(self) -> tuple[DeadLetters, Callable[[], list[tuple[bytes | None, bytes, dict[str, Any]]]]]:
        sink = MemoryDeadLetters()

        def topic() -> list[tuple[bytes | None, bytes, dict[str, Any]]]:
            return [(d.original.key, d.original.value or b"", dict(d.headers())) for d in sink.sent]

        return sink, topic
