"""A payload of every event type issue 18 added (beyond the envelope): a child's guardian and her consent, a family
doctor contract, a 三伏贴 campaign's schedule and visit, and a symptom diary's answers and alert."""

from __future__ import annotations

from typing import Any

RELATION = "rel-3f2a6c1e9b0d"
MOTHER_PATIENT = "pt-5c4b3a2918f7e6d5c4b3"
SUBJECT = "pt-0f1e2d3c4b5a69788796"
DIARY = {"instance_id": "I9", "journey_id": "symptom-diary", "step_id": "diary"}
ITEM = {
    "journey_id": "sanfu-tie",
    "version": 1,
    "season": 2027,
    "occurrence": "2027-05-20",
    "due_at": "2027-05-20T09:37:00+08:00",
}

FAMILY_CALENDAR_PAYLOADS: dict[str, dict[str, Any]] = {
    "relationship.recorded": {
        "relation_id": RELATION,
        "role": "guardian",
        "role_code": "GRD",
        "role_system": "HL70063",
        "legal_guardian": True,
        "person": {
            "name": "王丽",
            "contact": {"phone": "+8613912345678"},
            "language": "zh-CN",
            "timezone": "Asia/Shanghai",
        },
        "related_patient_id": MOTHER_PATIENT,
        "household_id": "hh-7d1c",
        "since": "2024-06-01",
    },
    "relationship.ended": {"relation_id": RELATION, "reason": "source_ended", "ended_at": "2027-02-20"},
    "relationship.consent_granted": {
        "relation_id": RELATION,
        "purposes": ["care", "transactional"],
        "information": ["vaccinations", "appointments"],
        "delivery": "also",
        "granted_by": "guardian",
        "basis_ref": "FORM-2026-0412",
        "expires_on": "2030-12-31",
    },
    "relationship.consent_withdrawn": {"relation_id": RELATION, "purposes": ["care"], "by": "desk-0042"},
    "relationship.linked": {"subject_patient_id": SUBJECT, "relation_id": RELATION, "role": "guardian"},
    "relationship.erased": {"relation_id": RELATION, "reason": "request", "key_epoch": 1},
    "relationship.refused": {"relation_id": RELATION, "reason": "too_many_relations"},
    "family_contract.signed": {
        "contract_id": "FDC-2026-118",
        "household_id": "hh-7d1c",
        "role": "member",
        "team": "team-03",
        "package": "basic",
        "starts_on": "2026-03-01",
        "ends_on": "2027-02-28",
    },
    "family_contract.ended": {"contract_id": "FDC-2026-118", "reason": "expired"},
    "message.routed": {
        "instance_id": "I1",
        "journey_id": "child-vaccination",
        "step_id": "ipv-1",
        "recipients": [{"relation_id": RELATION, "role": "guardian", "message_id": "M1-rel"}],
        "skipped": [
            {"rule": "minor", "why": "under 14 (age 0): messages about a child go to guardians only"},
            {"relation_id": "rel-8c1d", "role": "parent", "rule": "relative_consent", "why": "no consent"},
        ],
    },
    "calendar.scheduled": {
        "items": [ITEM, {**ITEM, "journey_id": "spring-festival-greeting", "due_at": None, "held_reason": "unknown"}],
        "calendar_hash": "c41d",
        "deployment_id": 3,
        "reason": "first decision",
    },
    "calendar.reached": {
        "journey_id": "sanfu-tie",
        "journey_version": 1,
        "rule": "初伏 -2mo 09:00",
        "season": 2027,
        "occurrence": "2027-05-20",
        "scheduled_for": "2027-05-20T09:37:00+08:00",
        "outcome": "not_in_audience",
        "failed": ["patient.age gte 3"],
        "next": {**ITEM, "season": 2028, "occurrence": "2028-05-13", "due_at": "2028-05-13T09:37:00+08:00"},
    },
    "campaign.attended": {
        "instance_id": "I2",
        "journey_id": "sanfu-tie",
        "step_id": "attended-1",
        "next_step_id": "eve-2",
        "season": 2027,
        "visit": "初伏",
        "matched_event_id": "E-att-1",
    },
    "checkin.recorded": {**DIARY, "n": 3, "value": 4, "at": "2027-03-03T20:05:00+08:00", "response_id": "QR-3"},
    "checkin.missed": {**DIARY, "n": 4},
    "checkin.alerted": {
        **DIARY,
        "next_step_id": "doctor",
        "alert": "rising",
        "kind": "rising",
        "values": [
            {"at": "2027-03-01T20:00:00+08:00", "value": 3, "response_id": "QR-1"},
            {"at": "2027-03-02T20:00:00+08:00", "value": 4, "response_id": "QR-2"},
        ],
        "statistic": {"tau": 0.948683, "p_value": 0.011725, "sen_slope_per_day": 1.0},
        "threshold": {"last": 5, "alpha": 0.05, "min_slope": 0.5},
    },
}
