"""The desk's in-memory read models hold to the contract the PostgreSQL adapter holds to (tests/contracts/
loyalty_desk.py; tests/integration/loyalty_desk/ runs it on PostgreSQL)."""

from __future__ import annotations

import pytest

from engine.loyalty_desk.memory import InMemoryReadModels
from engine.loyalty_desk.ports import Decision, Entry, Member, ReadModels
from engine.loyalty_desk.referrals import Referral, Referrals
from tests.contracts.loyalty_desk import ReadModelsContract, ReferralsContract, Referred, Seeded


class TestInMemoryReadModels(ReadModelsContract):
    @pytest.fixture
    def seeded(self) -> Seeded:
        def make(members: list[Member], ledgers: dict[str, list[Entry]], decisions: list[Decision]) -> ReadModels:
            models = InMemoryReadModels()
            for m in members:
                models.put_member(m)
            for patient_id, entries in ledgers.items():
                for e in entries:
                    models.add_entry(patient_id, e)
            for d in decisions:
                models.decide(d)
            return models

        return make


class TestInMemoryReferrals(ReferralsContract):
    @pytest.fixture
    def referred(self) -> Referred:
        def make(codes: dict[str, str], referrals: list[Referral]) -> Referrals:
            models = InMemoryReadModels(codes=dict(codes))
            for r in referrals:
                models.put_referral(r)
            return models

        return make
