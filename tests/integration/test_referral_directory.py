"""The referral directory's contract, held by the in-memory fake and the PostgreSQL adapter alike: a member's code
gives the member, any other code gives nobody, and the PostgreSQL one says what is missing when the table is.

The table is created here with the DDL the referrals projection is agreed to keep (issue 17 contract:
``referral_codes(code PK, patient_id NOT NULL)``); switch to the projection's own schema once it is committed."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest

from connectors.referrals import (
    MemoryReferrals,
    PostgresReferrals,
    ReferralDirectory,
    ReferralLookupError,
    claim,
)
from events.patient import ReferralClaim
from events.referral_codes import referral_code

REFERRAL_CODES_DDL = "CREATE TABLE referral_codes (code text PRIMARY KEY, patient_id text NOT NULL)"
MEMBERS = ("P-ANNA", "P-BO", "P-CHEN")

Directory = Callable[[tuple[str, ...]], ReferralDirectory]


@pytest.fixture
def referral_codes_url(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(REFERRAL_CODES_DDL)
    return database_url


@pytest.fixture(params=["memory", "postgres"])
def directory_of(request: pytest.FixtureRequest) -> Iterator[Directory]:
    opened: list[PostgresReferrals] = []

    def postgres(members: tuple[str, ...]) -> ReferralDirectory:
        url = request.getfixturevalue("referral_codes_url")
        with psycopg.connect(url, autocommit=True) as conn:
            for member in members:
                conn.execute("INSERT INTO referral_codes VALUES (%s, %s)", (referral_code(member), member))
        opened.append(PostgresReferrals(url))
        return opened[-1]

    yield MemoryReferrals.of_members if request.param == "memory" else postgres
    for directory in opened:
        directory.close()


def test_a_members_code_gives_the_member(directory_of: Directory) -> None:
    directory = directory_of(MEMBERS)

    assert [directory.referrer_of(referral_code(m)) for m in MEMBERS] == list(MEMBERS)


def test_a_code_no_member_has_gives_nobody(directory_of: Directory) -> None:
    directory = directory_of(MEMBERS)

    assert directory.referrer_of(referral_code("P-NOT-ENROLLED")) is None
    assert directory.referrer_of(referral_code("P-ANNA").lower()) is None  # the port takes the printed form


def test_a_claim_normalises_what_was_typed_before_looking_it_up(directory_of: Directory) -> None:
    directory = directory_of(MEMBERS)
    typed = referral_code("P-BO").replace("-", " ").lower()

    assert claim(typed, directory) == ReferralClaim(code=referral_code("P-BO"), referrer_patient_id="P-BO")
    assert claim(referral_code("P-NOBODY"), directory) == ReferralClaim(
        code=referral_code("P-NOBODY"), referrer_patient_id=None
    )


def test_text_that_is_no_code_is_no_claim(directory_of: Directory) -> None:
    directory = directory_of(MEMBERS)

    assert claim("REFERRED BY ANNA", directory) is None


def test_without_the_table_the_lookup_says_to_start_the_projections(database_url: str) -> None:
    directory = PostgresReferrals(database_url)
    try:
        with pytest.raises(ReferralLookupError, match="referral_codes table does not exist yet"):
            directory.referrer_of(referral_code("P-ANNA"))
    finally:
        directory.close()


def test_the_lookup_recovers_after_the_table_appears(database_url: str) -> None:
    directory = PostgresReferrals(database_url)
    try:
        with pytest.raises(ReferralLookupError):
            directory.referrer_of(referral_code("P-ANNA"))
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(REFERRAL_CODES_DDL)
            conn.execute("INSERT INTO referral_codes VALUES (%s, 'P-ANNA')", (referral_code("P-ANNA"),))

        assert directory.referrer_of(referral_code("P-ANNA")) == "P-ANNA"
    finally:
        directory.close()
