"""Keyed pseudonyms (engine/security/pseudonyms.py): without the key file, an MRN list gives back nothing."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from engine.plumbing.logs import patient_ref
from engine.security.errors import PseudonymInputError, WeakKeyError
from engine.security.pseudonyms import Pseudonyms
from engine.security.secrets import DeploymentSecrets

PSEUDONYM_KEY = bytes.fromhex("5c" * 32)
INDEX_KEY = bytes.fromhex("a3" * 32)
HOSPITAL = "BJ-HOSP-1"
MRN = "MRN00482913"


def oracle(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 by another implementation (cryptography's, OpenSSL) than the module's (the standard library)."""
    mac = crypto_hmac.HMAC(key, hashes.SHA256())
    mac.update(message)
    return mac.finalize().hex()


@pytest.fixture
def pseudonyms() -> Pseudonyms:
    return Pseudonyms(PSEUDONYM_KEY, INDEX_KEY)


def test_a_patient_id_is_a_keyed_hmac_of_authority_and_identifier(pseudonyms: Pseudonyms) -> None:
    patient_id = pseudonyms.patient_id(HOSPITAL, MRN)
    assert patient_id == "pt-" + oracle(PSEUDONYM_KEY, b"BJ-HOSP-1\x1fMRN00482913")[:20]
    assert pseudonyms.patient_id(HOSPITAL, MRN) == patient_id
    # not the bare hash careloop used to derive (connectors/base.py): recomputable by anyone with the MRN
    assert patient_id != "pt-" + hashlib.sha256(b"BJ-HOSP-1\x1fMRN00482913").hexdigest()[:20]


def test_another_deployment_or_another_identifier_gives_another_patient_id(pseudonyms: Pseudonyms) -> None:
    elsewhere = Pseudonyms(bytes(32), INDEX_KEY)
    assert elsewhere.patient_id(HOSPITAL, MRN) != pseudonyms.patient_id(HOSPITAL, MRN)
    assert pseudonyms.patient_id(HOSPITAL, "MRN00482914") != pseudonyms.patient_id(HOSPITAL, MRN)
    assert pseudonyms.patient_id("BJ-HOSP-2", MRN) != pseudonyms.patient_id(HOSPITAL, MRN)


def test_an_authority_holding_the_separator_is_refused_rather_than_made_ambiguous(pseudonyms: Pseudonyms) -> None:
    # ("A\x1fB", "C") and ("A", "B\x1fC") would be one identifier
    with pytest.raises(PseudonymInputError, match="authority"):
        pseudonyms.patient_id("A\x1fB", "C")
    with pytest.raises(PseudonymInputError, match="authority"):
        pseudonyms.blind_index("", MRN)
    with pytest.raises(PseudonymInputError, match="value is empty"):
        pseudonyms.patient_id(HOSPITAL, "")
    assert pseudonyms.patient_id("A", "B\x1fC").startswith("pt-")


def test_the_log_reference_is_the_one_the_logs_already_carry(pseudonyms: Pseudonyms) -> None:
    patient_id = pseudonyms.patient_id(HOSPITAL, MRN)
    ref = pseudonyms.log_ref(patient_id)
    assert ref == "pt_" + oracle(PSEUDONYM_KEY, patient_id.encode())[:16]
    assert ref == patient_ref(patient_id, PSEUDONYM_KEY)  # engine/plumbing/logs.py: existing log lines keep matching
    assert patient_id[3:] not in ref


def test_the_blind_index_uses_the_index_key_and_keeps_all_256_bits(pseudonyms: Pseudonyms) -> None:
    index = pseudonyms.blind_index(HOSPITAL, MRN)
    assert index == oracle(INDEX_KEY, b"BJ-HOSP-1\x1fMRN00482913")
    assert len(index) == 64
    assert not index.startswith(pseudonyms.patient_id(HOSPITAL, MRN)[3:])


def test_keys_shorter_than_32_bytes_are_refused_naming_which() -> None:
    with pytest.raises(WeakKeyError, match="the pseudonym key is 16 bytes"):
        Pseudonyms(bytes(16), INDEX_KEY)
    with pytest.raises(WeakKeyError, match="the index key is 31 bytes"):
        Pseudonyms(PSEUDONYM_KEY, bytes(31))


def test_pseudonyms_come_from_the_deployment_secrets_and_never_show_them() -> None:
    secrets = DeploymentSecrets({"m1": bytes(32)}, "m1", PSEUDONYM_KEY, INDEX_KEY)
    made = Pseudonyms.from_secrets(secrets)
    assert made.blind_index(HOSPITAL, MRN) == Pseudonyms(PSEUDONYM_KEY, INDEX_KEY).blind_index(HOSPITAL, MRN)
    assert repr(made) == "Pseudonyms(<keys hidden>)"
    assert repr(secrets) == "DeploymentSecrets(current_master='m1')"
