-- Loyalty members (issue 17). The balances are not written as numbers but summed from the moves each ledger entry
-- made (projections.loyalty_members.projection: a projection's row operations set values and never add to them), so
-- `loyalty_members` is a view over three tables the runner owns; projections/loyalty_members/balances.py is its
-- in-memory twin.

-- One row per member: what the enrolment and the tier decisions set.
CREATE TABLE IF NOT EXISTS loyalty_memberships (
    patient_id        text PRIMARY KEY,
    programme_version integer     NOT NULL,
    enrolled_at       timestamptz NOT NULL,
    tier              text        NOT NULL,   -- the level's id in journeys.yaml
    tier_since        timestamptz NOT NULL,
    requalify_at      timestamptz,            -- NULL on the base level
    zone              text,                   -- the time zone of the member's last earning (its expiry's zone)
    referral_code     text,                   -- as loyalty.enrolled recorded it; NULL without referrals
    updated_at        timestamptz NOT NULL    -- the last event that changed the member's tier, points or badges
);

-- One row per ledger entry, reduced to what it moves: the member's available and pending points, and the points
-- left in its batch. The entry that opens a batch carries the batch's expiry.
CREATE TABLE IF NOT EXISTS loyalty_points_moves (
    event_id   text    NOT NULL,   -- the engine event that recorded the entry
    n          integer NOT NULL,   -- the entry's place among the event's entries
    patient_id text    NOT NULL,
    batch_id   text,               -- NULL: points owed beyond the batches (a debt)
    available  integer NOT NULL,   -- signed change of the available points
    pending    integer NOT NULL,   -- signed change of the pending points
    remaining  integer NOT NULL,   -- signed change of the redeemable points left in the batch
    expires_at timestamptz,        -- set on the entry that opens the batch; NULL otherwise or never expiring
    PRIMARY KEY (event_id, n)
);
CREATE INDEX IF NOT EXISTS loyalty_points_moves_patient ON loyalty_points_moves (patient_id, batch_id);

-- One row per badge a member was awarded.
CREATE TABLE IF NOT EXISTS loyalty_badges (
    patient_id text        NOT NULL,
    badge_id   text        NOT NULL,
    awarded_at timestamptz NOT NULL,
    event_id   text        NOT NULL,   -- the badge.awarded event
    PRIMARY KEY (patient_id, badge_id)
);

-- What the loyalty desk reads: one row per member. available can be below zero only where the programme allows a
-- negative balance; next_expiry_* are the soonest expiry of a batch with points left (pending or available) and the
-- points of every batch expiring then (NULL: nothing will expire).
CREATE OR REPLACE VIEW loyalty_members AS
SELECT m.patient_id, m.programme_version, m.enrolled_at, m.tier, m.tier_since, m.requalify_at,
       coalesce(b.available, 0)::integer AS available, coalesce(b.pending, 0)::integer AS pending,
       x.next_expiry_at, x.next_expiry_points::integer AS next_expiry_points,
       coalesce(g.badges, '{}'::text[]) AS badges, m.zone, m.referral_code, m.updated_at
FROM loyalty_memberships m
LEFT JOIN LATERAL (
    SELECT sum(v.available) AS available, sum(v.pending) AS pending
    FROM loyalty_points_moves v WHERE v.patient_id = m.patient_id
) b ON true
LEFT JOIN LATERAL (
    SELECT q.expires_at AS next_expiry_at, sum(q.remaining) AS next_expiry_points
    FROM (
        SELECT max(v.expires_at) AS expires_at, sum(v.remaining) AS remaining
        FROM loyalty_points_moves v
        WHERE v.patient_id = m.patient_id AND v.batch_id IS NOT NULL
        GROUP BY v.batch_id
    ) q
    WHERE q.remaining > 0 AND q.expires_at IS NOT NULL
    GROUP BY q.expires_at ORDER BY q.expires_at LIMIT 1
) x ON true
LEFT JOIN LATERAL (
    SELECT array_agg(d.badge_id ORDER BY d.badge_id) AS badges FROM loyalty_badges d WHERE d.patient_id = m.patient_id
) g ON true;
