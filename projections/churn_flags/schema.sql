-- One row per churn flag the engine raised, open or cleared.
CREATE TABLE IF NOT EXISTS churn_flags (
    patient_id text        NOT NULL,
    journey_id text        NOT NULL,
    reason     text        NOT NULL,
    weight     integer     NOT NULL,
    level      text        NOT NULL,   -- the patient's level after the last change of this row: none, low, medium, high
    score      integer     NOT NULL,   -- the patient's score (sum of open flag weights) after that change
    evidence   text[]      NOT NULL,   -- event ids that led to the flag
    since      timestamptz NOT NULL,   -- when the flag was (last) raised while not already open
    assignee   text,                   -- NULL: not written by the projection
    status     text        NOT NULL,   -- open, cleared
    cleared_at timestamptz,
    PRIMARY KEY (patient_id, journey_id, reason)
);
-- "Open flags, newest first"
CREATE INDEX IF NOT EXISTS churn_flags_status_since ON churn_flags (status, since);

-- Each patient's current churn score and level: from the patient's latest flag or clear.
CREATE TABLE IF NOT EXISTS churn_levels (
    patient_id text PRIMARY KEY,
    score      integer     NOT NULL,
    level      text        NOT NULL,   -- none, low, medium, high
    changed_at timestamptz NOT NULL,
    event_id   text        NOT NULL    -- the churn.flagged or churn.cleared event that set it
);
-- "Patients at high churn risk"
CREATE INDEX IF NOT EXISTS churn_levels_level_score ON churn_levels (level, score DESC);
