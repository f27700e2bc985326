"""The deployment key file (engine/security/secrets.py): created private and never overwritten, read only when
private and well-formed, every problem said with the file, the field and what to do, and never a key."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from engine.security.errors import KeyFileExistsError, KeyFileFormatError, KeyFileMissingError, KeyFileModeError
from engine.security.secrets import (
    add_master_key,
    create_key_file,
    default_key_file,
    load_key_file,
    load_or_create_key_file,
)

SECRET = base64.b64encode(b"k" * 32).decode()


def valid() -> dict[str, Any]:
    return {
        "version": 1,
        "master_keys": {"m1": SECRET},
        "current_master": "m1",
        "pseudonym_key": base64.b64encode(b"p" * 32).decode(),
        "index_key": base64.b64encode(b"i" * 48).decode(),
    }


def written(tmp_path: Path, content: dict[str, Any] | str, mode: int = 0o600) -> Path:
    path = tmp_path / "careloop-keys.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
    path.chmod(mode)
    return path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- creating one -----------------------------------------------------------------------------------------------


def test_the_embedded_stack_creates_a_key_file_only_its_owner_can_read_in_a_private_folder(tmp_path: Path) -> None:
    path = default_key_file(tmp_path / ".careloop")
    assert path == tmp_path / ".careloop" / "keys" / "careloop-keys.json"

    created = create_key_file(path)

    assert mode_of(path) == 0o600 and mode_of(path.parent) == 0o700
    assert load_key_file(path) == created
    assert created.current_master == "m1" and len(created.master_keys["m1"]) == 32
    assert len(created.pseudonym_key) == 32 and len(created.index_key) == 32
    assert len({created.master_keys["m1"], created.pseudonym_key, created.index_key}) == 3
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def test_a_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "careloop-keys.json"
    first = create_key_file(path)
    with pytest.raises(KeyFileExistsError, match="never overwrites"):
        create_key_file(path)
    assert load_key_file(path) == first
    assert load_or_create_key_file(path) == first  # the next start reads it


def test_a_first_start_creates_the_key_file_and_the_next_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "careloop-keys.json"
    assert load_or_create_key_file(path) == load_or_create_key_file(path) == load_key_file(path)


def test_an_existing_key_file_is_read_wherever_the_operator_put_it(tmp_path: Path) -> None:
    shared = tmp_path / "etc"
    shared.mkdir()
    path = written(shared, valid())
    shared.chmod(0o775)  # the folder is the operator's business once the file is theirs
    assert load_or_create_key_file(path).master_keys == {"m1": b"k" * 32}


def test_no_key_file_is_created_in_a_folder_others_could_write_to(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(KeyFileModeError, match=r"may be written by group or others.*chmod 700"):
        create_key_file(shared / "careloop-keys.json")
    assert list(shared.iterdir()) == []


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_the_modes_hold_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "keys" / "careloop-keys.json"
    old = os.umask(umask)
    try:
        create_key_file(path)
    finally:
        os.umask(old)
    assert mode_of(path) == 0o600 and mode_of(path.parent) == 0o700


# --- reading one ------------------------------------------------------------------------------------------------


def test_a_missing_key_file_names_the_setting_and_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(KeyFileMissingError) as missing:
        load_key_file(tmp_path / "nowhere.json")
    said = str(missing.value)
    assert str(tmp_path / "nowhere.json") in said
    assert "CARELOOP_KEY_FILE" in said and "careloop keys init" in said


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660])
def test_a_key_file_group_or_others_can_read_or_change_is_refused(tmp_path: Path, mode: int) -> None:
    path = written(tmp_path, valid(), mode)
    with pytest.raises(KeyFileModeError, match=rf"mode {mode:04o}: group or others.*chmod 600"):
        load_key_file(path)


def test_a_key_file_readable_by_its_owner_only_is_read(tmp_path: Path) -> None:
    secrets = load_key_file(written(tmp_path, valid(), 0o400))
    assert secrets.master_keys == {"m1": b"k" * 32}
    assert (secrets.pseudonym_key, secrets.index_key) == (b"p" * 32, b"i" * 48)


def test_a_file_that_is_not_json_says_where(tmp_path: Path) -> None:
    path = written(tmp_path, '{\n  "version": 1,\n  "master_keys": {\n')
    with pytest.raises(KeyFileFormatError, match=r"is not JSON at line 4 column 1"):
        load_key_file(path)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            {"master_keys": {"m1": base64.b64encode(b"k" * 16).decode()}},
            "master_keys.m1: decodes to 16 bytes, expected 32",
        ),
        (
            {"pseudonym_key": base64.b64encode(b"p" * 20).decode()},
            "pseudonym_key: decodes to 20 bytes, expected at least 32",
        ),
        ({"index_key": "not base64!"}, "index_key: not valid base64"),
        ({"index_key": 12345}, "index_key: expected base64 text"),
        ({"current_master": "m2"}, "current_master 'm2' is not one of master_keys"),
        ({"index_key": base64.b64encode(b"p" * 32).decode()}, "pseudonym_key and index_key must differ"),
        ({"version": 2}, "version: this careloop reads key files of version 1"),
        ({"kms": "arn:aws:kms:cn-north-1:1:key/1"}, "kms: not a field of a key file"),
        ({"master_keys": {}}, "current_master 'm1' is not one of master_keys"),
    ],
)
def test_a_malformed_field_is_named_and_no_key_is_quoted(tmp_path: Path, change: dict[str, Any], said: str) -> None:
    path = written(tmp_path, valid() | change)
    with pytest.raises(KeyFileFormatError) as malformed:
        load_key_file(path)
    assert said in str(malformed.value) and str(path) in str(malformed.value)
    for key in (SECRET, valid()["pseudonym_key"], valid()["index_key"], *map(str, change.values())):
        if len(key) > 20:
            assert key not in str(malformed.value)


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    content = valid()
    del content["index_key"]
    with pytest.raises(KeyFileFormatError, match="index_key: missing"):
        load_key_file(written(tmp_path, content))


def test_a_key_pasted_as_a_key_id_is_not_repeated(tmp_path: Path) -> None:
    pasted = base64.b64encode(os.urandom(32)).decode()
    path = written(tmp_path, valid() | {"master_keys": {"m1": SECRET, pasted: SECRET}})
    with pytest.raises(KeyFileFormatError, match="<a malformed key id>: a key id is 1 to 64") as malformed:
        load_key_file(path)
    assert pasted not in str(malformed.value)


# --- rotation ---------------------------------------------------------------------------------------------------


def test_adding_a_master_key_makes_it_current_and_keeps_every_other_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "careloop-keys.json"
    before = create_key_file(path)

    assert add_master_key(path) == "m2"
    assert add_master_key(path) == "m3"

    after = load_key_file(path)
    assert after.current_master == "m3" and set(after.master_keys) == {"m1", "m2", "m3"}
    assert after.master_keys["m1"] == before.master_keys["m1"]
    assert len(set(after.master_keys.values())) == 3
    assert (after.pseudonym_key, after.index_key) == (before.pseudonym_key, before.index_key)
    assert mode_of(path) == 0o600 and [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_master_key_added_to_a_file_with_ids_of_its_own_gets_a_new_id(tmp_path: Path) -> None:
    path = written(tmp_path, valid() | {"master_keys": {"2025-q4": SECRET, "m9": SECRET}, "current_master": "m9"})
    assert add_master_key(path) == "m10"
    assert set(load_key_file(path).master_keys) == {"2025-q4", "m9", "m10"}


def test_no_master_key_is_added_to_a_file_others_can_read(tmp_path: Path) -> None:
    path = written(tmp_path, valid(), 0o644)
    with pytest.raises(KeyFileModeError):
        add_master_key(path)
    assert json.loads(path.read_text()) == valid()
