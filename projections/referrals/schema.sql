-- Referrals (issue 17, design §6 and §9). Codes are pseudonyms of patient ids: they stay in these tables (read by
-- the intakes, to resolve a code, and by the loyalty desk), never in analytics.

-- One row per member's referral code (written on loyalty.enrolled). The second key is the upsert's arbiter: the same
-- member enrolled again changes nothing, while another patient with the same code (a 60-bit collision) breaks the
-- primary key and stops the projection loudly instead of pointing the code at someone else.
CREATE TABLE IF NOT EXISTS referral_codes (
    code       text PRIMARY KEY,   -- the printed form, e.g. K7QM-2XRP-9D4T
    patient_id text NOT NULL,
    UNIQUE (code, patient_id)
);

-- One row per referral (a referee's claim of a code), both sides' decisions on it. patient_id is the referee, whose
-- claim it is; erasing either patient sets their side to NULL and keeps the other side's row.
CREATE TABLE IF NOT EXISTS referrals (
    referral_id         text PRIMARY KEY,   -- deterministic_id(referee, code)
    patient_id          text,               -- the referee (NULL once erased)
    code                text        NOT NULL,
    referrer_patient_id text,               -- NULL: no member had the code, or the referrer was erased
    referee_patient_id  text,               -- NULL once erased
    claimed_at          timestamptz NOT NULL,   -- the claim (or the refused attempt)
    accepted_at         timestamptz,            -- the referrer's side accepted
    attributed_at       timestamptz,            -- the referee was attributed (and rewarded)
    status              text        NOT NULL,   -- claimed, accepted, attributed, refused
    refused_side        text,                   -- referee, referrer
    refused_code        text,                   -- unknown_code, self_referral, already_referred, code_used_up, ...
    reason              text        NOT NULL    -- the last decision's reason, in words
);
-- "Whose referrals": the referrer's referees, a patient's own claim
CREATE INDEX IF NOT EXISTS referrals_referrer ON referrals (referrer_patient_id);
CREATE INDEX IF NOT EXISTS referrals_referee ON referrals (referee_patient_id);
