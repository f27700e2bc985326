"""Creating the topics waits for the broker's metadata to show their partitions: Apache Kafka answers CreateTopics
before every broker's metadata cache holds the new topic."""

from __future__ import annotations

from typing import Any

from engine.plumbing import topics as topics_module


class LaggingAdmin:
    """Describes the topics without partitions for the first ``lag`` calls, as a broker catching up does."""

    def __init__(self, lag: int) -> None:
        self.lag = lag
        self.calls = 0

    def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        self.calls += 1
        partitions = [] if self.calls <= self.lag else [{"partition": 0}, {"partition": 1}]
        return [{"topic": name, "partitions": partitions} for name in names]


def test_a_topic_described_without_partitions_right_after_its_creation_is_described_again(monkeypatch: Any) -> None:
    monkeypatch.setattr(topics_module, "backoff", lambda: lambda state: 0.0)
    admin = LaggingAdmin(lag=2)

    described = topics_module._described(admin, ["a.clinical", "a.timers"])  # type: ignore[arg-type]

    assert admin.calls == 3
    assert [len(topic["partitions"]) for topic in described] == [2, 2]


def test_a_topic_still_without_partitions_after_the_wait_is_returned_as_it_is(monkeypatch: Any) -> None:
    monkeypatch.setattr(topics_module, "backoff", lambda: lambda state: 0.0)
    monkeypatch.setattr(topics_module, "METADATA_WAIT", 0.05)
    admin = LaggingAdmin(lag=10**9)

    described = topics_module._described(admin, ["a.clinical"])  # type: ignore[arg-type]

    assert admin.calls > 1
    assert described == [{"topic": "a.clinical", "partitions": []}]
