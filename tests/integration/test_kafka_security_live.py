"""careloop's Kafka clients against a real Apache Kafka that takes only TLS: an SSL listener that requires a client
certificate and a SASL_SSL listener (PLAIN and SCRAM-SHA-512), with a CA made for the run. Every kind of client
careloop runs connects with the CARELOOP_KAFKA_* settings (the admin client creating the topics, a kafka-python
producer, aiokafka consumers, a faust app); a client without its certificate, with a wrong password or that does
not trust the broker's CA is refused.

The broker is the same Apache Kafka as deploy/kafka/kafka.sh runs (its jars, fetched by ``kafka.sh fetch``), with
its own server.properties: the script writes a plaintext one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from pydantic import SecretStr

from connectors.dead_letters import read_all
from connectors.kafka_producer import kafka_producer
from connectors.kafka_reading import end_offsets
from engine.embedded import free_port
from engine.embedded.apache_kafka import DEFAULT_SCRIPT
from engine.plumbing.kafka_security import kafka_security
from engine.plumbing.topics import Topics, ensure_topics
from engine.settings import Settings
from tests.certificates import Authority, authority

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCRAM_PASSWORD, PLAIN_PASSWORD = "careloop-scram-pw-4e1d", "careloop-plain-pw-8b2c"

SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
controller.listener.names=CONTROLLER
listeners=SSL://127.0.0.1:{ssl},SASL_SSL://127.0.0.1:{sasl},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=SSL://127.0.0.1:{ssl},SASL_SSL://127.0.0.1:{sasl}
inter.broker.listener.name=SSL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL
ssl.keystore.type=PEM
ssl.keystore.location={keystore}
ssl.truststore.type=PEM
ssl.truststore.location={truststore}
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \
user_careloop="{plain}";
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
log.dirs={logs}
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
"""


@dataclass(frozen=True)
class TlsBroker:
    ca: Authority
    ssl: str  # bootstrap of the mutual-TLS listener
    sasl: str  # bootstrap of the SASL_SSL listener

    def mutual_tls(self, **more: Any) -> Settings:
        client = self.ca.client("careloop-worker")
        given = {"kafka_ssl_ca": self.ca.cert, "kafka_ssl_cert": client.cert, "kafka_ssl_key": client.key} | more
        return Settings(kafka_security_protocol="SSL", partitions=2, **given)

    def sasl_ssl(self, mechanism: str, password: str, **more: Any) -> Settings:
        given = {"kafka_ssl_ca": self.ca.cert, "kafka_sasl_password": SecretStr(password)} | more
        return Settings(
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism=mechanism,
            kafka_sasl_username="careloop",
            partitions=2,
            **given,
        )


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    folder = tmp_path_factory.mktemp("kafka-tls")
    ca = authority(folder / "ca", "kafka-ca")
    issued = ca.server("localhost", peer=True)  # the broker is a client of its own SSL listener too
    keystore = folder / "broker.pem"
    keystore.write_bytes(issued.key.read_bytes() + issued.cert.read_bytes())
    ports = {"ssl": free_port(), "sasl": free_port(), "controller": free_port()}
    config = folder / "server.properties"
    config.write_text(
        SERVER_PROPERTIES.format(
            **ports, keystore=keystore, truststore=ca.cert, plain=PLAIN_PASSWORD, logs=folder / "logs"
        )
    )
    java = _java_command()
    scram = f"SCRAM-SHA-512=[name=careloop,password={SCRAM_PASSWORD}]"
    subprocess.run(
        [*java, "kafka.tools.StorageTool", "format", "--cluster-id", "Y2FyZWxvb3AtdGxzLXRlcw", "--config", str(config),
         "--add-scram", scram],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    log = folder / "kafka.log"
    with log.open("wb") as out:
        broker = subprocess.Popen([*java, "kafka.Kafka", str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_started(broker, log)
        yield TlsBroker(ca, f"127.0.0.1:{ports['ssl']}", f"127.0.0.1:{ports['sasl']}")
    finally:
        broker.terminate()
        try:
            broker.wait(30)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait(10)


def _java_command() -> list[str]:
    """java with Apache Kafka's jars, fetched into careloop's cache by deploy/kafka/kafka.sh."""
    fetched = subprocess.run(
        ["bash", str(DEFAULT_SCRIPT), "fetch"], capture_output=True, text=True, check=True, timeout=600
    )
    libs = fetched.stdout.strip().splitlines()[-1]
    log4j = DEFAULT_SCRIPT.parent / "log4j2.properties"
    return ["java", "-Xms128m", "-Xmx512m", "-XX:TieredStopAtLevel=1", f"-Dlog4j2.configurationFile={log4j}",
            "-cp", f"{libs}/*"]  # fmt: skip


def _wait_started(broker: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b"Kafka Server started" in log.read_bytes():
            return
        if broker.poll() is not None:
            raise RuntimeError(f"the TLS broker exited ({broker.returncode}); see {log}")
        time.sleep(0.5)
    raise RuntimeError(f"the TLS broker did not start in {timeout:.0f} s; see {log}")


def faust_reads_first(bootstrap: str, topic: str, settings_env: dict[str, str], out: Path) -> bytes:
    env = os.environ | settings_env
    subprocess.run(
        [sys.executable, "-m", "tests.integration.faust_probe", bootstrap, topic, str(out)],
        cwd=ROOT, env=env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    return out.read_bytes() if out.exists() else b""


def test_every_kind_of_client_connects_to_a_broker_that_requires_a_client_certificate(
    tls_broker: TlsBroker, tmp_path: Path
) -> None:
    settings = tls_broker.mutual_tls(topic_prefix="tls-mutual")
    security = kafka_security(settings)
    topics = ensure_topics(settings, tls_broker.ssl)  # the admin client (kafka-python)
    producer = kafka_producer(tls_broker.ssl, "careloop-test", security=security)
    try:
        producer.send(topics.dead_letter, value=b"ADT^A03 from RENHE", headers=[("careloop-reason", b"r")]).get(30)
    finally:
        producer.close()

    assert sum(end_offsets(tls_broker.ssl, topics.dead_letter, security=security).values()) == 1  # aiokafka
    assert [d.value for d in read_all(tls_broker.ssl, topics.dead_letter, security=security)] == [b"ADT^A03 from RENHE"]
    env = {
        "CARELOOP_KAFKA_SECURITY_PROTOCOL": "SSL",
        "CARELOOP_KAFKA_SSL_CA": str(settings.kafka_ssl_ca),
        "CARELOOP_KAFKA_SSL_CERT": str(settings.kafka_ssl_cert),
        "CARELOOP_KAFKA_SSL_KEY": str(settings.kafka_ssl_key),
    }
    assert faust_reads_first(tls_broker.ssl, topics.dead_letter, env, tmp_path / "faust.out") == b"ADT^A03 from RENHE"


def test_a_client_without_its_certificate_is_refused_by_the_broker(tls_broker: TlsBroker) -> None:
    settings = tls_broker.mutual_tls(kafka_ssl_cert=None, kafka_ssl_key=None)
    topic = Topics.for_prefix("tls-mutual").dead_letter
    with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
        end_offsets(tls_broker.ssl, topic, security=kafka_security(settings))


@pytest.mark.parametrize(("mechanism", "password"), [("SCRAM-SHA-512", SCRAM_PASSWORD), ("PLAIN", PLAIN_PASSWORD)])
def test_sasl_over_tls_with_the_right_password_publishes_and_reads(
    tls_broker: TlsBroker, mechanism: str, password: str
) -> None:
    settings = tls_broker.sasl_ssl(mechanism, password, topic_prefix=f"tls-{mechanism.lower()}")
    security = kafka_security(settings)
    topics = ensure_topics(settings, tls_broker.sasl)
    producer = kafka_producer(tls_broker.sasl, "careloop-test", security=security)
    try:
        producer.send(topics.dead_letter, value=mechanism.encode()).get(30)
    finally:
        producer.close()
    assert [d.value for d in read_all(tls_broker.sasl, topics.dead_letter, security=security)] == [mechanism.encode()]


def test_sasl_with_a_wrong_password_is_refused(tls_broker: TlsBroker) -> None:
    settings = tls_broker.sasl_ssl("SCRAM-SHA-512", "careloop-guessed-pw")
    with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
        end_offsets(tls_broker.sasl, "tls-any.dead-letter", security=kafka_security(settings))


def test_a_client_that_does_not_trust_the_brokers_ca_is_refused(tls_broker: TlsBroker, tmp_path: Path) -> None:
    stranger = authority(tmp_path, "other-ca")
    settings = tls_broker.sasl_ssl("SCRAM-SHA-512", SCRAM_PASSWORD, kafka_ssl_ca=stranger.cert)
    with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
        end_offsets(tls_broker.sasl, "tls-any.dead-letter", security=kafka_security(settings))


def test_faust_connects_with_scram_over_tls(tls_broker: TlsBroker, tmp_path: Path) -> None:
    settings = tls_broker.sasl_ssl("SCRAM-SHA-512", SCRAM_PASSWORD, topic_prefix="tls-faust")
    topics = ensure_topics(settings, tls_broker.sasl)
    producer = kafka_producer(tls_broker.sasl, "careloop-test", security=kafka_security(settings))
    try:
        producer.send(topics.dead_letter, value=b"ORU^R01 from RENHE").get(30)
    finally:
        producer.close()
    env = {
        "CARELOOP_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CARELOOP_KAFKA_SSL_CA": str(tls_broker.ca.cert),
        "CARELOOP_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "CARELOOP_KAFKA_SASL_USERNAME": "careloop",
        "CARELOOP_KAFKA_SASL_PASSWORD": SCRAM_PASSWORD,
    }
    assert faust_reads_first(tls_broker.sasl, topics.dead_letter, env, tmp_path / "faust.out") == b"ORU^R01 from RENHE"
