"""The desk's PostgreSQL read models hold to the contract its in-memory twin holds to (tests/contracts/
loyalty_desk.py), on the loyalty tables with the contract's columns."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from engine.loyalty_desk.ports import Decision, Entry, Member, ReadModels
from engine.loyalty_desk.postgres import PostgresReadModels
from engine.loyalty_desk.referrals import Referral, Referrals
from engine.plumbing.kept_connection import KeptConnection
from tests.contracts.loyalty_desk import ReadModelsContract, ReferralsContract, Referred, Seeded
from tests.integration.loyalty_desk import tables


class TestPostgresReadModels(ReadModelsContract):
    @pytest.fixture
    def seeded(self, database_url: str) -> Iterator[Seeded]:
        tables.create(database_url, every=True)  # a blank database: the contract's columns
        kept = KeptConnection(database_url, "careloop-test-loyalty")

        def make(members: list[Member], ledgers: dict[str, list[Entry]], decisions: list[Decision]) -> ReadModels:
            tables.fill(database_url, members, ledgers, decisions)
            return PostgresReadModels(kept, threading.Lock())

        yield make
        kept.close()


class TestPostgresReferrals(ReferralsContract):
    @pytest.fixture
    def referred(self, database_url: str) -> Iterator[Referred]:
        tables.create(database_url, every=True)
        kept = KeptConnection(database_url, "careloop-test-loyalty")

        def make(codes: dict[str, str], referrals: list[Referral]) -> Referrals:
            tables.fill_referrals(database_url, codes, referrals)
            return PostgresReadModels(kept, threading.Lock())

        yield make
        kept.close()
