-- The analytics view of check-in alerts (issue 18 §4): the alerts symptom diaries raised, with their statistic and
-- whether a task followed. Over the read models of projections/checkin_series and projections/tasks; loaded by
-- `careloop roles apply` after analytics_1_visits.sql (analytics.local_date), before the analysts' grants.
--
-- Privacy: patients are analytics.patient_key; days are the hospital's. Never careloop's ids, the responses' ids or
-- the values of a diary: only the statistic that raised an alert.
-- DROP and CREATE (not CREATE OR REPLACE): a view's columns may change between versions.

DROP VIEW IF EXISTS analytics.checkin_alerts CASCADE;

-- One row per check-in alert: the journey and step, the alert's name and kind, how many values it was computed over,
-- its statistic and threshold (JSON), the day, and whether a task followed (a task names the alert as evidence).
CREATE VIEW analytics.checkin_alerts AS
SELECT analytics.patient_key(a.patient_id, k.key) AS patient_key, a.journey_id, a.step_id, a.alert, a.kind,
       a.n_values, a.statistic::jsonb AS statistic, a.threshold::jsonb AS threshold,
       analytics.local_date(a.alerted_at) AS local_date,
       EXISTS (SELECT 1 FROM tasks t WHERE t.patient_id = a.patient_id AND t.evidence[1] = a.event_id) AS task_created
FROM checkin_alerts a CROSS JOIN careloop_analytics_key k;
