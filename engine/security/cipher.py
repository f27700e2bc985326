"""Field encryption with a patient's data key: AES-256-GCM, a random 96-bit nonce per value, and associated data
that binds the value to its patient and field, so a value copied to another patient or field does not reveal.

A sealed value is text, ``enc1:<key epoch>:<base64url(nonce + ciphertext + tag)>``, so it fits the ``str`` fields
of the events unchanged. The epoch says which of the patient's keys sealed it: a patient's key is replaced only
after an erasure (engine/security/patient_keys.py), so a value of an older epoch is one nobody may read again.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.security.errors import KeyEpochError, MalformedTokenError, UnreadableTokenError, WeakKeyError

PREFIX = "enc1"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM nonce NIST SP 800-38D recommends; random, so at most 2^32 values per key
TAG_BYTES = 16
_TOKEN = re.compile(r"enc1:([1-9][0-9]{0,9}):([A-Za-z0-9_-]+)")


class DataKey:
    """One epoch of a patient's data key, in clear: held in memory only as long as a seal or reveal needs it."""

    __slots__ = ("aead", "epoch", "secret")

    def __init__(self, epoch: int, secret: bytes) -> None:
        if len(secret) != KEY_BYTES:
            raise WeakKeyError(f"a data key is {KEY_BYTES} bytes (AES-256), not {len(secret)}")
        if epoch < 1:
            raise ValueError(f"a key epoch counts from 1, not {epoch}")
        self.epoch = epoch
        self.secret = secret
        self.aead = AESGCM(secret)  # built once: each seal and reveal reuses it

    @classmethod
    def generate(cls, epoch: int = 1) -> DataKey:
        return cls(epoch, os.urandom(KEY_BYTES))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataKey) and (self.epoch, self.secret) == (other.epoch, other.secret)

    def __hash__(self) -> int:
        return hash((self.epoch, self.secret))

    def __repr__(self) -> str:
        return f"DataKey(epoch={self.epoch}, secret=<hidden>)"


def associated_data(epoch: int, patient_id: str, field: str) -> bytes:
    # Unit separators, as careloop's other derived ids use, so ("a|b", "c") and ("a", "b|c") differ; the version
    # and epoch are in it too, so no part of the text form goes unauthenticated.
    return "\x1f".join((PREFIX, str(epoch), patient_id, field)).encode()


def seal(data_key: DataKey, plaintext: str, patient_id: str, field: str) -> str:
    """``plaintext`` encrypted for ``patient_id``'s ``field``, in the sealed text form."""
    return seal_bytes(data_key, plaintext.encode(), patient_id, field)


def seal_bytes(data_key: DataKey, data: bytes, patient_id: str, field: str) -> str:
    """``seal`` for bytes that need not be text (an original message in GB18030, say), in the same text form."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = data_key.aead.encrypt(nonce, data, associated_data(data_key.epoch, patient_id, field))
    return f"{PREFIX}:{data_key.epoch}:{base64.urlsafe_b64encode(nonce + sealed).rstrip(b'=').decode()}"


def reveal(data_key: DataKey, token: str, patient_id: str, field: str) -> str:
    """The clear text of a value ``seal`` made with this key for this patient and field."""
    return reveal_bytes(data_key, token, patient_id, field).decode()


def reveal_bytes(data_key: DataKey, token: str, patient_id: str, field: str) -> bytes:
    """The bytes ``seal_bytes`` (or ``seal``) sealed with this key for this patient and field."""
    epoch, raw = parse(token, field)
    if epoch != data_key.epoch:
        raise KeyEpochError(f"{field}: sealed under key epoch {epoch}, not the epoch {data_key.epoch} given")
    nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
    try:
        return data_key.aead.decrypt(nonce, sealed, associated_data(epoch, patient_id, field))
    except InvalidTag as exc:
        raise UnreadableTokenError(
            f"{field}: the sealed value does not authenticate: it was sealed with another key, for another patient "
            "or field, or it was altered"
        ) from exc


def sealed_length(size: int, epoch: int = 1) -> int:
    """The length of the sealed text form of ``size`` bytes: what a bound on the sealed form leaves for the data."""
    raw = NONCE_BYTES + size + TAG_BYTES
    return len(f"{PREFIX}:{epoch}:") + (raw * 4 + 2) // 3  # base64url without padding


def epoch_of(token: str, field: str = "value") -> int:
    """The key epoch a sealed value names (to fetch that key before revealing it)."""
    return parse(token, field)[0]


def is_sealed(value: object) -> bool:
    """Whether ``value`` is in the sealed text form (it says nothing of whether any key reveals it)."""
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


def parse(token: str, field: str) -> tuple[int, bytes]:
    """(epoch, nonce + ciphertext + tag) of a sealed value; MalformedTokenError, naming ``field``, otherwise."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise MalformedTokenError(f"{field}: not a sealed value (expected {PREFIX}:<epoch>:<base64url>)")
    try:
        raw = base64.urlsafe_b64decode(match[2] + "=" * (-len(match[2]) % 4))
    except binascii.Error as exc:
        raise MalformedTokenError(f"{field}: the sealed value's base64url does not decode") from exc
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise MalformedTokenError(f"{field}: the sealed value is {len(raw)} bytes, shorter than a nonce and a tag")
    return int(match[1]), raw
