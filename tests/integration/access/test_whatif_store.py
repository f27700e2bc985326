"""`careloop whatif NEW.yaml --from-store`: the stored inputs replayed under the caller's login, each patient replayed
recorded in the audit trail first (action whatif); a patient the login may not read is not replayed."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from engine.access import roles
from engine.store.application import JourneyStore, postgres_env
from engine.store.recorder import Commit
from tests.builders import JOURNEYS
from tests.integration.access.conftest import Account, Login
from tests.integration.access.test_audit import a_patient_on_the_queue, careloop, trail
from tests.integration.test_journey_store import _decided

P = "pt-7d1e0a52c9b84f3a6e21"
Q = "pt-90b4c2e7f1a3d5068b4c"  # on no queue of the nurse's
POST_OP_V2 = "  - id: post-op-follow-up\n    version: 2 "
DAY_3 = '      - id: wait-day-3\n        wait: {offset: 3d, from: entry, at: "10:00"}'


@pytest.fixture(autouse=True)
def _from_the_repo_root(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    monkeypatch.chdir(request.config.rootpath)  # the current journeys: journeys.yaml
    monkeypatch.delenv("CARELOOP_JOURNEYS", raising=False)


@pytest.fixture
def day_2(tmp_path: Path) -> str:
    text = JOURNEYS.read_text(encoding="utf-8")
    path = tmp_path / "new.yaml"
    path.write_text(text.replace(POST_OP_V2, POST_OP_V2.replace("2 ", "3 ")).replace(DAY_3, DAY_3.replace("3d", "2d")))
    return str(path)


@pytest.fixture
def nurse(careloop_db: str, login: Login) -> Account:
    """A care-team login whose queue holds P's task; Q's discharge is stored too, with no task of theirs."""
    a_patient_on_the_queue(careloop_db, P, "care-team")
    store = JourneyStore(postgres_env(careloop_db, pool_size=1))
    try:
        store.commit([_decided(store, Q, "E9")], Commit(consumer="c"))
    finally:
        store.close()
    account = login("careloop_care_team")
    with psycopg.connect(careloop_db, autocommit=True) as conn:
        roles.set_queues(conn, account.name, ["care-team"])
    return account


def test_whatif_from_the_store_replays_the_named_patient_and_records_the_read(
    careloop_db: str, nurse: Account, day_2: str
) -> None:
    code, shown = careloop(nurse, "whatif", day_2, "--from-store", "--patients", P)

    assert code == 0, shown
    assert f"patient {P}" in shown
    assert "moved    message    post-op-follow-up / day-3-care" in shown
    assert "2026-03-05T10:00+08:00 -> 2026-03-04T10:00+08:00" in shown
    assert trail(careloop_db) == [(nurse.name, P, "whatif", "operations")]


def test_whatif_from_the_whole_store_replays_only_the_patients_the_login_may_read(
    careloop_db: str, nurse: Account, day_2: str
) -> None:
    code, shown = careloop(nurse, "whatif", day_2, "--from-store", "--format", "json")

    assert code == 0, shown
    assert P in shown and Q not in shown
    assert trail(careloop_db) == [(nurse.name, P, "whatif", "operations")]


def test_whatif_of_a_patient_the_login_may_not_read_shows_nothing_and_is_still_recorded(
    careloop_db: str, nurse: Account, day_2: str
) -> None:
    code, shown = careloop(nurse, "whatif", day_2, "--from-store", "--patients", Q, "--purpose", "care")

    assert code == 1
    assert "the history holds no events to replay" in shown
    assert trail(careloop_db) == [(nurse.name, Q, "whatif", "care")]


def test_an_unknown_purpose_is_refused_before_anything_is_read(careloop_db: str, nurse: Account, day_2: str) -> None:
    code, shown = careloop(nurse, "whatif", day_2, "--from-store", "--purpose", "curiosity")

    assert code == 2 and "--purpose" in shown
    assert trail(careloop_db) == []
