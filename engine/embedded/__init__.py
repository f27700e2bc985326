"""Embedded infrastructure: a Kafka-compatible broker and PostgreSQL as child processes, and the stack
`careloop up` runs on them (stack.py).

Both bind free loopback ports and keep their files under one directory
(``./.careloop/`` by default in careloop); importing this package starts nothing.
"""

from __future__ import annotations

from engine.embedded._process import EmbeddedServiceError
from engine.embedded.broker import EmbeddedBroker
from engine.embedded.ports import free_port
from engine.embedded.postgres import EmbeddedPostgres

__all__ = ["EmbeddedBroker", "EmbeddedPostgres", "EmbeddedServiceError", "free_port"]
