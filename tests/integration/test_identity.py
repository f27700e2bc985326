"""Patient identity in PostgreSQL honours the same contract as the in-memory one; its patient ids are keyed
pseudonyms, and its table keeps identifiers only as blind indexes and values sealed with the patient's key."""

from __future__ import annotations

import itertools

import psycopg
import pytest

from connectors.base import PatientIdentity
from connectors.identity import FIELD, IdentityTableError, PostgresIdentity
from engine.embedded import EmbeddedPostgres
from engine.security.patient_keys import MemoryPatientKeys
from engine.security.phi import reveal_value
from events.patient import Identifier
from tests.keys import PSEUDONYMS, memory_identity, memory_keys, patient_id

pytestmark = pytest.mark.integration
_n = itertools.count()


def database(postgres: EmbeddedPostgres) -> str:
    name = f"identity_{next(_n)}"
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["memory", "postgres"])
def identity(request: pytest.FixtureRequest, postgres: EmbeddedPostgres) -> PatientIdentity:
    if request.param == "memory":
        return memory_identity()
    return PostgresIdentity(database(postgres), PSEUDONYMS, memory_keys())


def mrn(value: str, authority: str = "HOSP-A") -> Identifier:
    return Identifier(authority=authority, value=value, kind="MR")


def test_the_same_identifier_always_resolves_to_the_same_patient(identity: PatientIdentity) -> None:
    first = identity.resolve([mrn("123")])
    assert identity.resolve([mrn("123")]) == first
    assert identity.resolve([mrn("456")]) != first


def test_a_known_identifier_links_a_new_one_from_another_source(identity: PatientIdentity) -> None:
    patient = identity.resolve([mrn("123")])
    assert identity.resolve([mrn("123"), Identifier(authority="NATIONAL-ID", value="110105")]) == patient
    assert identity.resolve([Identifier(authority="NATIONAL-ID", value="110105")]) == patient


def test_a_merge_points_the_retired_identifiers_at_the_survivor(identity: PatientIdentity) -> None:
    retired = identity.resolve([mrn("DUP-1")])
    survivor = identity.resolve([mrn("KEEP-1")])
    assert identity.merge([mrn("DUP-1")], [mrn("KEEP-1")]) == (retired, survivor)
    assert identity.resolve([mrn("DUP-1")]) == survivor


def test_no_identifier_is_an_error(identity: PatientIdentity) -> None:
    with pytest.raises(ValueError, match="at least one identifier"):
        identity.resolve([])


def test_a_replayed_merge_answers_as_the_first_time(identity: PatientIdentity) -> None:
    first = identity.merge([mrn("DUP-2")], [mrn("KEEP-2")])
    assert first[0] != first[1]
    assert identity.merge([mrn("DUP-2")], [mrn("KEEP-2")]) == first


def test_a_new_patients_id_is_the_keyed_pseudonym_of_its_first_identifier(identity: PatientIdentity) -> None:
    assert identity.resolve([mrn("789"), mrn("X-1", "HOSP-B")]) == patient_id("HOSP-A", "789")
    assert patient_id("HOSP-A", "789").startswith("pt-") and "789" not in patient_id("HOSP-A", "789")


def test_the_identifier_table_holds_no_identifier_in_clear_only_its_blind_index_and_its_sealed_value(
    postgres: EmbeddedPostgres,
) -> None:
    url, keys = database(postgres), memory_keys()
    identity = PostgresIdentity(url, PSEUDONYMS, keys)
    patient = identity.resolve([Identifier(authority="CN-NATIONAL-ID", value="110101199003071234", kind="NI")])

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT blind_index, authority, value_sealed, patient_id FROM patient_identifiers"
        ).fetchall()
    [(index, authority, sealed, owner)] = rows
    assert "110101199003071234" not in repr(rows)
    assert (index, authority, owner) == (
        PSEUDONYMS.blind_index("CN-NATIONAL-ID", "110101199003071234"),
        "CN-NATIONAL-ID",
        patient,
    )
    assert reveal_value(keys, sealed, patient, FIELD, "patient_identifiers") == "110101199003071234"


def test_a_merge_seals_the_retired_identifiers_again_with_the_survivors_key(postgres: EmbeddedPostgres) -> None:
    url, keys = database(postgres), memory_keys()
    identity = PostgresIdentity(url, PSEUDONYMS, keys)
    retired, survivor = identity.merge([mrn("DUP-3")], [mrn("KEEP-3")])

    with psycopg.connect(url) as conn:
        [(sealed,)] = conn.execute(
            "SELECT value_sealed FROM patient_identifiers WHERE blind_index = %s",
            (PSEUDONYMS.blind_index("HOSP-A", "DUP-3"),),
        ).fetchall()
    keys.erase(retired)  # the retired id's key can go: nothing of the survivor's rests under it
    assert reveal_value(keys, sealed, survivor, FIELD, "patient_identifiers") == "DUP-3"


def test_an_earlier_careloops_identifier_table_with_rows_is_refused_and_an_empty_one_replaced(
    postgres: EmbeddedPostgres,
) -> None:
    holding, empty = database(postgres), database(postgres)
    for url, rows in ((holding, 1), (empty, 0)):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE patient_identifiers (authority text, value text, patient_id text, "
                "first_seen timestamptz, PRIMARY KEY (authority, value))"
            )
            if rows:
                conn.execute("INSERT INTO patient_identifiers VALUES ('HOSP-A', '123', 'pt-0123', now())")

    with pytest.raises(IdentityTableError, match="import the hospital's data again into a new database"):
        PostgresIdentity(holding, PSEUDONYMS, MemoryPatientKeys(memory_keys().provider))
    assert PostgresIdentity(empty, PSEUDONYMS, memory_keys()).resolve([mrn("123")]) == patient_id("HOSP-A", "123")


def test_an_erased_patient_resolves_to_their_id_but_their_identifiers_are_not_kept_again_until_renewed(
    postgres: EmbeddedPostgres,
) -> None:
    url, keys = database(postgres), memory_keys()
    identity = PostgresIdentity(url, PSEUDONYMS, keys)
    patient = identity.resolve([mrn("ERA-1")])
    keys.erase(patient)
    with psycopg.connect(url, autocommit=True) as conn:  # the erasure empties the index of them
        conn.execute("DELETE FROM patient_identifiers WHERE patient_id = %s", (patient,))

        # their id, so that the intake rejects what is about them (it cannot seal it): nothing new is kept
        assert identity.resolve([mrn("ERA-1"), mrn("ERA-1-B", "HOSP-B")]) == patient
        assert conn.execute("SELECT count(*) FROM patient_identifiers").fetchone() == (0,)

        keys.renew(patient)
        assert identity.resolve([mrn("ERA-1"), mrn("ERA-1-B", "HOSP-B")]) == patient
        assert conn.execute("SELECT count(*) FROM patient_identifiers").fetchone() == (2,)
