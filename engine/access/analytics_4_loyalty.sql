-- The analytics views of the loyalty programme (issue 17): members with their tier and balances, every points
-- entry, and the tier changes. Over the read models of projections/loyalty_members (its loyalty_members view) and
-- projections/loyalty_ledger; loaded by `careloop roles apply` after analytics_1_visits.sql (analytics.local_date)
-- and before the analysts' grants on the schema (engine/access/roles.py).
--
-- Privacy: patients are analytics.patient_key; days are the hospital's (analytics.local_date), enrolment a month.
-- Never careloop's ids, the ids of the events that caused an entry (a visit, a cancellation, a desk's request),
-- the desk's references, the ledger's reasons (free text staff read) or a member's referral code.
-- DROP and CREATE (not CREATE OR REPLACE): a view's columns may change between versions.

DROP VIEW IF EXISTS analytics.loyalty_members, analytics.points_entries, analytics.tier_changes CASCADE;

-- One row per member. available and pending are redeemable points (available below zero only where the programme
-- allows a negative balance); next_expiry_*: the soonest day points expire and how many (NULL: none will);
-- badges: the badge ids awarded.
CREATE VIEW analytics.loyalty_members AS
SELECT analytics.patient_key(m.patient_id, k.key) AS patient_key, m.programme_version, m.tier,
       analytics.local_date(m.tier_since) AS tier_since_date, m.available, m.pending,
       analytics.local_date(m.next_expiry_at) AS next_expiry_date, m.next_expiry_points, m.badges,
       date_trunc('month', analytics.local_date(m.enrolled_at))::date AS enrolled_month
FROM loyalty_members m CROSS JOIN careloop_analytics_key k;

-- Every ledger entry: kind (earned, pending-earned, became-available, spent, expired, reversed, pending-reversed,
-- adjusted, debt-repaid), signed points, which balances it moves, and the rule, reward or badge it comes from.
CREATE VIEW analytics.points_entries AS
SELECT analytics.patient_key(e.patient_id, k.key) AS patient_key, analytics.local_date(e.at) AS local_date,
       e.kind, e.points, e.redeemable, e.qualifying, e.rule_id, e.reward_id, e.badge_id, e.event_type
FROM points_entries e CROSS JOIN careloop_analytics_key k;

-- Every tier change, up (qualified, or a tier_upgrade reward: redeemed) or down (not_requalified), with the
-- qualifying points compared and the threshold; a requalification that kept the tier is not a change.
CREATE VIEW analytics.tier_changes AS
SELECT analytics.patient_key(t.patient_id, k.key) AS patient_key, analytics.local_date(t.at) AS local_date,
       t.from_tier, t.to_tier, t.direction, t.cause, t.qualifying, t.threshold
FROM tier_history t CROSS JOIN careloop_analytics_key k
WHERE t.direction IN ('up', 'down');
