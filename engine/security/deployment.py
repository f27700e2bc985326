"""The deployment's secrets as a process holds them: its composition root opens the key file once (``open_keys``)
and passes down what each part needs (the master-key provider, the pseudonyms, the log key), so nothing deeper
reads the environment or the file.

Only the embedded stack creates a key file, under CARELOOP_DATA_DIR, on its first start (``create=True``); every
other process refuses to start without one, saying which setting names it and how to make one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from engine.security.errors import KeyFileMissingError
from engine.security.providers import FileKeyProvider
from engine.security.pseudonyms import Pseudonyms
from engine.security.secrets import (
    CREATE_COMMAND,
    KEY_FILE_SETTING,
    DeploymentSecrets,
    default_key_file,
    load_key_file,
    load_or_create_key_file,
)


@dataclass(frozen=True)
class DeploymentKeys:
    """One key file, opened: ``provider`` wraps patients' data keys, ``pseudonyms`` derives patient ids and blind
    indexes, ``log_key`` keys the pseudonymous patient reference of log lines."""

    path: Path
    secrets: DeploymentSecrets

    @cached_property
    def provider(self) -> FileKeyProvider:
        return FileKeyProvider.from_secrets(self.secrets)

    @cached_property
    def pseudonyms(self) -> Pseudonyms:
        return Pseudonyms.from_secrets(self.secrets)

    @property
    def log_key(self) -> bytes:
        return self.secrets.pseudonym_key

    def __repr__(self) -> str:
        return f"DeploymentKeys({self.path})"


def open_keys(key_file: Path | None, data_dir: Path, *, create: bool = False) -> DeploymentKeys:
    """The key file CARELOOP_KEY_FILE names (``key_file``), else the default under the data folder. ``create`` (the
    embedded stack only): make it when it is not there. KeyFileError, saying what to do, otherwise."""
    path = key_file if key_file is not None else default_key_file(data_dir)
    if create:
        return DeploymentKeys(path, load_or_create_key_file(path))
    try:
        return DeploymentKeys(path, load_key_file(path))
    except KeyFileMissingError as exc:
        if key_file is not None:
            raise
        raise KeyFileMissingError(
            f"{KEY_FILE_SETTING} is not set and there is no key file at its default, {path}: careloop needs the "
            "deployment's key file (master keys, pseudonym key, index key) to seal and read patient data. Create one "
            f"with `{CREATE_COMMAND} PATH`, keep a copy apart from the database's backups, and set {KEY_FILE_SETTING}"
            "=PATH for every careloop process (only the embedded stack, `careloop up` without CARELOOP_KAFKA_BOOTSTRAP "
            "and CARELOOP_DATABASE_URL, creates its own)"
        ) from exc
