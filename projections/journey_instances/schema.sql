-- One row per journey instance (a patient's run of one journey).
CREATE TABLE IF NOT EXISTS journey_instances (
    instance_id     text PRIMARY KEY,
    patient_id      text        NOT NULL,
    journey_id      text        NOT NULL,
    journey_version integer     NOT NULL,
    content_hash    text        NOT NULL,
    key             text,                  -- e.g. the appointment or encounter id of a keyed journey
    status          text        NOT NULL,  -- active, completed, exited
    current_step    text,                  -- the step it waits at or runs next; where it ended once ended
    next_due_at     timestamptz,           -- when the current wait ends at the latest; NULL when not waiting
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    outcome         text                   -- completed, followed-up, cancelled, readmitted, ...
);
-- What the instance entered on, from journey.started's entry event (added later: existing databases upgrade here).
ALTER TABLE journey_instances ADD COLUMN IF NOT EXISTS entry_type       text;         -- encounter.discharged, ...
ALTER TABLE journey_instances ADD COLUMN IF NOT EXISTS entry_department text;         -- NULL: the event has none
ALTER TABLE journey_instances ADD COLUMN IF NOT EXISTS entry_at         timestamptz;  -- the entry event's time
-- The arm a split drew for the instance (added later); NULL: no split. The global holdout is experiment_assignments'.
ALTER TABLE journey_instances ADD COLUMN IF NOT EXISTS arm              text;
ALTER TABLE journey_instances ADD COLUMN IF NOT EXISTS holdout          boolean;
-- The version the instance started on and the arm a staged rollout drew for it (added later; rollout_arm: candidate,
-- stable, NULL when no rollout drew). journey_version is the current one: a deployment may move a running instance
-- (journey.migrated). A row written before the column existed holds the version it started on (before journey.migrated
-- was projected, journey_version never changed after the start), so it is filled from it, once; its rollout_arm stays
-- NULL until a rebuild (`careloop projections rebuild journey_instances`) reads the draws.
ALTER TABLE journey_instances ADD COLUMN IF NOT EXISTS started_version  integer;
ALTER TABLE journey_instances ADD COLUMN IF NOT EXISTS rollout_arm      text;
UPDATE journey_instances SET started_version = journey_version WHERE started_version IS NULL;
-- "A patient's journeys"
CREATE INDEX IF NOT EXISTS journey_instances_patient ON journey_instances (patient_id);
-- "The funnel of a journey"
CREATE INDEX IF NOT EXISTS journey_instances_journey_status ON journey_instances (journey_id, status, outcome);
-- "What moves next"
CREATE INDEX IF NOT EXISTS journey_instances_next_due ON journey_instances (next_due_at) WHERE status = 'active';
