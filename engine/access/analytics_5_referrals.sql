-- The analytics view of referrals (issue 17): one row per referral, over the referrals read model
-- (projections/referrals) and the visits of analytics_1_visits.sql (careloop_analytics_visits, owner-only); loaded by
-- `careloop roles apply` after it, before the analysts' grants on the schema (engine/access/roles.py).
--
-- Privacy: both patients are analytics.patient_key (NULL when no member had the code, or the side was erased), the
-- claim a month. Never careloop's ids, the referral's id, the code (a pseudonym of the referrer's id) or the reasons.
-- DROP and CREATE (not CREATE OR REPLACE): a view's columns may change between versions.

DROP VIEW IF EXISTS analytics.referrals CASCADE;

-- status: claimed (waiting for the referrer's answer), accepted (waiting for the referee's first visit), attributed,
-- refused (refused_side and refusal_code say who and why). converted: the referee had a completed visit (an
-- encounter or a discharge) within 90 days of the claim.
CREATE VIEW analytics.referrals AS
SELECT analytics.patient_key(r.referrer_patient_id, k.key) AS referrer_key,
       analytics.patient_key(r.referee_patient_id, k.key) AS referee_key,
       r.status, r.refused_side, r.refused_code AS refusal_code,
       date_trunc('month', analytics.local_date(r.claimed_at))::date AS claimed_month,
       EXISTS (
           SELECT 1 FROM careloop_analytics_visits v
           WHERE v.patient_id = r.referee_patient_id AND v.kind IN ('encounter', 'discharge')
             AND v.visit_at >= r.claimed_at AND v.visit_at < r.claimed_at + interval '90 days'
       ) AS converted
FROM referrals r CROSS JOIN careloop_analytics_key k;
