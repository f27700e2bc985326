-- The analytics views of calendar campaigns (issue 18): per campaign, season and arm, who was invited, booked and
-- attended (per visit), and who came back the next season. Over the read model of projections/calendar_campaigns;
-- loaded by `careloop roles apply` after analytics_1_visits.sql (analytics.local_date), before the analysts' grants
-- on the schema (engine/access/roles.py).
--
-- Privacy: patients are analytics.patient_key; days are the hospital's (analytics.local_date). Never careloop's ids,
-- the instances' or the matched events' ids, or the audience conditions that failed (they may quote a condition's
-- values).
-- DROP and CREATE (not CREATE OR REPLACE): a view's columns may change between versions.

DROP VIEW IF EXISTS analytics.campaign_participants, analytics.campaign_attendance CASCADE;

-- One row per patient a campaign's date reached in a season: outcome (entered, not_in_audience, deceased,
-- not_deployed, already_entered; scheduled or held while the date is to come), the split's arm and whether it is
-- the holdout, booked, how many visits attended, and returned: attended a visit the next season.
CREATE VIEW analytics.campaign_participants AS
SELECT p.journey_id, p.season, analytics.patient_key(p.patient_id, k.key) AS patient_key, p.outcome,
       p.occurrence, analytics.local_date(p.reached_at) AS reached_date, p.arm, coalesce(p.holdout, false) AS holdout,
       p.booked_at IS NOT NULL AS booked,
       (SELECT count(*) FROM campaign_visits v
        WHERE v.journey_id = p.journey_id AND v.season = p.season AND v.patient_id = p.patient_id)::integer
           AS visits_attended,
       EXISTS (SELECT 1 FROM campaign_visits v
               WHERE v.journey_id = p.journey_id AND v.season = p.season + 1 AND v.patient_id = p.patient_id)
           AS returned_next_season
FROM campaign_participants p CROSS JOIN careloop_analytics_key k;

-- Per campaign, season and arm: invited (entered the journey; the holdout arm is entered and not messaged), booked,
-- attended at least one visit, attended each visit (visits: {visit: patients}), and returned the next season.
CREATE VIEW analytics.campaign_attendance AS
WITH entered AS (
    SELECT p.journey_id, p.season, p.patient_id, coalesce(p.arm, '') AS arm, coalesce(p.holdout, false) AS holdout,
           p.booked_at IS NOT NULL AS booked,
           EXISTS (SELECT 1 FROM campaign_visits v
                   WHERE v.journey_id = p.journey_id AND v.season = p.season AND v.patient_id = p.patient_id) AS attended,
           EXISTS (SELECT 1 FROM campaign_visits v
                   WHERE v.journey_id = p.journey_id AND v.season = p.season + 1 AND v.patient_id = p.patient_id)
               AS returned
    FROM campaign_participants p
    WHERE p.outcome = 'entered'
), per_visit AS (
    SELECT e.journey_id, e.season, e.arm, v.visit, count(*)::integer AS patients
    FROM entered e
    JOIN campaign_visits v ON v.journey_id = e.journey_id AND v.season = e.season AND v.patient_id = e.patient_id
    GROUP BY e.journey_id, e.season, e.arm, v.visit
)
SELECT e.journey_id, e.season, e.arm, bool_or(e.holdout) AS holdout, count(*)::integer AS entered,
       count(*) FILTER (WHERE e.booked)::integer AS booked, count(*) FILTER (WHERE e.attended)::integer AS attended,
       coalesce((SELECT jsonb_object_agg(x.visit, x.patients) FROM per_visit x
                 WHERE x.journey_id = e.journey_id AND x.season = e.season AND x.arm = e.arm), '{}'::jsonb) AS visits,
       count(*) FILTER (WHERE e.returned)::integer AS returned_next_season
FROM entered e
GROUP BY e.journey_id, e.season, e.arm;
