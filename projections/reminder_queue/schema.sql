-- Every reminder the engine planned or requested. One row per message_id.
CREATE TABLE IF NOT EXISTS reminder_queue (
    message_id  text PRIMARY KEY,
    patient_id  text        NOT NULL,
    instance_id text        NOT NULL,
    journey_id  text        NOT NULL,
    step_id     text        NOT NULL,
    template    text        NOT NULL,
    channels    text[]      NOT NULL,
    category    text,                   -- known once requested: transactional, care or marketing
    due_at      timestamptz NOT NULL,
    status      text        NOT NULL,   -- scheduled, due, sent, failed, skipped, cancelled
    reason      text        NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL
);
-- "What is due today / this hour?"
CREATE INDEX IF NOT EXISTS reminder_queue_status_due ON reminder_queue (status, due_at);
-- "A patient's reminders"
CREATE INDEX IF NOT EXISTS reminder_queue_patient ON reminder_queue (patient_id);
-- The projection's own updates: skip a step's or cancel an instance's scheduled rows.
CREATE INDEX IF NOT EXISTS reminder_queue_instance_step ON reminder_queue (instance_id, step_id);
