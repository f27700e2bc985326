-- Family doctor contracts by household (issue 18, design §2.4): the signing system exports one row per member, so
-- each member's stream carries their own family_contract.signed; a household is only the pseudonymous household_id
-- the rows share, grouped here for the care team. Relatives' links carry a household_id too (relationships).
CREATE TABLE IF NOT EXISTS household_members (
    contract_id  text        NOT NULL,
    patient_id   text        NOT NULL,
    household_id text        NOT NULL,
    role         text        NOT NULL,   -- holder (signed for the household) | member
    team         text        NOT NULL,   -- the family doctor team's code
    package      text,                   -- the service package's code
    starts_on    date        NOT NULL,
    ends_on      date        NOT NULL,   -- the contract's term
    signed_at    timestamptz NOT NULL,
    ended_at     timestamptz,            -- family_contract.ended (NULL: covered until ends_on)
    end_reason   text,                   -- the signing system's coded reason (expired, cancelled, ...)
    PRIMARY KEY (contract_id, patient_id)
);
CREATE INDEX IF NOT EXISTS household_members_household ON household_members (household_id);
CREATE INDEX IF NOT EXISTS household_members_team ON household_members (team, ends_on);
