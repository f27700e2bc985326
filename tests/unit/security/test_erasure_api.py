"""The erasure API's app in front of an erasure on in-memory ports: only a known client given /patients gets an
erasure done, asked in its name (patient.erased and the audit trail say so), with the records merged into the
patient; the answer says what was done, and a second call that it was done already; a request that is not one is
refused naming the field, and the database's or broker's failure is an answer too."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.http_auth import Guard, token_sha256
from connectors.http_clients import load_http_clients
from engine.security.erasure import Erased, Erasure, Request, erase_with_merged
from engine.security.erasure_api import NotPermittedError, UnavailableError, build_app
from engine.security.errors import ErasedError
from engine.security.patient_keys import MemoryPatientKeys
from engine.security.providers import FileKeyProvider
from events.base import Event

LI_FANG, WANG_WEI = "pt-3f9c2a71b04e8d56c1a0", "pt-58be0d4417c29a6f3e11"
OLDER = "pt-0a1b2c3d4e5f60718293"  # an older record of Li Fang's, merged into her current one (an A40)
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
DPO_TOKEN, CARE_TOKEN = "dpo-portal-5e1f0a9c3b7d4e2f8a6c", "care-desk-8b2d4f6a0c1e3a5b7d9f"


@dataclass
class Hospital:
    """Every port of an erasure in memory: keys, the directory's rows, merges, the topic and the audit trail."""

    keys: MemoryPatientKeys
    contacts: set[str] = field(default_factory=lambda: {LI_FANG, WANG_WEI, OLDER})
    merges: dict[str, list[str]] = field(default_factory=lambda: {LI_FANG: [OLDER]})
    published: list[Event] = field(default_factory=list)
    audited: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    audit_down_after: int | None = None  # the audit trail refuses every erasure after this many

    def remove(self, patient_id: str) -> dict[str, int]:
        there = patient_id in self.contacts
        self.contacts.discard(patient_id)
        self.merges.pop(patient_id, None)  # the merges a row names the patient in, as survivor or as retired
        self.merges = {survivor: [r for r in retired if r != patient_id] for survivor, retired in self.merges.items()}
        return {"dispatch_contacts": int(there)}

    def merged_into(self, patient_id: str) -> list[str]:
        return list(self.merges.get(patient_id, []))

    def relations_naming(self, patient_id: str) -> list[tuple[str, str]]:
        return []  # nobody recorded these patients as a relative

    def publish(self, events: Iterable[Event], timeout: float = 60.0) -> object:
        self.published += list(events)
        return {}

    def erasing(self, patient_id: str, reason: str, requested_by: str, ref: str | None) -> None:
        if self.audit_down_after is not None and len(self.audited) >= self.audit_down_after:
            raise UnavailableError("OperationalError: the database or the broker did not answer")
        self.audited.append((patient_id, reason, requested_by, ref))


@dataclass
class MemoryEraser:
    """What `careloop erasure-api` serves, on the in-memory hospital; ``failure`` is raised instead when set."""

    hospital: Hospital
    failure: Exception | None = None

    def erase(self, request: Request) -> Iterator[Erased]:
        if self.failure is not None:
            raise self.failure
        erasure = Erasure(self.hospital.keys, self.hospital, self.hospital, self.hospital)
        return erase_with_merged(erasure, self.hospital, request, NOW)


@pytest.fixture
def hospital() -> Hospital:
    keys = MemoryPatientKeys(FileKeyProvider({"m1": bytes(range(32))}, "m1"))
    for pid in (LI_FANG, WANG_WEI, OLDER):
        keys.key_for(pid)
    return Hospital(keys)


@pytest.fixture
def guard(tmp_path: Path) -> Guard:
    """The DPO's portal may erase; the care desk's tool, given only /consent, may not."""
    path = tmp_path / "http-clients.yaml"
    path.write_text(
        "clients:\n"
        f"  dpo-portal:\n    token_sha256: {token_sha256(DPO_TOKEN)}\n    paths: [/patients]\n"
        f"  care-desk:\n    token_sha256: {token_sha256(CARE_TOKEN)}\n    paths: [/consent]\n",
        encoding="utf-8",
    )
    return Guard(load_http_clients(path), 300.0)


def call(
    eraser: MemoryEraser, guard: Guard, *posts: tuple[str, str | None, bytes, str]
) -> list[tuple[int, dict[str, Any]]]:
    """POST each (patient id, token, body, content type) in turn to one app; each answer's status and JSON."""

    async def run() -> list[tuple[int, dict[str, Any]]]:
        answers = []
        async with TestClient(TestServer(build_app(eraser, guard))) as client:
            for patient_id, token, body, ctype in posts:
                headers = {"Content-Type": ctype} | ({"Authorization": f"Bearer {token}"} if token else {})
                response = await client.post(f"/patients/{patient_id}/erasure", data=body, headers=headers)
                answers.append((response.status, json.loads(await response.text())))
        return answers

    return asyncio.run(run())


def asking(reason: str = "request", ref: str | None = "DSR-2026-0042") -> bytes:
    return json.dumps({"reason": reason, "ref": ref}).encode()


JSON = "application/json"


def test_a_known_client_erases_the_patient_and_her_merged_record_in_its_own_name(
    hospital: Hospital, guard: Guard
) -> None:
    ((status, answer),) = call(MemoryEraser(hospital), guard, (LI_FANG, DPO_TOKEN, asking(), JSON))

    assert status == 200
    assert (answer["patient_id"], answer["status"]) == (LI_FANG, "erased")
    assert [(r["patient_id"], r["key"], r["key_epoch"], r["removed"]) for r in answer["records"]] == [
        (OLDER, "destroyed", 1, {"dispatch_contacts": 1}),
        (LI_FANG, "destroyed", 1, {"dispatch_contacts": 1}),
    ]
    for pid in (LI_FANG, OLDER):
        with pytest.raises(ErasedError):
            hospital.keys.key_for(pid)
    assert hospital.keys.existing(WANG_WEI) is not None and hospital.contacts == {WANG_WEI}
    assert [r["event_id"] for r in answer["records"]] == [str(e.event_id) for e in hospital.published]
    assert [(e.patient_id, e.requested_by) for e in hospital.published] == [  # type: ignore[attr-defined]
        (OLDER, "dpo-portal"),
        (LI_FANG, "dpo-portal"),
    ]
    assert hospital.audited == [
        (OLDER, "request", "dpo-portal", "DSR-2026-0042"),
        (LI_FANG, "request", "dpo-portal", "DSR-2026-0042"),
    ]


def test_asking_again_answers_that_the_patient_was_already_erased_with_the_same_event(
    hospital: Hospital, guard: Guard
) -> None:
    hospital.merges.clear()
    first, again = call(
        MemoryEraser(hospital), guard, (LI_FANG, DPO_TOKEN, asking(), JSON), (LI_FANG, DPO_TOKEN, asking(), JSON)
    )

    assert first[0] == again[0] == 200
    assert (first[1]["status"], again[1]["status"]) == ("erased", "already_erased")
    assert (again[1]["records"][0]["key"], again[1]["records"][0]["removed"]) == (
        "no_live_key",
        {"dispatch_contacts": 0},
    )
    assert again[1]["records"][0]["event_id"] == first[1]["records"][0]["event_id"]


def test_an_erasure_that_failed_half_way_is_completed_by_asking_again_merged_record_included(
    hospital: Hospital, guard: Guard
) -> None:
    # The database goes away after the first record is erased: the merged one is erased before the patient, so the
    # link that finds it is not lost with hers
    hospital.audit_down_after = 1
    ((failed, _),) = call(MemoryEraser(hospital), guard, (LI_FANG, DPO_TOKEN, asking(), JSON))
    hospital.audit_down_after = None

    ((status, answer),) = call(MemoryEraser(hospital), guard, (LI_FANG, DPO_TOKEN, asking(), JSON))

    assert (failed, status) == (503, 200)
    assert all(hospital.keys.erased(pid) for pid in (LI_FANG, OLDER)) and not hospital.keys.erased(WANG_WEI)
    assert sorted(e.patient_id for e in hospital.published) == sorted([LI_FANG, OLDER])
    assert [r["patient_id"] for r in answer["records"]] == [LI_FANG]


def test_without_a_credential_or_with_a_wrong_token_nothing_is_erased(hospital: Hospital, guard: Guard) -> None:
    anonymous, guessed = call(
        MemoryEraser(hospital),
        guard,
        (LI_FANG, None, asking(), JSON),
        (LI_FANG, "dpo-portal-guessed-token", asking(), JSON),
    )

    assert anonymous[0] == 401 and anonymous[1]["error"].startswith("no credential")
    assert guessed == (401, {"error": "the bearer token is not one of a known client"})
    assert hospital.published == [] and hospital.audited == []
    assert hospital.keys.existing(LI_FANG) is not None


def test_a_client_not_given_the_patients_path_may_not_erase(hospital: Hospital, guard: Guard) -> None:
    ((status, answer),) = call(MemoryEraser(hospital), guard, (LI_FANG, CARE_TOKEN, asking(), JSON))

    assert status == 403 and "client care-desk may not call" in answer["error"]
    assert hospital.keys.existing(LI_FANG) is not None


def test_a_request_that_is_not_one_is_refused_naming_the_field_and_nothing_is_erased(
    hospital: Hospital, guard: Guard
) -> None:
    answers = call(
        MemoryEraser(hospital),
        guard,
        (LI_FANG, DPO_TOKEN, asking(reason="she asked at the desk"), JSON),
        (LI_FANG, DPO_TOKEN, asking(ref="李芳 phoned"), JSON),
        ("MRN-0417", DPO_TOKEN, asking(), JSON),
        (LI_FANG, DPO_TOKEN, b'{"reason": "request"', JSON),
        (LI_FANG, DPO_TOKEN, asking(), "text/plain"),
    )

    assert [(status, answer.get("field")) for status, answer in answers] == [
        (422, "reason"),
        (422, "ref"),
        (422, "patient_id"),
        (422, None),
        (415, None),
    ]
    assert not any("desk" in a["error"] or "李芳" in a["error"] for _, a in answers)
    assert hospital.published == [] and hospital.audited == []
    assert hospital.keys.existing(LI_FANG) is not None


def test_a_database_or_broker_that_did_not_answer_is_a_503_to_send_again(hospital: Hospital, guard: Guard) -> None:
    eraser = MemoryEraser(hospital, UnavailableError("OperationalError: the database or the broker did not answer"))

    ((status, answer),) = call(eraser, guard, (LI_FANG, DPO_TOKEN, asking(), JSON))

    assert (status, answer) == (503, {"error": "OperationalError: the database or the broker did not answer"})


def test_a_listener_whose_login_may_not_erase_says_so(hospital: Hospital, guard: Guard) -> None:
    eraser = MemoryEraser(hospital, NotPermittedError("this listener's login may not erase: it needs careloop_eraser"))

    ((status, answer),) = call(eraser, guard, (LI_FANG, DPO_TOKEN, asking(), JSON))

    assert status == 500 and "careloop_eraser" in answer["error"]
