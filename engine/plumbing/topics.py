"""Kafka topic names and their idempotent creation with explicit settings."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from tenacity import Retrying, retry_if_result, stop_after_delay

from connectors.limits import topic_message_bytes
from engine.plumbing.kafka_security import kafka_security
from engine.plumbing.retry import backoff
from engine.settings import Settings

METADATA_WAIT = 30.0  # seconds for a created topic's partitions to show in the broker's metadata


@dataclass(frozen=True)
class Topics:
    clinical: str  # clinical events in, keyed by patient id
    timers: str  # due timer ticks, keyed by patient id: co-partitioned with clinical
    engine: str  # engine decisions out, keyed by patient id
    dead_letter: str  # rejected messages: original bytes, reason and origin in headers
    ids: dict[str, str] = field(default_factory=dict, compare=False)  # topic -> the broker's topic id

    @classmethod
    def for_prefix(cls, prefix: str) -> Topics:
        return cls(f"{prefix}.clinical", f"{prefix}.timers", f"{prefix}.engine", f"{prefix}.dead-letter")

    def all(self) -> list[str]:
        return [self.clinical, self.timers, self.engine, self.dead_letter]


class TopicLayoutError(RuntimeError):
    """An existing topic's partition count differs from the configured one."""


def ensure_topics(settings: Settings, bootstrap: str) -> Topics:
    """Create the topics if missing; check the partition count of those that exist (an existing topic keeps its
    max.message.bytes: raise it by hand when raising CARELOOP_MAX_MESSAGE_BYTES above 1 MiB). The admin client
    connects with the settings' CARELOOP_KAFKA_* security."""
    topics = Topics.for_prefix(settings.topic_prefix)
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="careloop-admin",
        request_timeout_ms=30_000,
        **kafka_security(settings).client_options(),
    )
    try:
        for name in topics.all():
            with contextlib.suppress(TopicAlreadyExistsError):  # idempotent: an existing topic is checked below
                admin.create_topics(
                    [
                        NewTopic(
                            name=name,
                            num_partitions=settings.partitions,
                            replication_factor=settings.replication_factor,
                            topic_configs={
                                "cleanup.policy": "delete",
                                "retention.ms": "-1",
                                # a message of CARELOOP_MAX_MESSAGE_BYTES, or its dead letter, with its headers
                                "max.message.bytes": str(topic_message_bytes(settings.max_message_bytes)),
                            },
                        )
                    ]
                )
        for topic in _described(admin, topics.all()):
            if topic.get("topic_id") and (topic.get("name") or topic.get("topic")):
                topics.ids[str(topic.get("name") or topic.get("topic"))] = str(topic["topic_id"])
            count = len(topic.get("partitions") or [])
            # Clinical and timer topics must be co-partitioned: a patient's ticks meet its events.
            described_name = topic.get("name") or topic.get("topic")
            if described_name in (topics.clinical, topics.timers) and count != settings.partitions:
                raise TopicLayoutError(
                    f"topic {described_name} has {count} partitions but CARELOOP_PARTITIONS is {settings.partitions}; "
                    "clinical and timer topics must have the same count"
                )
    finally:
        admin.close()
    return topics


def _described(admin: KafkaAdminClient, names: list[str]) -> list[dict[str, Any]]:
    """The topics' metadata once every one of them shows its partitions, or as it is after ``METADATA_WAIT``
    seconds. Apache Kafka answers CreateTopics before every broker's metadata cache holds the new topic, so a
    describe right after it may show a topic without partitions (a race seen in the fault suite)."""
    retrying = Retrying(
        retry=retry_if_result(lambda described: any(not topic.get("partitions") for topic in described)),
        wait=backoff(),
        stop=stop_after_delay(METADATA_WAIT),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else [],
    )
    described: list[dict[str, Any]] = retrying(admin.describe_topics, names)
    return described
