"""Field encryption (engine/security/cipher.py): what a sealed value looks like, that it reveals only with its key,
patient and field, and that every way of getting it wrong says so."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from engine.security.cipher import NONCE_BYTES, DataKey, associated_data, epoch_of, is_sealed, reveal, seal
from engine.security.errors import KeyEpochError, MalformedTokenError, UnreadableTokenError, WeakKeyError

LI_FANG = "pt-3f9c2a71b04e8d56c1a0"
WANG_WEI = "pt-58be0d4417c29a6f3e11"
KEY = DataKey(1, bytes(range(32)))
PHONE = "+8613884860701"


def test_a_sealed_value_is_text_naming_its_key_epoch_and_hiding_the_value() -> None:
    token = seal(KEY, PHONE, LI_FANG, "contact.phone")
    prefix, epoch, body = token.split(":")
    assert (prefix, epoch) == ("enc1", "1")
    assert set(body) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert PHONE not in token and "13884860701" not in token
    assert is_sealed(token) and epoch_of(token) == 1


def test_a_sealed_value_is_aes_gcm_with_the_patient_and_field_as_associated_data() -> None:
    # read with the library directly, not through reveal: the format is what the design says
    token = seal(KEY, "李芳", LI_FANG, "name")
    raw = base64.urlsafe_b64decode(token.split(":")[2] + "==")
    clear = AESGCM(KEY.secret).decrypt(raw[:12], raw[12:], "\x1f".join(("enc1", "1", LI_FANG, "name")).encode())
    assert clear.decode() == "李芳"
    assert associated_data(1, LI_FANG, "name") == b"enc1\x1f1\x1f" + LI_FANG.encode() + b"\x1fname"


def test_the_same_value_sealed_twice_differs_so_equal_values_cannot_be_matched() -> None:
    first, second = (seal(KEY, PHONE, LI_FANG, "contact.phone") for _ in range(2))
    assert first != second
    assert reveal(KEY, first, LI_FANG, "contact.phone") == reveal(KEY, second, LI_FANG, "contact.phone") == PHONE


@given(st.text(max_size=300), st.sampled_from(["name", "text", "items.comment", "identifiers[].value"]))
def test_any_text_reveals_as_it_was_sealed(text: str, field: str) -> None:
    assert reveal(KEY, seal(KEY, text, LI_FANG, field), LI_FANG, field) == text


def test_another_key_of_the_same_epoch_does_not_reveal() -> None:
    token = seal(KEY, PHONE, LI_FANG, "contact.phone")
    with pytest.raises(UnreadableTokenError, match=r"^contact\.phone: the sealed value does not authenticate"):
        reveal(DataKey(1, bytes(32)), token, LI_FANG, "contact.phone")


def test_a_value_presented_as_another_patients_or_another_fields_does_not_reveal() -> None:
    token = seal(KEY, PHONE, LI_FANG, "contact.phone")
    with pytest.raises(UnreadableTokenError):
        reveal(KEY, token, WANG_WEI, "contact.phone")
    with pytest.raises(UnreadableTokenError):
        reveal(KEY, token, LI_FANG, "contact.email")


def test_a_value_altered_anywhere_does_not_reveal() -> None:
    token = seal(KEY, PHONE, LI_FANG, "contact.phone")
    raw = bytearray(base64.urlsafe_b64decode(token.split(":")[2] + "=="))
    for position in (0, NONCE_BYTES, len(raw) - 1):  # the nonce, the ciphertext, the tag
        altered = raw.copy()
        altered[position] ^= 0x01
        forged = "enc1:1:" + base64.urlsafe_b64encode(altered).rstrip(b"=").decode()
        with pytest.raises(UnreadableTokenError):
            reveal(KEY, forged, LI_FANG, "contact.phone")


def test_a_value_of_another_key_epoch_is_refused_before_decrypting() -> None:
    token = seal(DataKey(2, KEY.secret), PHONE, LI_FANG, "contact.phone")
    with pytest.raises(KeyEpochError, match="sealed under key epoch 2, not the epoch 1 given"):
        reveal(KEY, token, LI_FANG, "contact.phone")
    # the epoch in the text is authenticated too: rewritten, the value does not reveal under either key
    with pytest.raises(UnreadableTokenError):
        reveal(KEY, token.replace("enc1:2:", "enc1:1:"), LI_FANG, "contact.phone")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (PHONE, "not a sealed value"),
        ("enc1:0:AAAA", "not a sealed value"),
        ("enc2:1:AAAA", "not a sealed value"),
        ("enc1:1:a+b/", "not a sealed value"),
        ("enc1:1:A", "does not decode"),
        ("enc1:1:" + "A" * 36, "shorter than a nonce and a tag"),
    ],
)
def test_what_is_not_a_sealed_value_is_refused_without_quoting_it(value: str, why: str) -> None:
    assert not is_sealed(value) or why != "not a sealed value"
    with pytest.raises(MalformedTokenError, match=why) as refused:
        reveal(KEY, value, LI_FANG, "contact.phone")
    assert value not in str(refused.value) and str(refused.value).startswith("contact.phone: ")


def test_is_sealed_answers_for_any_value() -> None:
    assert not is_sealed(None) and not is_sealed(3) and not is_sealed("") and not is_sealed("enc1:")
    assert is_sealed(seal(KEY, "", LI_FANG, "text"))


def test_a_data_key_is_32_bytes_from_epoch_1_and_never_shows_its_secret() -> None:
    with pytest.raises(WeakKeyError, match="32 bytes"):
        DataKey(1, bytes(16))
    with pytest.raises(ValueError, match="from 1"):
        DataKey(0, bytes(32))
    generated = DataKey.generate(3)
    assert generated.epoch == 3 and generated != DataKey.generate(3)
    assert repr(generated) == "DataKey(epoch=3, secret=<hidden>)"
