"""Patient identity in PostgreSQL honours the same contract as the in-memory one."""

from __future__ import annotations

import itertools

import psycopg
import pytest

from connectors.base import InMemoryIdentity, PatientIdentity
from connectors.identity import PostgresIdentity
from engine.embedded import EmbeddedPostgres
from events.patient import Identifier

pytestmark = pytest.mark.integration
_n = itertools.count()


@pytest.fixture(params=["memory", "postgres"])
def identity(request: pytest.FixtureRequest, postgres: EmbeddedPostgres) -> PatientIdentity:
    if request.param == "memory":
        return InMemoryIdentity()
    name = f"identity_{next(_n)}"
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PostgresIdentity(postgres.url.rsplit("/", 1)[0] + f"/{name}")


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
