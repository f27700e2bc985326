"""One settings class for every careloop process: environment variables with the CARELOOP_ prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.limits import DEFAULT_MAX_MESSAGE_BYTES


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARELOOP_", extra="ignore", frozen=True)

    kafka_bootstrap: str | None = Field(
        default=None, description="host:port of an external Kafka; unset starts the embedded broker."
    )
    database_url: SecretStr | None = Field(
        default=None, description="postgresql:// URL of an external PostgreSQL; unset starts the embedded one."
    )
    data_dir: Path = Field(default=Path(".careloop"), description="Where embedded services keep data and logs.")
    journeys: Path = Path("journeys.yaml")
    # PIPL Art. 47: deleted once the retention period ends; `careloop erase --expired`, run daily, erases them.
    retention_days: int | None = Field(
        default=None,
        ge=1,
        description="Days after a patient's last activity that `careloop erase --expired` erases them; unset: never.",
    )

    topic_prefix: str = Field(default="careloop", pattern=r"^[A-Za-z0-9._-]+$")
    partitions: int = Field(default=12, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    consumer_group: str = "careloop-engine"

    batch_max: int = Field(default=500, ge=1, description="Messages per processing batch.")
    # take_events waits this long for a batch to fill unless batch_max arrive first: under load batches fill at
    # once, and when it is quiet the wait is added to every event's and every timer tick's latency.
    batch_within: float = Field(default=0.05, gt=0, description="Seconds to wait filling a batch.")
    # Tansu holds a group's first join for about half the session timeout; faust's default 60 s means 30 s idle.
    session_timeout: float = Field(default=6.0, gt=0)
    # A patient leaving the cache is loaded again from its snapshot and the events since (one query per batch),
    # which measured no slower in a backfill with 2% of the patients cached; each cached patient costs a few KB of
    # the worker's resident set (BENCHMARKS.md, "Memory").
    aggregate_cache_size: int = Field(default=10_000, ge=0)
    snapshot_after: int = Field(
        default=16,
        ge=0,
        description="Snapshot a patient leaving the aggregate cache once it has this many events since its last "
        "snapshot (0: never), so loading it again reads one row instead of replaying its history.",
    )

    clock: Literal["system", "database"] = Field(
        default="system", description="database: read 'now' from careloop_clock, so tests and demos move time."
    )
    # Seconds between claims of due timers: a claim is one index range scan on a kept connection, so polling
    # often costs little, and the interval is the floor of the timers' firing lag (BENCHMARKS.md).
    timer_poll_interval: float = Field(default=0.1, gt=0)
    timer_batch: int = Field(default=1000, ge=1)
    timer_republish_after: float = Field(default=30.0, gt=0, description="Seconds before an unfired tick is resent.")
    # The worker's relay (engine/worker/relay.py) copies every engine event to <topic_prefix>.engine. No careloop
    # process reads that topic (they follow the store), and relaying costs the worker a share of its time, so it
    # runs only for a deployment that subscribes to it. Off, nothing is lost: the store stays the record, and
    # turning it on later publishes from where the relay last stood (from the start if it never ran).
    engine_topic: bool = Field(
        default=False,
        description="Publish every engine event to <topic_prefix>.engine, for subscribers outside careloop.",
    )

    # Every intake (file message, MLLP frame, HTTP body) and every event is bounded by it; above 1 MiB, the broker's
    # message.max.bytes (and existing topics' max.message.bytes) must be raised too (connectors/limits.py).
    max_message_bytes: int = Field(
        default=DEFAULT_MAX_MESSAGE_BYTES,
        ge=1024,
        description="Largest message accepted from a hospital system, and largest event published, in bytes.",
    )

    max_bundle_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Largest FHIR request body (a Bundle); each resource in it is still bounded by max_message_bytes.",
    )

    # What each sending system leaves unsaid: the zone of times without an offset, the character set of messages
    # that name none, the country of phone numbers without a country code (connectors/profiles.py).
    sources: Path | None = Field(
        default=None,
        description="YAML file of per-source profiles (timezone, charset, country); unset: Asia/Shanghai, utf-8, CN.",
    )

    # Transport security (engine/plumbing/kafka_security.py, engine/plumbing/tls.py, connectors/http_clients.py).
    # Kafka: every client (producers, aiokafka consumers, faust, the admin client) connects with these.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How careloop's Kafka clients connect to the broker."
    )
    kafka_ssl_ca: Path | None = Field(default=None, description="PEM CA bundle the broker's certificate is checked by.")
    kafka_ssl_cert: Path | None = Field(default=None, description="PEM client certificate (mutual TLS with Kafka).")
    kafka_ssl_key: Path | None = Field(default=None, description="PEM private key of kafka_ssl_cert.")
    kafka_ssl_key_password: SecretStr | None = Field(default=None, description="Password of kafka_ssl_key.")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism of SASL_PLAINTEXT and SASL_SSL."
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # The listeners (careloop mllp, fhir-intake, webhook): TLS, and the HTTP clients allowed to call them.
    tls_cert: Path | None = Field(default=None, description="PEM certificate (chain) a listener serves TLS with.")
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert.")
    tls_key_password: SecretStr | None = Field(default=None, description="Password of tls_key.")
    tls_client_ca: Path | None = Field(
        default=None, description="PEM CA bundle: mutual TLS, a client without a certificate it signed is refused."
    )
    http_clients: Path | None = Field(
        default=None, description="YAML file of the HTTP listeners' clients: bearer token hashes, signing secrets."
    )
    signature_window: float = Field(
        default=300.0, gt=0, description="Seconds a signed request's timestamp may be off the listener's clock."
    )

    metrics_port: int | None = Field(default=None, description="Serve Prometheus metrics on this port.")
    # The processes without metrics of their own (the projection runner, the listeners): /healthz and /readyz for
    # an orchestrator's probes (engine/plumbing/health.py), plain HTTP on metrics_host, apart from the listener's TLS.
    health_port: int | None = Field(
        default=None, description="Serve /healthz, /readyz (and /metrics) on this port: projections and listeners."
    )
    # Loopback by default: the metrics say how busy careloop is, which is nobody's business off the host; a
    # Prometheus elsewhere (deploy/prometheus) needs 0.0.0.0 or the address of the interface it scrapes.
    metrics_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="Address the worker's and the dispatcher's metrics servers listen on.",
    )
    log_level: str = "info"
    # The deployment's secrets (master keys, pseudonym and index keys: engine/security/secrets.py). The embedded
    # stack creates it under data_dir on first start; any other deployment provides one (`careloop keys init`).
    key_file: Path | None = Field(
        default=None,
        description="The deployment key file (mode 0600); unset: <data_dir>/keys/careloop-keys.json, which only the "
        "embedded stack creates.",
    )
    # Only to measure what sealing costs (`careloop bench`: throughput with it on and off). Off, the intakes publish
    # patients' names, contacts, identifiers and free text in clear, and the dispatcher sends to clear contacts.
    seal_patient_data: bool = Field(
        default=True,
        description="Seal patient-identifying fields at the intakes. Turn off only to measure the cost of sealing.",
    )
