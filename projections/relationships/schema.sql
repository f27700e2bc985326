-- A patient's relatives (issue 18, design §2): one row per link, on the patient it is about (the subject), and one
-- row per purpose and kind of information the subject's separate consent lets the relative receive. No name,
-- phone or address: a relative's contact is sealed under their relation key and kept by the dispatcher only.

CREATE TABLE IF NOT EXISTS relationships (
    patient_id         text        NOT NULL,   -- the subject
    relation_id        text        NOT NULL,   -- the link (a pseudonym, or derived from the related patient's id)
    role               text        NOT NULL,   -- guardian, parent, spouse, child, caregiver, emergency_contact, other
    role_code          text,                   -- the source's code (HL7 table 0063 'GRD', a FHIR code)
    role_system        text,
    legal_guardian     boolean     NOT NULL,
    related_patient_id text,                   -- the relative's own patient id, when they are a patient
    household_id       text,                   -- pseudonymous
    language           text,                   -- for messages to the relative
    timezone           text,
    since              date,
    recorded_at        timestamptz NOT NULL,   -- the latest relationship.recorded
    recorded_event_id  text        NOT NULL,
    delivery           text,                   -- also | instead: the latest consent's (NULL: never consented)
    active             boolean     NOT NULL,   -- false once ended or erased (a later record makes it active again)
    ended_at           timestamptz,            -- when the engine learnt the link ended (NULL: active)
    ended_on           date,                   -- the day the source says it ended, if it says
    end_reason         text,                   -- source_ended, subject_request, subject_erased, relative_deceased,
                                               -- relative_erased, relation_erased
    PRIMARY KEY (patient_id, relation_id)
);
CREATE INDEX IF NOT EXISTS relationships_related ON relationships (related_patient_id) WHERE related_patient_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS relationships_household ON relationships (household_id) WHERE household_id IS NOT NULL;

-- What the relative may receive: one row per purpose and kind of information granted and not withdrawn.
CREATE TABLE IF NOT EXISTS relationship_consents (
    patient_id   text        NOT NULL,
    relation_id  text        NOT NULL,
    purpose      text        NOT NULL,   -- care, transactional, marketing
    information  text        NOT NULL,   -- appointments, reminders, results, questionnaires, vaccinations, ...
    delivery     text        NOT NULL,   -- also | instead
    granted_by   text        NOT NULL,   -- patient | guardian
    basis_ref    text,                   -- the signed form's reference in the hospital's records
    expires_on   date,
    granted_at   timestamptz NOT NULL,
    event_id     text        NOT NULL,   -- the relationship.consent_granted (explain names it)
    PRIMARY KEY (patient_id, relation_id, purpose, information)
);
