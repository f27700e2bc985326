"""Real Apache Kafka 4.x from Maven Central jars (deploy/kafka/kafka.sh): round trips and restarts.

kafka-python creates topics and produces (acks=all); aiokafka consumes. The broker keeps its
data on disk, so a restart on the same data directory and port must lose no acknowledged message.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaTimeoutError, TopicAlreadyExistsError

from engine.embedded import EmbeddedServiceError
from engine.embedded.apache_kafka import DEFAULT_SCRIPT, ApacheKafka
from tests.kafka_topics import PARTITIONS, consume, create_topic, produce, unique

pytestmark = pytest.mark.integration


def _script(*args: str, env: dict[str, str] | None = None, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(DEFAULT_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


def test_a_topic_created_with_the_admin_client_has_the_requested_partitions(apache_kafka: ApacheKafka) -> None:
    topic = unique("admin")
    create_topic(apache_kafka.bootstrap, topic)

    admin = KafkaAdminClient(bootstrap_servers=apache_kafka.bootstrap)
    try:
        [described] = admin.describe_topics([topic])
        assert topic in admin.list_topics()
        with pytest.raises(TopicAlreadyExistsError):
            admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
    finally:
        admin.close()
    assert described["error_code"] == 0
    assert sorted(p["partition_index"] for p in described["partitions"]) == list(range(PARTITIONS))


def test_producing_to_a_topic_nobody_created_does_not_create_it(apache_kafka: ApacheKafka) -> None:
    topic = unique("typo")
    producer = KafkaProducer(bootstrap_servers=apache_kafka.bootstrap, acks="all", max_block_ms=3_000)
    try:
        # auto.create.topics.enable=false: the metadata never names the topic, so send() gives up.
        with pytest.raises(KafkaTimeoutError, match="metadata"):
            producer.send(topic, value=b"lost").get(timeout=5)
    finally:
        producer.close(timeout=5)
    admin = KafkaAdminClient(bootstrap_servers=apache_kafka.bootstrap)
    try:
        assert topic not in admin.list_topics()
    finally:
        admin.close()


def test_keyed_messages_come_back_with_their_keys_values_and_partitions(
    apache_kafka: ApacheKafka, record_testsuite_property: Callable[[str, object], None]
) -> None:
    topic = unique("round-trip")
    create_topic(apache_kafka.bootstrap, topic)

    started = time.monotonic()
    produced = produce(apache_kafka.bootstrap, topic, 1_000)
    consumed = asyncio.run(consume(apache_kafka.bootstrap, topic, unique("group"), expected=1_000))
    record_testsuite_property("apache_kafka_round_trip_seconds_for_1000_messages", round(time.monotonic() - started, 3))

    assert sorted(consumed) == sorted(produced)
    partitions_by_key: dict[bytes, set[int]] = {}
    for key, _value, partition in produced:
        partitions_by_key.setdefault(key, set()).add(partition)
    assert all(len(partitions) == 1 for partitions in partitions_by_key.values())
    assert {p for _k, _v, p in produced} == set(range(PARTITIONS)), "10 keys should spread over all 3 partitions"
    for partition in range(PARTITIONS):
        assert [r for r in consumed if r[2] == partition] == [r for r in produced if r[2] == partition]


def test_acknowledged_messages_and_committed_offsets_survive_a_restart_and_new_messages_are_accepted(
    apache_kafka: ApacheKafka, record_testsuite_property: Callable[[str, object], None]
) -> None:
    topic = unique("durable")
    create_topic(apache_kafka.bootstrap, topic)
    bootstrap = apache_kafka.bootstrap
    before = produce(bootstrap, topic, 300)
    group = unique("group")
    assert sorted(asyncio.run(consume(bootstrap, topic, group, expected=300, commit=True))) == sorted(before)

    started = time.monotonic()
    assert apache_kafka.restart() == bootstrap, "a restart keeps the port"
    record_testsuite_property("apache_kafka_restart_seconds", round(time.monotonic() - started, 3))

    # Everything acknowledged before the restart is still there, for a group that never read it...
    assert sorted(asyncio.run(consume(bootstrap, topic, unique("group"), expected=300))) == sorted(before)
    # ...and the broker accepts new messages, which the old group resumes at (its offsets survived too).
    after = produce(bootstrap, topic, 200, first=300)
    assert sorted(asyncio.run(consume(bootstrap, topic, group, expected=200))) == sorted(after)
    everything = asyncio.run(consume(bootstrap, topic, unique("group"), expected=500))
    assert sorted(everything) == sorted(before + after)
    for partition in range(PARTITIONS):
        assert [r for r in everything if r[2] == partition] == [r for r in before + after if r[2] == partition]


def test_a_broker_whose_port_is_taken_fails_with_an_error_naming_its_log(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        kafka = ApacheKafka(tmp_path, port=taken, start_timeout=30.0)
        with pytest.raises(EmbeddedServiceError, match=r"kafka\.log") as raised:
            kafka.start()
    assert str(tmp_path / "kafka.log") in str(raised.value)
    assert "already in use" in str(raised.value)
    assert not kafka.running


def test_the_script_starts_a_broker_reports_it_running_and_restarts_it_on_the_same_port(tmp_path: Path) -> None:
    data_dir = tmp_path / "kafka"
    env = {**os.environ, "KAFKA_STOP_TIMEOUT": "20"}
    try:
        started = _script("start", str(data_dir), env=env)
        assert started.returncode == 0, started.stderr
        bootstrap = started.stdout.strip()
        assert bootstrap.startswith("127.0.0.1:")

        status = _script("status", str(data_dir), env=env)
        assert status.returncode == 0
        assert bootstrap in status.stdout
        assert _script("start", str(data_dir), env=env).returncode == 1, "a second start refuses"

        assert _script("stop", str(data_dir), env=env).returncode == 0
        assert _script("status", str(data_dir), env=env).returncode == 3
        host, port = bootstrap.rsplit(":", 1)
        with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=1):
            pass

        again = _script("start", str(data_dir), env=env)
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == bootstrap, "without PORT, a restart reuses the recorded port"
    finally:
        _script("stop", str(data_dir), env=env)
    assert (data_dir / "logs" / "meta.properties").is_file()
    assert not (data_dir / "kafka.pid").exists()
