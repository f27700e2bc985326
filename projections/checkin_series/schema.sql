-- Check-in series (issue 18 §4): the values a journey's check-in step recorded, the asks left unanswered, and the
-- alerts the series raised with the values and statistic behind each. Numbers and ids only: the answers' free text
-- stays in questionnaire.completed. JSON is kept as text (a mapping needs no driver's wrapper); the analytics view
-- reads it as jsonb.

-- One row per ask of a check-in step: answered (value, answered_at, response_id) or missed.
CREATE TABLE IF NOT EXISTS checkin_series (
    instance_id  text        NOT NULL,
    step_id      text        NOT NULL,
    n            integer     NOT NULL,   -- the ask, counted from 1
    patient_id   text        NOT NULL,
    journey_id   text        NOT NULL,
    value        double precision,       -- NULL: the ask was missed
    answered_at  timestamptz,            -- when the patient answered (NULL: missed)
    response_id  text,                   -- the questionnaire.completed response (a second answer replaces the first)
    missed       boolean     NOT NULL,
    recorded_at  timestamptz NOT NULL,   -- when the engine recorded the answer or the miss
    event_id     text        NOT NULL,   -- checkin.recorded or checkin.missed
    PRIMARY KEY (instance_id, step_id, n)
);
CREATE INDEX IF NOT EXISTS checkin_series_patient ON checkin_series (patient_id, journey_id);

-- One row per alert a series raised (checkin.alerted), and where the instance went (the task step).
CREATE TABLE IF NOT EXISTS checkin_alerts (
    event_id     text PRIMARY KEY,        -- the checkin.alerted event: a task created on it names it as evidence
    patient_id   text        NOT NULL,
    instance_id  text        NOT NULL,
    journey_id   text        NOT NULL,
    step_id      text        NOT NULL,
    alert        text        NOT NULL,    -- the alert's name in the journey
    kind         text        NOT NULL,    -- rising, mean_above, missing
    n_values     integer     NOT NULL,    -- how many values the statistic was computed over
    first_value_at timestamptz,           -- the first and last of them (NULL: a missing alert has none)
    last_value_at  timestamptz,
    value_list   text        NOT NULL,    -- JSON: [{at, value, response_id}, ...] in order
    statistic    text        NOT NULL,    -- JSON: {tau, p_value, sen_slope_per_day}, {mean, count, within} or
                                          -- {missed_in_a_row}
    threshold    text        NOT NULL,    -- JSON: the alert's settings, e.g. {last: 5, alpha: 0.05, min_slope: 0.5}
    next_step_id text,
    alerted_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS checkin_alerts_patient ON checkin_alerts (patient_id, alerted_at);
