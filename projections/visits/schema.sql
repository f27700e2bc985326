-- Facts about visits, kept by the visits projection (projections/visits). Metrics that compare one fact with another
-- (follow-up within 30 days, revisits) are views over these tables: engine/access/analytics_1_visits.sql.
-- Never free text: diagnosis codes without their display, no appointment reason beyond the service code.

-- One row per encounter (the source's encounter id, per patient): each event sets the columns it gives.
CREATE TABLE IF NOT EXISTS encounters (
    patient_id      text NOT NULL,
    encounter_id    text NOT NULL,
    encounter_class text NOT NULL,  -- inpatient, outpatient, emergency, ambulatory, day_surgery, virtual, other
    department      text,
    clinician       text,           -- as the source names them: the analytics views never show it
    admitted_at     timestamptz,    -- encounter.admitted, or the admitted_at a discharge carries
    discharged_at   timestamptz,    -- encounter.discharged (a later discharge of the same encounter corrects it)
    completed_at    timestamptz,    -- encounter.completed (an outpatient or ambulatory visit finished)
    disposition     text,           -- the discharge disposition: home, transfer, expired, ...
    cancelled_at    timestamptz,    -- encounter.cancelled; a later admission, discharge or completion clears it
    event_id        text NOT NULL,  -- the event that last changed the row
    updated_at      timestamptz NOT NULL,  -- when that event happened
    PRIMARY KEY (patient_id, encounter_id)
);
-- "A patient's stays and visits in time": the follow-up and revisit views look for the next one
CREATE INDEX IF NOT EXISTS encounters_patient_discharged ON encounters (patient_id, discharged_at);
CREATE INDEX IF NOT EXISTS encounters_patient_admitted ON encounters (patient_id, admitted_at);

-- The diagnosis codes the encounter's events carried (never their display text). A correction that drops a code
-- keeps the row: codes are only added.
CREATE TABLE IF NOT EXISTS encounter_diagnoses (
    patient_id   text NOT NULL,
    encounter_id text NOT NULL,
    system       text NOT NULL,  -- canonical: icd-10, snomed, loinc, ... (FHIR URIs mapped as value sets map them)
    code         text NOT NULL,
    PRIMARY KEY (patient_id, encounter_id, system, code)
);

-- One row per condition (condition.diagnosed; a later one with the same id replaces it).
CREATE TABLE IF NOT EXISTS conditions (
    patient_id      text NOT NULL,
    condition_id    text NOT NULL,
    system          text NOT NULL,  -- canonical, as in encounter_diagnoses
    code            text NOT NULL,
    clinical_status text NOT NULL,  -- active, recurrence, relapse, inactive, remission, resolved
    diagnosed_at    timestamptz NOT NULL,
    PRIMARY KEY (patient_id, condition_id)
);
CREATE INDEX IF NOT EXISTS conditions_patient_diagnosed ON conditions (patient_id, diagnosed_at);

-- One row per appointment: booked, moved, cancelled, missed or attended.
CREATE TABLE IF NOT EXISTS appointments (
    patient_id     text NOT NULL,
    appointment_id text NOT NULL,
    department     text,
    clinician      text,            -- as the source names them: the analytics views never show it
    service        text,
    booked_at      timestamptz,     -- appointment.booked (NULL when the feed never sent the booking)
    start_at       timestamptz NOT NULL,  -- the scheduled start, moved by a reschedule
    status         text NOT NULL,   -- booked, rescheduled, cancelled, no_show, attended: the latest event's
    rescheduled_at timestamptz,
    cancelled_at   timestamptz,
    no_show_at     timestamptz,
    attended_at    timestamptz,
    PRIMARY KEY (patient_id, appointment_id)
);
CREATE INDEX IF NOT EXISTS appointments_patient_attended ON appointments (patient_id, attended_at);
