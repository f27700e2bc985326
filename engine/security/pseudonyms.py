"""Keyed pseudonyms: HMAC-SHA256 with the deployment's secrets, never bare hashes, so a list of MRNs does not give
back the patients' ids, log references or index entries without the key file.

- the canonical patient id: ``pt-`` + HMAC(pseudonym key, authority \\x1f value), 20 hex digits (80 bits);
- the reference a log line carries for a patient: ``pt_`` + HMAC(pseudonym key, patient id), 16 hex digits;
- the blind index of an identifier: HMAC(index key, authority \\x1f value), all 64 hex digits, to look an
  identifier up while its value rests sealed with the patient's key.

A patient id never contains the separator, so the two uses of the pseudonym key never take the same input.
"""

from __future__ import annotations

import hashlib
import hmac

from engine.security.errors import PseudonymInputError, WeakKeyError
from engine.security.secrets import MIN_HMAC_KEY_BYTES, DeploymentSecrets

_SEPARATOR = "\x1f"


class Pseudonyms:
    def __init__(self, pseudonym_key: bytes, index_key: bytes) -> None:
        for name, key in (("pseudonym key", pseudonym_key), ("index key", index_key)):
            if len(key) < MIN_HMAC_KEY_BYTES:
                raise WeakKeyError(
                    f"the {name} is {len(key)} bytes; HMAC-SHA256 keys are at least {MIN_HMAC_KEY_BYTES}"
                )
        self._pseudonym_key = pseudonym_key
        self._index_key = index_key

    @classmethod
    def from_secrets(cls, secrets: DeploymentSecrets) -> Pseudonyms:
        return cls(secrets.pseudonym_key, secrets.index_key)

    def patient_id(self, authority: str, value: str) -> str:
        """The canonical id of the patient first known by this identifier."""
        return "pt-" + _hmac(self._pseudonym_key, _identifier(authority, value))[:20]

    def log_ref(self, patient_id: str) -> str:
        """What logs and metrics say instead of the patient id."""
        return "pt_" + _hmac(self._pseudonym_key, patient_id)[:16]

    def blind_index(self, authority: str, value: str) -> str:
        """The identifier's lookup key in the identifier index."""
        return _hmac(self._index_key, _identifier(authority, value))

    def __repr__(self) -> str:
        return "Pseudonyms(<keys hidden>)"


def _identifier(authority: str, value: str) -> str:
    # Refused rather than escaped: ("a\x1fb", "c") and ("a", "b\x1fc") would otherwise be one identifier.
    if not authority or _SEPARATOR in authority:
        raise PseudonymInputError("an identifier's authority is empty or holds the unit separator (U+001F)")
    if not value:
        raise PseudonymInputError("an identifier's value is empty")
    return f"{authority}{_SEPARATOR}{value}"


def _hmac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
