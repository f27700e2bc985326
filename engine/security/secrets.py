"""The deployment's secrets in one key file: the master keys that wrap patients' data keys (one of them current),
the pseudonym key (patient ids and log references) and the index key (blind indexes of identifiers).

The file is JSON, readable by its owner only::

    {"version": 1, "master_keys": {"m1": "<base64, 32 bytes>"}, "current_master": "m1",
     "pseudonym_key": "<base64, >= 32 bytes>", "index_key": "<base64, >= 32 bytes>"}

CARELOOP_KEY_FILE names it. The embedded (demo) stack creates one on first start (``load_or_create_key_file``);
any other deployment provides its own, and careloop refuses to start without it. A key file is never overwritten
with new keys: that would make every sealed value unreadable. Master keys are rotated by adding one
(``add_master_key``) and re-wrapping the patients' keys (PatientKeys.rewrap_all); the old one stays in the file
until no wrapped key uses it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError, model_validator

from engine.security.errors import KeyFileExistsError, KeyFileFormatError, KeyFileMissingError, KeyFileModeError

KEY_FILE_SETTING = "CARELOOP_KEY_FILE"
# What the missing-file error tells an operator to run; the command that creates a key file outside the demo.
CREATE_COMMAND = "careloop keys init"
MASTER_KEY_BYTES = 32  # AES-256
MIN_HMAC_KEY_BYTES = 32  # HMAC-SHA256's output size: a shorter key weakens the pseudonyms (RFC 2104, section 3)
_OPEN_TO_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def default_key_file(data_dir: Path) -> Path:
    """Where the embedded stack keeps its key file, under CARELOOP_DATA_DIR."""
    return data_dir / "keys" / "careloop-keys.json"


@dataclass(frozen=True)
class DeploymentSecrets:
    master_keys: Mapping[str, bytes] = field(repr=False)
    current_master: str
    pseudonym_key: bytes = field(repr=False)
    index_key: bytes = field(repr=False)


def _base64_key(minimum: int, maximum: int | None = None) -> BeforeValidator:
    def decode(value: object) -> bytes:
        if not isinstance(value, str):
            raise ValueError("expected base64 text")  # a ValueError: pydantic reports it as the field's error
        try:
            key = base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError("not valid base64") from exc
        if len(key) < minimum or (maximum is not None and len(key) > maximum):
            wanted = f"{minimum}" if maximum == minimum else f"at least {minimum}"
            raise ValueError(f"decodes to {len(key)} bytes, expected {wanted}")
        return key

    return BeforeValidator(decode)


_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
KeyId = Annotated[str, StringConstraints(pattern=rf"^{_KEY_ID.pattern}$")]
MasterKey = Annotated[bytes, _base64_key(MASTER_KEY_BYTES, MASTER_KEY_BYTES)]
HmacKey = Annotated[bytes, _base64_key(MIN_HMAC_KEY_BYTES)]


class _KeyFile(BaseModel):
    # hide_input_in_errors: a validation error must never print a key
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)

    version: Literal[1]
    master_keys: dict[KeyId, MasterKey]
    current_master: KeyId
    pseudonym_key: HmacKey
    index_key: HmacKey

    @model_validator(mode="after")
    def _consistent(self) -> _KeyFile:
        if self.current_master not in self.master_keys:
            raise ValueError(f"current_master {self.current_master!r} is not one of master_keys")
        if self.pseudonym_key == self.index_key:
            raise ValueError("pseudonym_key and index_key must differ (each is a key of its own)")
        return self

    def secrets(self) -> DeploymentSecrets:
        return DeploymentSecrets(dict(self.master_keys), self.current_master, self.pseudonym_key, self.index_key)


def load_key_file(path: Path) -> DeploymentSecrets:
    """The secrets in ``path``; KeyFileError saying what is wrong and what to do otherwise."""
    return _parse(path, _read_private(path)).secrets()


def create_key_file(path: Path) -> DeploymentSecrets:
    """A new key file with fresh random keys, mode 0600 in a folder only its owner may change; never overwrites."""
    _private_folder(path.parent)
    model = _fresh()
    temporary = _write_temporary(path, _dump(model))
    try:
        os.link(temporary, path)  # atomic, and fails if the file is there: a key file is never replaced
    except FileExistsError as exc:
        raise KeyFileExistsError(f"{path} already exists: careloop never overwrites a key file") from exc
    finally:
        temporary.unlink()
    _sync_folder(path.parent)
    return model.secrets()


def load_or_create_key_file(path: Path) -> DeploymentSecrets:
    """The embedded stack's key file: created on first start, read afterwards (a start racing ours wins as well)."""
    if not os.path.lexists(path):
        try:
            return create_key_file(path)
        except KeyFileExistsError:
            pass
    return load_key_file(path)


def add_master_key(path: Path) -> str:
    """Add a fresh master key to the key file and make it current; its id is returned. The old ones stay: every
    data key they wrapped needs them until it is re-wrapped (PatientKeys.rewrap_all)."""
    model = _parse(path, _read_private(path))
    key_id = _next_key_id(model.master_keys)
    rotated = model.model_copy(
        update={"master_keys": {**model.master_keys, key_id: os.urandom(MASTER_KEY_BYTES)}, "current_master": key_id}
    )
    temporary = _write_temporary(path, _dump(rotated))
    os.replace(temporary, path)
    _sync_folder(path.parent)
    return key_id


def _fresh() -> _KeyFile:
    return _KeyFile.model_validate(
        {
            "version": 1,
            "master_keys": {"m1": _b64(os.urandom(MASTER_KEY_BYTES))},
            "current_master": "m1",
            "pseudonym_key": _b64(os.urandom(MIN_HMAC_KEY_BYTES)),
            "index_key": _b64(os.urandom(MIN_HMAC_KEY_BYTES)),
        }
    )


def _read_private(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError as exc:
        raise KeyFileMissingError(
            f"the key file {path} does not exist. {KEY_FILE_SETTING} names the deployment's key file (master keys, "
            f"pseudonym key, index key); create one with `{CREATE_COMMAND} {path}` and keep a copy apart from the "
            "database's backups, or point the setting at the existing one"
        ) from exc
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(file.fileno()).st_mode  # of what was opened, not of what the path names a moment later
        if not stat.S_ISREG(mode):
            raise KeyFileFormatError(f"the key file {path} is not a regular file")
        if mode & _OPEN_TO_OTHERS:
            raise KeyFileModeError(
                f"the key file {path} has mode {stat.S_IMODE(mode):04o}: group or others may read or change it; "
                f"careloop uses a key file only its owner can read (chmod 600 {path})"
            )
        return file.read()


def _parse(path: Path, content: bytes) -> _KeyFile:
    try:
        data: Any = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise KeyFileFormatError(f"the key file {path} is not JSON{where}") from exc
    try:
        return _KeyFile.model_validate(data, strict=True)
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors(include_url=False, include_input=False))
        raise KeyFileFormatError(f"the key file {path} is not valid: {problems}") from exc


def _problem(error: Mapping[str, Any]) -> str:
    # A malformed key id is not repeated: it may be a key pasted in the wrong place.
    loc = [str(p) if p == "[key]" or _KEY_ID.fullmatch(str(p)) else "<a malformed key id>" for p in error["loc"]]
    where = ".".join(loc).replace(".[key]", "") or "the file"
    if error["type"] == "missing":
        return f"{where}: missing"
    if error["type"] == "extra_forbidden":
        return f"{where}: not a field of a key file"
    if error["type"] == "string_pattern_mismatch":
        return f"{where}: a key id is 1 to 64 letters, digits, '.', '_' or '-'"
    if error["loc"] == ("version",):
        return "version: this careloop reads key files of version 1"
    return f"{where}: {str(error['msg']).removeprefix('Value error, ')}"


def _private_folder(folder: Path) -> None:
    try:
        folder.mkdir(mode=0o700, parents=True)
        folder.chmod(0o700)  # whatever the umask left
    except FileExistsError:
        if folder.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise KeyFileModeError(
                f"the folder {folder} may be written by group or others, who could replace a key file in it; "
                f"careloop creates its key file only in a folder others cannot change (chmod 700 {folder})"
            ) from None


def _write_temporary(path: Path, content: bytes) -> Path:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    return temporary


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _dump(model: _KeyFile) -> bytes:
    data = {
        "version": model.version,
        "master_keys": {key_id: _b64(key) for key_id, key in model.master_keys.items()},
        "current_master": model.current_master,
        "pseudonym_key": _b64(model.pseudonym_key),
        "index_key": _b64(model.index_key),
    }
    return (json.dumps(data, indent=2) + "\n").encode()


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def _next_key_id(existing: Mapping[str, bytes]) -> str:
    numbers = [int(m[1]) for key_id in existing if (m := re.fullmatch(r"m([0-9]+)", key_id))]
    return f"m{max(numbers, default=0) + 1}"
