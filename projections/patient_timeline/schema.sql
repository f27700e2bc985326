-- One row per clinical event and per readable engine decision.
CREATE TABLE IF NOT EXISTS patient_timeline (
    event_id   text PRIMARY KEY,
    patient_id text        NOT NULL,
    at         timestamptz NOT NULL,  -- when it happened; for message.requested, when the message is due
    journey_id text,                  -- NULL for clinical events
    step_id    text,
    kind       text        NOT NULL,  -- the event type, e.g. encounter.discharged, message.requested
    detail     text        NOT NULL DEFAULT '',
    reason     text        NOT NULL DEFAULT '',
    seq        bigint      NOT NULL   -- the event's place in the store's log: orders rows at the same moment
);
-- "A patient's timeline"
CREATE INDEX IF NOT EXISTS patient_timeline_patient_at ON patient_timeline (patient_id, at, seq);
