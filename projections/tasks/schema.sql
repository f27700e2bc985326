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
    status      text        NOT NULL,  -- open, in_progress, done, escalated
    assignee    text,                  -- who claimed it; NULL while unclaimed
    outcome     text,                  -- set when closed: reached, rebooked, no-answer, declined, ...
    created_at  timestamptz NOT NULL
);
-- Staff work and escalation (added later: existing databases upgrade here).
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS origin_queue text;                           -- the queue it was created on
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS escalated    boolean NOT NULL DEFAULT false;  -- its SLA passed unclosed
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS escalated_at timestamptz;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS claimed_at   timestamptz;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS closed_at    timestamptz;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS closed_by    text;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS reached_at   timestamptz;                   -- task.closed: patient reached
-- What it was created on (issue 18, task.created v2): event ids (a check-in alert's first, then its responses') and
-- facts staff read ("symptom-diary score 3, 4, 4, 6, 7 on 03-01…03-05"); empty for a task of no evidence.
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS evidence text[] NOT NULL DEFAULT '{}';
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS facts    text[] NOT NULL DEFAULT '{}';
-- "Overdue tasks by queue" and "a queue's open tasks by SLA"
CREATE INDEX IF NOT EXISTS tasks_status_queue_sla ON tasks (status, queue, sla_due_at);
-- "A patient's tasks"
CREATE INDEX IF NOT EXISTS tasks_patient ON tasks (patient_id);
-- "My tasks"
CREATE INDEX IF NOT EXISTS tasks_assignee ON tasks (assignee) WHERE assignee IS NOT NULL;
