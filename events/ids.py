"""Deterministic identifiers: the same inputs always give the same id, so redelivery is recognisable."""

from __future__ import annotations

import uuid

# A fixed namespace for careloop's name-based (v5) UUIDs. Never change it: stored ids depend on it.
CARELOOP_NAMESPACE = uuid.UUID("6f1c9a52-3a0e-4b7d-9f43-7d2b8c1e5a10")


def deterministic_id(*parts: str) -> str:
    """A UUIDv5 over the parts, joined with a separator that cannot occur inside a part unescaped."""
    name = "\x1f".join(p.replace("\x1f", "\\x1f") for p in parts)
    return str(uuid.uuid5(CARELOOP_NAMESPACE, name))
