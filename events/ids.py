"""Deterministic identifiers: the same inputs always give the same id, so redelivery is recognisable."""

from __future__ import annotations

import hashlib
import uuid

# A fixed namespace for careloop's name-based (v5) UUIDs. Never change it: stored ids depend on it.
CARELOOP_NAMESPACE = uuid.UUID("6f1c9a52-3a0e-4b7d-9f43-7d2b8c1e5a10")

_NAMESPACED = hashlib.sha1(CARELOOP_NAMESPACE.bytes, usedforsecurity=False)
# RFC 4122 version 5 and variant bits, as uuid.UUID(bytes=..., version=5) sets them.
_CLEAR = ~((0xC000 << 48) | (0xF000 << 64)) & ((1 << 128) - 1)
_SET = (0x8000 << 48) | (5 << 76)


def deterministic_id(*parts: str) -> str:
    """A UUIDv5 over the parts, joined with a separator that cannot occur inside a part unescaped.

    Equal to ``str(uuid.uuid5(CARELOOP_NAMESPACE, name))``, without building the UUID object.
    """
    name = "\x1f".join(parts)
    if name.count("\x1f") != len(parts) - 1:  # a part holds the separator (rare): escape it, parts stay apart
        name = "\x1f".join(p.replace("\x1f", "\\x1f") for p in parts)
    digest = _NAMESPACED.copy()
    digest.update(name.encode("utf-8"))
    h = f"{(int.from_bytes(digest.digest()[:16]) & _CLEAR) | _SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
