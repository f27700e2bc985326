"""Patient keys in PostgreSQL honour the PatientKeys contract, and what only a database shows: concurrent intakes
agree on one key, erasure leaves no wrapped key in the table, the table is created idempotently."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from engine.security.cipher import DataKey
from engine.security.errors import ErasedError
from engine.security.patient_keys_postgres import PostgresPatientKeys, create_table
from engine.security.providers import FileKeyProvider, KeyProvider
from tests.unit.security.patient_keys_contract import LI_FANG, WANG_WEI, OpenKeys, PatientKeysContract

pytestmark = pytest.mark.integration


class TestPostgresPatientKeys(PatientKeysContract):
    @pytest.fixture
    def open_keys(self, database_url: str) -> Iterator[OpenKeys]:
        opened: list[PostgresPatientKeys] = []

        def open_keys(provider: KeyProvider) -> PostgresPatientKeys:
            opened.append(PostgresPatientKeys(database_url, provider, name="careloop-test-keys"))
            return opened[-1]

        yield open_keys
        for keys in opened:
            keys.close()

    def test_intakes_making_a_new_patients_key_at_once_agree_on_one_key(
        self, open_keys: OpenKeys, provider: KeyProvider
    ) -> None:
        intakes = [open_keys(provider) for _ in range(6)]
        start = threading.Barrier(len(intakes))
        got: list[DataKey] = []

        def first_event(keys: PostgresPatientKeys) -> None:
            start.wait()
            got.append(keys.key_for(LI_FANG))

        threads = [threading.Thread(target=first_event, args=(k,)) for k in intakes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)

        assert len(got) == len(intakes)
        assert len({k.secret for k in got}) == 1

    def test_an_erasure_racing_an_intake_recording_relatives_leaves_no_relation_key_of_hers_live(
        self, open_keys: OpenKeys, provider: KeyProvider, database_url: str
    ) -> None:
        # an intake records Li Fang's relatives one after another while `careloop erase` erases her
        intake, eraser = open_keys(provider), open_keys(provider)
        intake.key_for(LI_FANG)
        start = threading.Barrier(2)
        made: list[str] = []
        refused: list[str] = []

        def record_relatives() -> None:
            start.wait()
            for n in range(60):
                try:
                    intake.key_for_relation(LI_FANG, f"rel-{n:02d}")
                    made.append(f"rel-{n:02d}")
                except ErasedError:
                    refused.append(f"rel-{n:02d}")

        def erase() -> None:
            start.wait()
            eraser.shred(LI_FANG)

        threads = [threading.Thread(target=record_relatives), threading.Thread(target=erase)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)

        assert len(made) + len(refused) == 60
        with psycopg.connect(database_url) as conn:
            live = conn.execute(
                "SELECT count(*) FROM careloop_patient_keys WHERE owner_patient_id = %s AND wrapped IS NOT NULL",
                (LI_FANG,),
            ).fetchone()
        assert live == (0,), f"{len(made)} made before the erasure, {len(refused)} refused after it"

    def test_an_erased_patients_row_holds_no_key_and_says_when(
        self, open_keys: OpenKeys, provider: KeyProvider, database_url: str
    ) -> None:
        keys = open_keys(provider)
        keys.key_for(LI_FANG)
        keys.key_for(WANG_WEI)
        with psycopg.connect(database_url) as conn:
            (wrapped,) = conn.execute(
                "SELECT wrapped FROM careloop_patient_keys WHERE patient_id = %s", (LI_FANG,)
            ).fetchone() or (None,)
        assert wrapped is not None

        keys.erase(LI_FANG)

        with psycopg.connect(database_url) as conn:
            rows = {
                patient: rest
                for patient, *rest in conn.execute(
                    "SELECT patient_id, epoch, master_key_id, wrapped IS NULL, erased_at IS NOT NULL "
                    "FROM careloop_patient_keys"
                )
            }
            still_there = conn.execute(
                "SELECT count(*) FROM careloop_patient_keys WHERE position(%s in coalesce(wrapped, ''::bytea)) > 0",
                (bytes(wrapped),),
            ).fetchone()
        assert rows[LI_FANG] == [1, None, True, True]
        assert rows[WANG_WEI] == [1, "m1", False, False]
        assert still_there == (0,)

    def test_a_row_that_is_neither_live_nor_erased_is_refused_by_the_table(
        self, open_keys: OpenKeys, provider: KeyProvider, database_url: str
    ) -> None:
        open_keys(provider).key_for(LI_FANG)
        with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE careloop_patient_keys SET wrapped = NULL WHERE patient_id = %s", (LI_FANG,))

    def test_creating_the_table_again_changes_nothing(
        self, open_keys: OpenKeys, provider: FileKeyProvider, database_url: str, key_file: Path
    ) -> None:
        key = open_keys(provider).key_for(LI_FANG)
        with psycopg.connect(database_url, autocommit=True) as conn:
            create_table(conn)
            create_table(conn)
        assert open_keys(FileKeyProvider.load(key_file)).key_for(LI_FANG) == key


def test_a_lost_connection_is_opened_again_for_the_next_key(database_url: str) -> None:
    """PostgreSQL restarted under a long-running intake: the first seal after it meets the dead connection, and
    still gets the patient's key (the statement runs once more on a new connection)."""
    provider = FileKeyProvider({"m1": os.urandom(32)}, "m1")
    keys = PostgresPatientKeys(database_url, provider, name="careloop-test-lost-keys")
    try:
        first = keys.key_for(LI_FANG)
        with psycopg.connect(database_url, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                ("careloop-test-lost-keys",),
            ).fetchall()
        assert ended == [(True,)]
        assert keys.key_for(LI_FANG) == first
        assert keys.key_for(WANG_WEI).epoch == 1
    finally:
        keys.close()
