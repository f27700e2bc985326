-- The loyalty and referral read models as issue 17's contract names them (/work/notes/issue17-contract2.md, "Read
-- models"): the columns the desk reads, as plain tables a test can fill. Stand-ins until the projections
-- (projections/loyalty_members, loyalty_ledger, referrals) are in the catalog: then `careloop roles apply` creates
-- theirs, and these are not made.
CREATE TABLE IF NOT EXISTS loyalty_members (
    patient_id text PRIMARY KEY, programme_version integer NOT NULL, enrolled_at timestamptz NOT NULL,
    tier text NOT NULL, tier_since timestamptz, requalify_at timestamptz, available integer NOT NULL,
    pending integer NOT NULL, next_expiry_at timestamptz, next_expiry_points integer, badges text[] NOT NULL,
    privileges text[], zone text, updated_at timestamptz
);
CREATE TABLE IF NOT EXISTS points_entries (
    event_id text NOT NULL, n integer NOT NULL, patient_id text NOT NULL, at timestamptz NOT NULL, kind text NOT NULL,
    batch_id text, points integer NOT NULL, redeemable boolean NOT NULL, qualifying boolean NOT NULL, rule_id text,
    reward_id text, cause_event_id text, reason text NOT NULL, PRIMARY KEY (event_id, n)
);
CREATE TABLE IF NOT EXISTS tier_history (
    event_id text PRIMARY KEY, patient_id text NOT NULL, at timestamptz NOT NULL, from_tier text, to_tier text,
    direction text, cause text, qualifying integer, threshold integer, requalify_at timestamptz
);
CREATE TABLE IF NOT EXISTS loyalty_requests (
    request_event_id text PRIMARY KEY, patient_id text NOT NULL, kind text NOT NULL, ref text NOT NULL,
    reward_id text, status text NOT NULL, code text, points integer, available_after integer, reason text NOT NULL,
    decided_at timestamptz NOT NULL, decision_event_id text NOT NULL
);
CREATE TABLE IF NOT EXISTS referral_codes (code text PRIMARY KEY, patient_id text NOT NULL);
CREATE TABLE IF NOT EXISTS referrals (
    referral_id text PRIMARY KEY, code text, referrer_patient_id text, referee_patient_id text,
    claimed_at timestamptz, accepted_at timestamptz, attributed_at timestamptz, status text, refused_side text,
    refused_code text, reason text
);
