-- Facts for the analytics views (engine/access/analytics_2_engagement.sql): one row per event, never updated.

-- Every step event of a journey instance, its start and its end: what each instance did, in order.
CREATE TABLE IF NOT EXISTS journey_steps (
    event_id    text PRIMARY KEY,
    patient_id  text        NOT NULL,
    instance_id text        NOT NULL,
    journey_id  text        NOT NULL,
    step_id     text,                  -- NULL for journey.started (no step yet)
    kind        text        NOT NULL,  -- the event type: journey.started, journey.branch_taken, message.requested...
    branch      text,                  -- journey.branch_taken: the branch or split arm taken; else NULL
    at          timestamptz NOT NULL,  -- when it happened
    seq         bigint      NOT NULL   -- its place in the log: orders the steps of one moment
);
-- "A patient's steps" (and the erasure's delete)
CREATE INDEX IF NOT EXISTS journey_steps_patient_at ON journey_steps (patient_id, at);
-- "The steps of one journey"
CREATE INDEX IF NOT EXISTS journey_steps_journey_step ON journey_steps (journey_id, step_id, kind);

-- Every churn flag raised or cleared, with the patient's score and level after it (churn_levels keeps the latest).
CREATE TABLE IF NOT EXISTS churn_history (
    event_id   text PRIMARY KEY,
    patient_id text        NOT NULL,
    journey_id text        NOT NULL,
    change     text        NOT NULL,  -- flagged, cleared
    reason     text,                  -- the flag's reason; NULL: a clear of every flag the journey raised
    weight     integer,               -- flagged: the flag's weight; cleared: NULL
    score      integer     NOT NULL,  -- the patient's churn score after the change
    level      text        NOT NULL,  -- none, low, medium, high: the patient's level after the change
    at         timestamptz NOT NULL
);
-- "A patient's churn over time" (and the erasure's delete)
CREATE INDEX IF NOT EXISTS churn_history_patient_at ON churn_history (patient_id, at);

-- Every questionnaire response's score. Never its items: answers are the patient's own words and sealed.
CREATE TABLE IF NOT EXISTS questionnaires (
    patient_id   text        NOT NULL,
    response_id  text        NOT NULL,
    instrument   text        NOT NULL,  -- satisfaction, phq-9, epds, ...
    score        double precision,      -- NULL: the response carried no score
    completed_at timestamptz NOT NULL,
    message_id   text,                  -- the outreach message that asked for it, if any
    event_id     text        NOT NULL,
    PRIMARY KEY (patient_id, response_id)
);
-- "A patient's questionnaires" (the key leads with patient_id too; this one orders them by time)
CREATE INDEX IF NOT EXISTS questionnaires_patient_at ON questionnaires (patient_id, completed_at);
-- "Scores of one instrument over time"
CREATE INDEX IF NOT EXISTS questionnaires_instrument_at ON questionnaires (instrument, completed_at);
