"""An erasure, step by step over its ports: audited first, then the key destroyed, the directory emptied and
patient.erased published; a repeat publishes the same event; an erasure the audit trail refuses does nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from engine.security.erasure import SOURCE, Erasure, RelationRequest, Request
from engine.security.errors import ErasedError, RelationErasedError
from engine.security.patient_keys import MemoryPatientKeys
from engine.security.providers import FileKeyProvider
from events.base import Event

LI_FANG, WANG_WEI = "pt-3f9c2a71b04e8d56c1a0", "pt-58be0d4417c29a6f3e11"
DAUGHTER, HUSBAND = "rel-5b0c9e2a7d41f386", "rel-e3a1f07c92d84b65"
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
TEXT = "DSR-2026-4471"


@dataclass
class Steps:
    """Every port, recording the order things were done in."""

    keys: MemoryPatientKeys
    done: list[str] = field(default_factory=list)
    published: list[Event] = field(default_factory=list)
    audited: list[tuple[str, str, str, str]] = field(default_factory=list)
    refuse_audit: bool = False
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (subject, relation id, related patient)

    def shred(self, patient_id: str):  # type: ignore[no-untyped-def]
        self.done.append("shred")
        return self.keys.shred(patient_id)

    def shred_relation(self, patient_id: str, relation_id: str):  # type: ignore[no-untyped-def]
        self.done.append("shred")
        return self.keys.shred_relation(patient_id, relation_id)

    def remove(self, patient_id: str) -> dict[str, int]:
        self.done.append("remove")
        return {"dispatch_contacts": 1}

    def relations_naming(self, patient_id: str) -> list[tuple[str, str]]:
        return [(subject, rel) for subject, rel, related in self.links if related == patient_id]

    def remove_relation(self, patient_id: str, relation_id: str) -> dict[str, int]:
        self.done.append("remove")
        return {"dispatch_relative_contacts": 1}

    def publish(self, events: Iterable[Event], timeout: float = 60.0) -> object:
        self.done.append("publish")
        self.published += list(events)
        return {}

    def erasing(self, patient_id: str, reason: str, requested_by: str, text: str) -> None:
        if self.refuse_audit:
            raise PermissionError("permission denied for table careloop_audit")
        self.done.append("audit")
        self.audited.append((patient_id, reason, requested_by, text))

    def erasing_relation(self, patient_id: str, relation_id: str, reason: str, requested_by: str, text: str) -> None:
        self.erasing(f"{patient_id}/{relation_id}", reason, requested_by, text)


@pytest.fixture
def steps() -> Steps:
    provider = FileKeyProvider({"m1": bytes(range(32))}, "m1")
    return Steps(MemoryPatientKeys(provider))


def erasure(steps: Steps) -> Erasure:
    return Erasure(steps, steps, steps, steps)  # type: ignore[arg-type]


def test_an_erasure_is_audited_then_shreds_empties_and_publishes_in_that_order(steps: Steps) -> None:
    steps.keys.key_for(LI_FANG)
    steps.keys.key_for(WANG_WEI)

    done = erasure(steps).erase(Request(LI_FANG, "request", TEXT, "dpo_zhang"), NOW)

    assert steps.done == ["audit", "shred", "remove", "publish"]
    assert steps.audited == [(LI_FANG, "request", "dpo_zhang", TEXT)]
    assert (done.shredded.had_key, done.shredded.epoch, done.removed) == (True, 1, {"dispatch_contacts": 1})
    with pytest.raises(ErasedError):
        steps.keys.key_for(LI_FANG)
    assert steps.keys.existing(WANG_WEI) is not None
    (event,) = steps.published
    assert event == done.event
    assert (event.patient_id, event.reason, event.requested_by, event.key_epoch) == (LI_FANG, "request", "dpo_zhang", 1)
    assert (event.occurred_at, event.recorded_at, event.source.system) == (NOW, NOW, SOURCE)
    assert TEXT not in event.model_dump_json()


def test_erasing_again_publishes_the_same_event_so_the_worker_recognises_it(steps: Steps) -> None:
    steps.keys.key_for(LI_FANG)
    first = erasure(steps).erase(Request(LI_FANG, "request", TEXT, "dpo_zhang"), NOW)

    again = erasure(steps).erase(Request(LI_FANG, "request", TEXT, "dpo_zhang"), NOW.replace(hour=10))

    assert again.shredded.had_key is False
    assert again.event.event_id == first.event.event_id


def test_a_patient_who_came_back_and_is_erased_again_gets_an_event_of_their_own(steps: Steps) -> None:
    steps.keys.key_for(LI_FANG)
    first = erasure(steps).erase(Request(LI_FANG, "request", TEXT, "dpo_zhang"), NOW)
    steps.keys.renew(LI_FANG)

    second = erasure(steps).erase(Request(LI_FANG, "retention", "idle", "retention"), NOW)

    assert second.event.key_epoch == 2
    assert second.event.event_id != first.event.event_id


def test_an_erasure_the_audit_trail_refuses_destroys_nothing(steps: Steps) -> None:
    steps.keys.key_for(LI_FANG)
    steps.refuse_audit = True

    with pytest.raises(PermissionError):
        erasure(steps).erase(Request(LI_FANG, "request", TEXT, "intruder"), NOW)

    assert steps.done == [] and steps.published == []
    assert steps.keys.existing(LI_FANG) is not None


# --- relatives (issue 18) ---------------------------------------------------------------------------------------


def test_erasing_a_patient_destroys_the_relation_keys_of_their_relatives(steps: Steps) -> None:
    steps.keys.key_for(LI_FANG)
    steps.keys.key_for_relation(LI_FANG, DAUGHTER)
    steps.keys.key_for_relation(WANG_WEI, HUSBAND)

    done = erasure(steps).erase(Request(LI_FANG, "request", TEXT, "dpo_zhang"), NOW)

    assert done.shredded.relations == 1
    with pytest.raises(ErasedError):
        steps.keys.key_for_relation(LI_FANG, DAUGHTER)
    assert steps.keys.key_for_relation(WANG_WEI, HUSBAND).epoch == 1


def test_erasing_one_relative_is_audited_then_shreds_removes_and_publishes_relationship_erased(steps: Steps) -> None:
    steps.keys.key_for(LI_FANG)
    steps.keys.key_for_relation(LI_FANG, DAUGHTER)
    steps.keys.key_for_relation(LI_FANG, HUSBAND)

    done = erasure(steps).erase_relation(RelationRequest(LI_FANG, DAUGHTER, "request", TEXT, "dpo_zhang"), NOW)

    assert steps.done == ["audit", "shred", "remove", "publish"]
    assert steps.audited == [(f"{LI_FANG}/{DAUGHTER}", "request", "dpo_zhang", TEXT)]
    assert (done.shredded.had_key, done.removed) == (True, {"dispatch_relative_contacts": 1})
    with pytest.raises(RelationErasedError):
        steps.keys.key_for_relation(LI_FANG, DAUGHTER)
    assert steps.keys.existing(LI_FANG) is not None
    assert steps.keys.key_for_relation(LI_FANG, HUSBAND).epoch == 1
    (event,) = steps.published
    assert event == done.event and event.type == "relationship.erased"
    assert (event.patient_id, event.relation_id, event.reason, event.key_epoch) == (LI_FANG, DAUGHTER, "request", 1)
    assert TEXT not in event.model_dump_json()


def test_erasing_the_same_relative_again_publishes_the_same_event(steps: Steps) -> None:
    steps.keys.key_for_relation(LI_FANG, DAUGHTER)
    request = RelationRequest(LI_FANG, DAUGHTER, "request", TEXT, "dpo_zhang")
    first = erasure(steps).erase_relation(request, NOW)

    again = erasure(steps).erase_relation(request, NOW.replace(hour=10))

    assert again.shredded.had_key is False and again.event.event_id == first.event.event_id
    other = erasure(steps).erase_relation(RelationRequest(LI_FANG, HUSBAND, "request", TEXT, "dpo_zhang"), NOW)
    assert other.event.event_id != first.event.event_id


def test_erasing_a_patient_who_is_another_patients_relative_destroys_that_links_relation_key(steps: Steps) -> None:
    # Wang Wei's HIS recorded Li Fang as his daughter (her name and phone, under his relation key for her)
    steps.keys.key_for(LI_FANG)
    steps.keys.key_for_relation(WANG_WEI, DAUGHTER)
    steps.keys.key_for_relation(WANG_WEI, HUSBAND)
    steps.links = [(WANG_WEI, DAUGHTER, LI_FANG), (WANG_WEI, HUSBAND, "pt-0d1e2f3a4b5c6d7e8f90")]

    done = erasure(steps).erase(Request(LI_FANG, "request", TEXT, "dpo_zhang"), NOW)

    assert done.named_in == 1
    with pytest.raises(RelationErasedError):
        steps.keys.key_for_relation(WANG_WEI, DAUGHTER)
    assert steps.keys.key_for_relation(WANG_WEI, HUSBAND).epoch == 1 and steps.keys.existing(WANG_WEI) is None
    again = erasure(steps).erase(Request(LI_FANG, "request", TEXT, "dpo_zhang"), NOW)
    assert again.named_in == 0  # destroyed already
