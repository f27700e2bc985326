"""How large one message may be, and what that means for Kafka.

One setting, ``CARELOOP_MAX_MESSAGE_BYTES``, bounds every intake (a file's message, an MLLP frame, an HTTP body)
and every event serialised for Kafka. Its default leaves room under Kafka's default 1 MiB record limit (broker
``message.max.bytes`` 1048588, producer ``max_request_size`` 1048576) for the key, headers and record overhead,
so a message's event, or its dead letter (the original bytes plus the reason in headers), always fits.
"""

from __future__ import annotations

KAFKA_DEFAULT_REQUEST_BYTES = 1_048_576  # kafka-python's max_request_size
KAFKA_DEFAULT_MESSAGE_BYTES = 1_048_588  # the broker's message.max.bytes and a topic's max.message.bytes
ENVELOPE_BYTES = 124 * 1024  # key, headers (reason, location, origin) and record batch overhead
DEFAULT_MAX_MESSAGE_BYTES = KAFKA_DEFAULT_REQUEST_BYTES - ENVELOPE_BYTES  # 900 KiB
SETTING = "CARELOOP_MAX_MESSAGE_BYTES"
BUNDLE_SETTING = "CARELOOP_MAX_BUNDLE_BYTES"  # a FHIR request body, whose resources are each within SETTING


def too_large_reason(what: str, size: int | None, limit: int, setting: str = SETTING) -> str:
    """'message is N bytes, over the limit of M bytes set by CARELOOP_MAX_MESSAGE_BYTES' (N unknown: 'over')."""
    measured = f"is {size} bytes, over" if size is not None else "is over"
    return f"{what} {measured} the limit of {limit} bytes set by {setting}"


def producer_request_bytes(limit: int) -> int:
    """kafka-python's ``max_request_size`` for a limit: Kafka's default unless a record may need more."""
    return max(KAFKA_DEFAULT_REQUEST_BYTES, limit + ENVELOPE_BYTES)


def topic_message_bytes(limit: int) -> int:
    """A topic's ``max.message.bytes`` for a limit: the broker's default unless a record may need more."""
    return max(KAFKA_DEFAULT_MESSAGE_BYTES, limit + ENVELOPE_BYTES)


def kept_note(kept: int, size: int) -> str:
    """What a dead letter holds of its original: 'whole', or 'first N of M bytes'."""
    return "whole" if kept >= size else f"first {kept} of {size} bytes"
