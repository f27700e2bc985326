"""Key providers: what wraps and unwraps the patients' data keys with a master key that never leaves the provider.

``KeyProvider`` is the port; ``FileKeyProvider`` holds the master keys of the deployment key file
(engine/security/secrets.py). A KMS or Vault provider is the same three members, its master key ids being the
KMS's key ids.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.security.errors import MasterKeyError
from engine.security.secrets import DeploymentSecrets, load_key_file

_NONCE_BYTES = 12


class KeyProvider(Protocol):
    @property
    def current_key_id(self) -> str:
        """The master key new data keys are wrapped with."""
        ...

    def wrap(self, data_key: bytes) -> tuple[str, bytes]:
        """(the id of the master key used, the wrapped data key)."""
        ...

    def unwrap(self, key_id: str, blob: bytes) -> bytes:
        """The data key ``wrap`` wrapped under ``key_id``; MasterKeyError if it does not unwrap."""
        ...


class FileKeyProvider:
    """Master keys held in memory from the key file: AES-256-GCM, a random nonce per wrap, the master key's id as
    associated data (a blob claimed under another id does not unwrap)."""

    def __init__(self, master_keys: Mapping[str, bytes], current: str) -> None:
        if current not in master_keys:
            raise MasterKeyError(f"the current master key {current!r} is not one of the master keys given")
        self._keys = {key_id: AESGCM(key) for key_id, key in master_keys.items()}
        self._current = current

    @classmethod
    def from_secrets(cls, secrets: DeploymentSecrets) -> FileKeyProvider:
        return cls(secrets.master_keys, secrets.current_master)

    @classmethod
    def load(cls, path: Path) -> FileKeyProvider:
        return cls.from_secrets(load_key_file(path))

    @property
    def current_key_id(self) -> str:
        return self._current

    def wrap(self, data_key: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(_NONCE_BYTES)
        return self._current, nonce + self._keys[self._current].encrypt(nonce, data_key, _context(self._current))

    def unwrap(self, key_id: str, blob: bytes) -> bytes:
        master = self._keys.get(key_id)
        if master is None:
            raise MasterKeyError(
                f"a data key is wrapped under master key {key_id!r}, which the key file does not hold "
                f"(it holds {', '.join(sorted(self._keys))}); restore that master key from the key file's backup"
            )
        try:
            return master.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _context(key_id))
        except InvalidTag as exc:
            raise MasterKeyError(
                f"a data key does not unwrap under master key {key_id!r}: the key file's {key_id!r} is not the key "
                "that wrapped it, or the stored wrapped key was altered"
            ) from exc

    def __repr__(self) -> str:
        return f"FileKeyProvider(current={self._current!r}, keys={sorted(self._keys)})"


def _context(key_id: str) -> bytes:
    return b"careloop-data-key\x1f" + key_id.encode()
