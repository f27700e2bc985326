-- experiment.v1's units (docs/reports.md), one row each, for the report's counts (experiment.sql) and its curve of
-- time to return. Unit = patient, their first assignment to each experiment. For each journey the patient entered (a
-- split: its own journey only), the anchor is the patient's first instance of it (entry date); a staged rollout's
-- anchor is the instance its first draw started (the patient may have entered the journey before the rollout). The
-- endpoint is the same for both arms and clinical, never the journey's outcome (a holdout arm ends at once): revisit:
-- a visit in (entry date, entry date + window]; followup: the follow-up episode of the discharge the journey started
-- from has its first visit before its 30-day window closes. A unit whose window has not ended by as_of is open; one without
-- an episode (followup) or with an excluded one is ineligible; neither is counted as a unit.
-- A patient merged into another is left out (their record's journeys and arm went on under the survivor).
-- population triggered: only patients exposed by as_of (analytics.experiment_exposures: a message approved in the
-- treated arm, the logged counterfactual in the holdout arm); itt: every patient assigned.
-- return_days: days from the entry date to the first visit on a later date by as_of (NULL: none yet); observed_days:
-- days from the entry date to as_of's date, where a unit not yet returned is censored.
WITH a AS (
    SELECT DISTINCT ON (x.experiment_id, x.patient_key)
           x.experiment_id, x.kind, x.journey_id AS split_journey, x.instance_key, x.patient_key, x.arm, x.holdout,
           x.age_band, x.sex, x.tier, x.assigned_at
    FROM analytics.experiment_assignments x
    WHERE x.assigned_at <= %(as_of)s AND (%(experiment)s::text IS NULL OR x.experiment_id = %(experiment)s::text)
      AND x.patient_key NOT IN (SELECT m.patient_key FROM analytics.patients m WHERE m.merged)
    ORDER BY x.experiment_id, x.patient_key, x.assigned_at
),
first_entry AS (
    SELECT DISTINCT ON (j.patient_key, j.journey_id)
           'first' AS entry, j.patient_key, j.journey_id, j.entry_date, j.entry_at, j.entry_department, j.started_at,
           j.instance_key
    FROM analytics.journeys j
    WHERE j.started_at <= %(as_of)s AND j.entry_date IS NOT NULL
    ORDER BY j.patient_key, j.journey_id, j.entry_at, j.started_at
),
drawn_entry AS (
    SELECT 'drawn' AS entry, j.patient_key, j.journey_id, j.entry_date, j.entry_at, j.entry_department, j.started_at,
           j.instance_key
    FROM analytics.journeys j JOIN a ON a.instance_key = j.instance_key AND a.kind = 'journey_rollout'
    WHERE j.started_at <= %(as_of)s AND j.entry_date IS NOT NULL
),
units AS (
    SELECT a.experiment_id, a.patient_key, a.arm, a.holdout, a.age_band, a.sex, a.tier, f.journey_id AS journey,
           f.entry_date AS anchor_date, f.entry_at, f.entry_department AS department
    FROM a JOIN (SELECT * FROM first_entry UNION ALL SELECT * FROM drawn_entry) f ON f.patient_key = a.patient_key
        -- a rollout: the instance it drew; a split: its own journey; the global holdout: each journey whose first
        -- instance came with or after the draw (the draw is at the first journey start while it is configured:
        -- earlier ones were never held out)
        AND CASE WHEN a.kind = 'journey_rollout' THEN f.entry = 'drawn' AND f.instance_key = a.instance_key
                 ELSE f.entry = 'first' AND (f.journey_id = a.split_journey
                                             OR (a.split_journey IS NULL AND f.started_at >= a.assigned_at)) END
    WHERE (%(journey)s::text IS NULL OR f.journey_id = %(journey)s::text)
      AND (%(from)s::date IS NULL OR f.entry_date >= %(from)s::date)
      AND (%(to)s::date IS NULL OR f.entry_date <= %(to)s::date)
      AND (%(population)s = 'itt' OR EXISTS (
          SELECT 1 FROM analytics.experiment_exposures xe
          WHERE xe.experiment_id = a.experiment_id AND xe.patient_key = a.patient_key AND xe.exposed_at <= %(as_of)s))
),
next_visit AS (
    SELECT un.experiment_id, un.patient_key, un.journey, min(v.visit_date) AS return_date
    FROM units un
    JOIN analytics.visits v ON v.patient_key = un.patient_key AND v.visit_at <= %(as_of)s
        AND v.visit_date > un.anchor_date
    GROUP BY un.experiment_id, un.patient_key, un.journey
),
episode AS (
    SELECT DISTINCT ON (un.experiment_id, un.patient_key, un.journey)
           un.experiment_id, un.patient_key, un.journey, e.excluded, e.window30_closes,
           e.first_visit_at < e.window30_closes AS followed
    FROM units un
    JOIN analytics.followup_episodes e ON e.patient_key = un.patient_key AND e.discharged_at = un.entry_at
    WHERE %(endpoint)s = 'followup'
    ORDER BY un.experiment_id, un.patient_key, un.journey, e.episode_key
)
SELECT un.*,
       CASE WHEN %(endpoint)s = 'revisit'
            THEN un.anchor_date + %(window)s::int >= analytics.local_date(%(as_of)s::timestamptz)
            ELSE coalesce(e.window30_closes > %(as_of)s, false) END AS open,
       %(endpoint)s = 'followup' AND (e.patient_key IS NULL OR e.excluded IS NOT NULL) AS ineligible,
       CASE WHEN %(endpoint)s = 'revisit' THEN coalesce(nv.return_date <= un.anchor_date + %(window)s::int, false)
            ELSE coalesce(e.followed, false) END AS success,
       nv.return_date - un.anchor_date AS return_days,
       analytics.local_date(%(as_of)s::timestamptz) - un.anchor_date AS observed_days
FROM units un
LEFT JOIN next_visit nv USING (experiment_id, patient_key, journey)
LEFT JOIN episode e USING (experiment_id, patient_key, journey)
