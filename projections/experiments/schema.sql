-- One row per experiment and unit: a split's or a staged rollout's instance, or a patient of the global holdout.
-- Written once per draw.
CREATE TABLE IF NOT EXISTS experiment_assignments (
    experiment_id text        NOT NULL,  -- a split: '<journey_id>/<step_id>@<salt>' (a new salt, a new experiment);
                                         -- a rollout: '<journey_id>@v<candidate version>/<salt>';
                                         -- the global holdout: its configured id
    unit_id       text        NOT NULL,  -- what was assigned: the instance (a split, a rollout), the patient
                                         -- (global holdout)
    patient_id    text        NOT NULL,
    kind          text        NOT NULL,  -- journey_split, journey_rollout, global_holdout
    journey_id    text,                  -- a split's journey and step (a rollout's journey, no step); NULL for the
                                         -- global holdout
    step_id       text,
    instance_id   text,
    arm           text        NOT NULL,  -- the arm's name (a split's arm; candidate or stable; holdout or treated)
    holdout       boolean     NOT NULL,  -- the arm is the control (a rollout's: stable)
    weights       text,                  -- JSON: each arm's weight by name (the global holdout's and a rollout's:
                                         -- basis points of 10000); NULL when not recorded (journey.branch_taken
                                         -- v1). Text, not jsonb: the row reads back as the mapping wrote it; the
                                         -- view casts it
    salt          text,                  -- hashed with the patient to draw the arm; NULL: not recorded (v1)
    assigned_at   timestamptz NOT NULL,  -- the first draw (a split's step reached again keeps it)
    event_id      text        NOT NULL,  -- the event that drew it
    PRIMARY KEY (experiment_id, unit_id)
);
-- "A patient's assignments" (and the erasure's delete)
CREATE INDEX IF NOT EXISTS experiment_assignments_patient_at ON experiment_assignments (patient_id, assigned_at);
