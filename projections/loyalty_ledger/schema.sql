-- The loyalty ledger (issue 17): one row per ledger entry the engine recorded, the tier decisions, and one row per
-- redemption or adjustment request once the engine decided it (the loyalty desk polls it for its request's id).

CREATE TABLE IF NOT EXISTS points_entries (
    event_id       text        NOT NULL,   -- the engine event that recorded the entry
    n              integer     NOT NULL,   -- the entry's place among the event's entries
    patient_id     text        NOT NULL,
    entry_id       text        NOT NULL,   -- the ledger's own id (e1, e2, ... per member)
    event_type     text        NOT NULL,   -- points.earned, points.spent, badge.awarded...
    at             timestamptz NOT NULL,   -- when the entry took effect (a release: the batch's available_at)
    kind           text        NOT NULL,   -- earned, pending-earned, became-available, spent, expired, reversed,
                                           -- pending-reversed, adjusted, debt-repaid
    batch_id       text,                   -- NULL: points owed beyond the batches (a debt)
    points         integer     NOT NULL,   -- signed
    redeemable     boolean     NOT NULL,   -- whether it moves the points a member can spend
    qualifying     boolean     NOT NULL,   -- whether it moves the points that count towards tiers
    rule_id        text,                   -- the earning rule (points.earned, points.reversed)
    reward_id      text,                   -- the reward spent on (points.spent)
    badge_id       text,                   -- the badge whose points these are (badge.awarded)
    cause_event_id text,                   -- the earning's cause, the cancelling event, or the staff's request
    reason         text        NOT NULL,   -- the ledger's words; never patient-identifying
    PRIMARY KEY (event_id, n)
);
CREATE INDEX IF NOT EXISTS points_entries_patient_at ON points_entries (patient_id, at);

-- One row per tier decision: a change up or down, or a requalification that kept the tier (direction 'kept').
CREATE TABLE IF NOT EXISTS tier_history (
    event_id     text PRIMARY KEY,   -- the tier.changed or tier.kept event
    patient_id   text        NOT NULL,
    at           timestamptz NOT NULL,
    from_tier    text        NOT NULL,
    to_tier      text        NOT NULL,
    direction    text        NOT NULL,   -- up, down, kept
    cause        text        NOT NULL,   -- qualified, not_requalified, redeemed; requalified when kept
    qualifying   integer     NOT NULL,   -- the qualifying points compared
    threshold    integer,                -- the entry or keep threshold they were compared with; NULL: none applied
    requalify_at timestamptz             -- the next requalification; NULL on the base level
);
CREATE INDEX IF NOT EXISTS tier_history_patient_at ON tier_history (patient_id, at);

-- One row per redemption or adjustment request the engine decided, keyed by the request's event id.
CREATE TABLE IF NOT EXISTS loyalty_requests (
    request_event_id  text PRIMARY KEY,
    patient_id        text        NOT NULL,
    kind              text        NOT NULL,   -- redemption, adjustment
    ref               text        NOT NULL,   -- the caller's reference (a redemption's ref, an adjustment's id)
    reward_id         text,                   -- redemptions only
    status            text        NOT NULL,   -- spent, refused, adjusted, repeated
    code              text,                   -- the refusal's code; NULL otherwise
    points            integer,                -- spent, or signed adjusted; a refused redemption: the points needed
    available_after   integer,                -- available points after the decision, where the event says
    reason            text        NOT NULL,
    decided_at        timestamptz NOT NULL,
    decision_event_id text        NOT NULL
);
CREATE INDEX IF NOT EXISTS loyalty_requests_patient ON loyalty_requests (patient_id, decided_at);
