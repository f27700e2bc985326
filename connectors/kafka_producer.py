"""Every kafka-python producer careloop uses, built here: the intakes' event publishers, the dead-letter producers
and the engine-topic relay.

The settings are what publishing patients' events needs, so they hold for all of them:
- ``acks="all"`` and ``retries=10``: a send counts only once every in-sync replica has it, and a broker's brief
  absence is retried by the client before the caller sees an error;
- one request in flight per connection: a retried batch cannot overtake the next one, so each patient's events
  (and each source's dead letters) stay in order on their partition;
- ``linger_ms=5``: sends issued together go out as one request;
- ``max_request_size`` from CARELOOP_MAX_MESSAGE_BYTES (connectors/limits.py), so a message the intakes accepted,
  or its dead letter, is never refused by its own producer;
- ``client_id`` naming the process part, as the broker's logs and quotas see it;
- the deployment's TLS and SASL settings (engine/plumbing/kafka_security.py), given by the composition roots.

Consuming is faust's and aiokafka's job (kafka-python's group joins take 20-30 s).
"""

from __future__ import annotations

import warnings
from typing import Any

from connectors.limits import DEFAULT_MAX_MESSAGE_BYTES, producer_request_bytes
from engine.plumbing.kafka_security import PLAINTEXT, KafkaSecurity

with warnings.catch_warnings():  # kafka-python 3 warns about its own deprecated internals on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaProducer

KAFKA_BATCH_BYTES = 16 * 1024  # kafka-python's own default batch_size


def kafka_producer(
    bootstrap: str,
    client_id: str,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    *,
    batch_bytes: int = KAFKA_BATCH_BYTES,
    security: KafkaSecurity = PLAINTEXT,
) -> Any:
    """A kafka-python KafkaProducer with careloop's settings; ``batch_bytes`` is the per-partition batch a busy
    producer fills before sending (larger for the relay, which sends pages of thousands of events)."""
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        retries=10,
        max_in_flight_requests_per_connection=1,
        linger_ms=5,
        batch_size=batch_bytes,
        max_request_size=producer_request_bytes(max_message_bytes),
        client_id=client_id,
        **security.client_options(),
    )
