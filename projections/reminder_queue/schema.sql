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
    status      text        NOT NULL,   -- scheduled, due, deferred, approved, sent, delivered, read,
                                        -- replied, failed, suppressed, skipped, cancelled
    reason      text        NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL
);
-- The outreach policy's decisions and the outreach results (added later: existing databases upgrade here).
ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS channel        text;        -- approved, sent, delivered on
ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS attempt        integer;     -- the approval attempt (1: first)
ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS deferred_until timestamptz; -- the last deferral's end
ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS policy_rule    text;        -- quiet_hours, cap, consent, ...
ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS cap            text;        -- the frequency cap that held it
ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS sent_at        timestamptz;
ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS delivered_at   timestamptz;
ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS replied_at     timestamptz;
-- For the analysts' funnel (added later): when the engine requested it, when policy first approved it (attempt 1).
ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS requested_at   timestamptz;
ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS approved_at    timestamptz;
-- Read receipts and the request's priority (added later): when a read receipt first moved it to 'read'; 0-100.
ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS read_at        timestamptz;
ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS priority       integer;
-- The journey version the request was decided under (added later; NULL: scheduled only, a message of no journey, or
-- projected before the column existed, until a rebuild).
ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS journey_version integer;
-- Whom it goes to (issue 18, added later): NULL for the patient, else the relative's link (relationships) and role;
-- the information it is about (appointments, reminders, vaccinations, ...), what a relative's consent must hold.
ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS recipient_relation_id text;
ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS recipient_role        text;
ALTER TABLE reminder_queue ADD COLUMN IF NOT EXISTS information           text;
-- "What is due today / this hour?"
CREATE INDEX IF NOT EXISTS reminder_queue_status_due ON reminder_queue (status, due_at);
-- "A patient's reminders"
CREATE INDEX IF NOT EXISTS reminder_queue_patient ON reminder_queue (patient_id);
-- The projection's own updates: skip a step's or cancel an instance's scheduled rows.
CREATE INDEX IF NOT EXISTS reminder_queue_instance_step ON reminder_queue (instance_id, step_id);
