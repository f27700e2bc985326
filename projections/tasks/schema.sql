-- One row per task a journey created for staff.
CREATE TABLE IF NOT EXISTS tasks (
    task_id     text PRIMARY KEY,
    patient_id  text        NOT NULL,
    instance_id text        NOT NULL,
    journey_id  text        NOT NULL,
    queue       text        NOT NULL,  -- care-team, chronic-care, scheduling, psychology, patient-relations, ...
    role        text,                  -- nurse, psychologist, ... (NULL: anyone on the queue)
    title       text        NOT NULL,
    priority    text        NOT NULL,  -- low, normal, high, urgent
    sla_due_at  timestamptz NOT NULL,
    status      text        NOT NULL,  -- open (the engine never closes a task)
    assignee    text,                  -- NULL: not written by the projection
    outcome     text,                  -- NULL: not written by the projection
    created_at  timestamptz NOT NULL
);
-- "Overdue tasks by queue" and "a queue's open tasks by SLA"
CREATE INDEX IF NOT EXISTS tasks_status_queue_sla ON tasks (status, queue, sla_due_at);
-- "A patient's tasks"
CREATE INDEX IF NOT EXISTS tasks_patient ON tasks (patient_id);
