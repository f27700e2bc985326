"""Rows of two patients on two queues, written as the owner, for the role tests: what each role may and may not
see is asserted against them."""

from __future__ import annotations

from datetime import date

import psycopg

from engine.store.aggregate import patient_aggregate_id

ORTHO, PSYCH = "pt-0a1b2c3d4e5f60718293", "pt-9f8e7d6c5b4a39281706"
NAMES = {ORTHO: "王建国", PSYCH: "李芳"}
PHONES = {ORTHO: "+8613800000001", PSYCH: "+8613884860701"}
QUEUES = {ORTHO: "care-team", PSYCH: "psychology"}


def seed(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for patient, queue in QUEUES.items():
            conn.execute(
                "INSERT INTO tasks (task_id, patient_id, instance_id, journey_id, queue, title, priority, sla_due_at,"
                " status, created_at) VALUES (%s, %s, 'i-1', 'post-op', %s, 'Call the patient', 'high',"
                " '2026-03-05 10:00+08', 'open', '2026-03-04 10:00+08')",
                (f"task-{queue}", patient, queue),
            )
            conn.execute(
                "INSERT INTO dispatch_contacts (patient_id, name, phone) VALUES (%s, %s, %s)",
                (patient, NAMES[patient], PHONES[patient]),
            )
            conn.execute(
                "INSERT INTO patient_timeline (event_id, patient_id, at, kind, detail, seq)"
                " VALUES (%s, %s, '2026-03-02 10:00+08', 'encounter.discharged', 'department orthopedics', 1)",
                (f"ev-{patient}", patient),
            )
            conn.execute(
                "INSERT INTO careloop_events (originator_id, originator_version, topic, state)"
                " VALUES (%s, 1, 'engine.store:Recorded', %s)",
                (patient_aggregate_id(patient), f'{{"payload": {{"patient_id": "{patient}"}}}}'.encode()),
            )
        conn.execute(
            "INSERT INTO patient_profiles (patient_id, birth_date, sex, updated_at) VALUES (%s, %s, 'female', now()),"
            " (%s, %s, 'male', now())",
            (PSYCH, date(1990, 3, 7), ORTHO, date(1931, 1, 2)),
        )
