"""Deployment keys for tests: fixed pseudonym and index keys, so a test can write down the patient id an identifier
gets (``patient_id``), and patients' data keys in memory under a fresh master key (``memory_keys``). The service
tiers make a key file of their own under the test's data folder, as the embedded stack does (``key_file``), and
keep patients' keys in the test's database (``postgres_protection``)."""

from __future__ import annotations

import os
from pathlib import Path

from connectors.base import InMemoryIdentity
from connectors.sealing import Sealer
from engine.processes.intake import Protection
from engine.security.deployment import DeploymentKeys, open_keys
from engine.security.patient_keys import MemoryPatientKeys
from engine.security.patient_keys_postgres import PostgresPatientKeys
from engine.security.providers import FileKeyProvider
from engine.security.pseudonyms import Pseudonyms

PSEUDONYMS = Pseudonyms(b"careloop-tests-pseudonym-key-32b", b"careloop-tests-index-key-32-byte")


def memory_identity() -> InMemoryIdentity:
    """An in-memory identity under the tests' pseudonym keys."""
    return InMemoryIdentity(PSEUDONYMS)


def patient_id(authority: str, value: str) -> str:
    """The patient id the tests' keys give the patient first known by this identifier."""
    return PSEUDONYMS.patient_id(authority, value)


def memory_keys() -> MemoryPatientKeys:
    """Patients' data keys in memory, wrapped by a master key of this test's own."""
    return MemoryPatientKeys(FileKeyProvider({"m1": os.urandom(32)}, "m1"))


def sealer() -> Sealer:
    return Sealer(memory_keys())


def key_file(data_dir: Path) -> DeploymentKeys:
    """The key file under ``data_dir`` (where the settings look for it by default), made on first use."""
    return open_keys(None, data_dir, create=True)


def postgres_protection(database_url: str, data_dir: Path) -> Protection:
    """What an intake seals with: the key file under ``data_dir``, patients' keys in the test's database."""
    deployment = key_file(data_dir)
    keys = PostgresPatientKeys(database_url, deployment.provider, name="careloop-test-keys")
    return Protection(deployment.pseudonyms, keys, Sealer(keys))
