-- One row per patient: the demographics that identify nobody on their own. Never names, contacts or identifiers.
-- Read by the analytics schema (engine/access), which shows an age band, never the birth date.
CREATE TABLE IF NOT EXISTS patient_profiles (
    patient_id  text PRIMARY KEY,
    birth_date  date,                -- NULL: never given
    sex         text,                -- female, male, other, unknown; NULL: never given
    deceased_at timestamptz,         -- from patient.deceased
    merged_into text,                -- the surviving patient, once this one was merged into it
    updated_at  timestamptz NOT NULL -- when the event that last changed the row happened
);
-- The membership tier, from the patient's attributes["tier"] (added later: existing databases upgrade here).
ALTER TABLE patient_profiles ADD COLUMN IF NOT EXISTS tier text;  -- NULL: never given
