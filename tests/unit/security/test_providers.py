"""The file-backed key provider (engine/security/providers.py): wraps data keys under the current master key and
unwraps them under the master key they name, or says which master key is missing or wrong."""

from __future__ import annotations

import pytest

from engine.security.errors import MasterKeyError
from engine.security.providers import FileKeyProvider, KeyProvider

M1, M2 = bytes(range(32)), bytes(range(32, 64))
DATA_KEY = bytes(range(100, 132))


def test_a_data_key_is_wrapped_under_the_current_master_key_and_unwrapped_under_the_one_it_names() -> None:
    provider: KeyProvider = FileKeyProvider({"m1": M1, "m2": M2}, "m2")
    key_id, blob = provider.wrap(DATA_KEY)
    assert (key_id, provider.current_key_id) == ("m2", "m2")
    assert DATA_KEY not in blob and len(blob) == 12 + 32 + 16
    assert provider.unwrap(key_id, blob) == DATA_KEY
    assert provider.wrap(DATA_KEY)[1] != blob  # a fresh nonce each time


def test_a_key_wrapped_before_rotation_still_unwraps_while_its_master_key_is_held() -> None:
    before = FileKeyProvider({"m1": M1}, "m1")
    key_id, blob = before.wrap(DATA_KEY)
    after = FileKeyProvider({"m1": M1, "m2": M2}, "m2")
    assert after.unwrap(key_id, blob) == DATA_KEY


def test_a_master_key_the_file_lacks_is_named_with_those_it_has() -> None:
    key_id, blob = FileKeyProvider({"m1": M1}, "m1").wrap(DATA_KEY)
    with pytest.raises(MasterKeyError, match=r"master key 'm1', which the key file does not hold \(it holds m2\)"):
        FileKeyProvider({"m2": M2}, "m2").unwrap(key_id, blob)


def test_a_wrapped_key_claimed_under_another_master_key_id_or_altered_does_not_unwrap() -> None:
    provider = FileKeyProvider({"m1": M1, "m2": M1}, "m1")  # same bytes, another id: the id is authenticated
    key_id, blob = provider.wrap(DATA_KEY)
    with pytest.raises(MasterKeyError, match="does not unwrap under master key 'm2'"):
        provider.unwrap("m2", blob)
    altered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(MasterKeyError, match="or the stored wrapped key was altered"):
        provider.unwrap(key_id, altered)


def test_a_current_master_key_that_is_not_held_is_refused() -> None:
    with pytest.raises(MasterKeyError, match="'m3' is not one of the master keys"):
        FileKeyProvider({"m1": M1}, "m3")


def test_the_provider_never_shows_a_master_key() -> None:
    assert repr(FileKeyProvider({"m1": M1, "m2": M2}, "m2")) == "FileKeyProvider(current='m2', keys=['m1', 'm2'])"
