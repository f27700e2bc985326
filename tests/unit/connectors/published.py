"""The publisher's port for the intakes' unit tests: the records it was given, as Kafka would hold them."""

from __future__ import annotations

from collections.abc import Iterable

from connectors.publisher import Record


class Published:
    def __init__(self) -> None:
        self.records: list[Record] = []

    def publish_records(self, records: Iterable[Record], timeout: float = 60.0) -> dict[int, int]:
        self.records += records
        return {0: len(self.records)}
