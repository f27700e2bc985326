"""The in-memory patient keys honour the PatientKeys contract (PostgreSQL's: tests/integration)."""

from __future__ import annotations

import pytest

from engine.security.patient_keys import KeyRow, MemoryPatientKeys
from engine.security.providers import KeyProvider
from tests.unit.security.patient_keys_contract import OpenKeys, PatientKeysContract


class TestMemoryPatientKeys(PatientKeysContract):
    @pytest.fixture
    def open_keys(self) -> OpenKeys:
        rows: dict[str, KeyRow] = {}  # the "database" every handle shares

        def open_keys(provider: KeyProvider) -> MemoryPatientKeys:
            return MemoryPatientKeys(provider, rows)

        return open_keys
