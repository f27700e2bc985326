-- experiment.v1 (docs/reports.md): unit = patient, their first assignment to each experiment. For each journey the
-- patient entered (a split: its own journey only), the anchor is the patient's first instance of it (entry date).
-- The endpoint is the same for both arms and clinical, never the journey's outcome (a holdout arm ends at once):
-- revisit: a visit in (entry date, entry date + window]; followup: the follow-up episode of the discharge the
-- journey started from has its first visit before its 30-day window closes. A unit whose window has not ended by
-- as_of is open; one without an episode (followup) or with an excluded one is ineligible; neither is a unit.
-- A patient merged into another is left out (their record's journeys and arm went on under the survivor).
WITH a AS (
    SELECT DISTINCT ON (x.experiment_id, x.patient_key)
           x.experiment_id, x.journey_id AS split_journey, x.patient_key, x.arm, x.holdout, x.age_band, x.sex,
           x.tier, x.assigned_at
    FROM analytics.experiment_assignments x
    WHERE x.assigned_at <= %(as_of)s AND (%(experiment)s::text IS NULL OR x.experiment_id = %(experiment)s::text)
      AND x.patient_key NOT IN (SELECT m.patient_key FROM analytics.patients m WHERE m.merged)
    ORDER BY x.experiment_id, x.patient_key, x.assigned_at
),
first_entry AS (
    SELECT DISTINCT ON (j.patient_key, j.journey_id)
           j.patient_key, j.journey_id, j.entry_date, j.entry_at, j.entry_department, j.started_at
    FROM analytics.journeys j
    WHERE j.started_at <= %(as_of)s AND j.entry_date IS NOT NULL
    ORDER BY j.patient_key, j.journey_id, j.entry_at, j.started_at
),
units AS (
    SELECT a.experiment_id, a.patient_key, a.arm, a.holdout, a.age_band, a.sex, a.tier, f.journey_id AS journey,
           f.entry_date AS anchor_date, f.entry_at, f.entry_department AS department
    FROM a JOIN first_entry f ON f.patient_key = a.patient_key
        -- a split: its own journey; the global holdout: each journey whose first instance came with or after the
        -- draw (the draw is at the first journey start while it is configured: earlier ones were never held out)
        AND (f.journey_id = a.split_journey OR (a.split_journey IS NULL AND f.started_at >= a.assigned_at))
    WHERE (%(journey)s::text IS NULL OR f.journey_id = %(journey)s::text)
      AND (%(from)s::date IS NULL OR f.entry_date >= %(from)s::date)
      AND (%(to)s::date IS NULL OR f.entry_date <= %(to)s::date)
),
returned AS (
    SELECT DISTINCT un.experiment_id, un.patient_key, un.journey
    FROM units un
    JOIN analytics.visits v ON v.patient_key = un.patient_key AND v.visit_at <= %(as_of)s
        AND v.visit_date > un.anchor_date AND v.visit_date <= un.anchor_date + %(window)s::int
    WHERE %(endpoint)s = 'revisit'
),
episode AS (
    SELECT DISTINCT ON (un.experiment_id, un.patient_key, un.journey)
           un.experiment_id, un.patient_key, un.journey, e.excluded, e.window30_closes,
           e.first_visit_at < e.window30_closes AS followed
    FROM units un
    JOIN analytics.followup_episodes e ON e.patient_key = un.patient_key AND e.discharged_at = un.entry_at
    WHERE %(endpoint)s = 'followup'
    ORDER BY un.experiment_id, un.patient_key, un.journey, e.episode_key
),
u AS (
    SELECT un.*,
           CASE WHEN %(endpoint)s = 'revisit'
                THEN un.anchor_date + %(window)s::int >= analytics.local_date(%(as_of)s::timestamptz)
                ELSE coalesce(e.window30_closes > %(as_of)s, false) END AS open,
           %(endpoint)s = 'followup' AND (e.patient_key IS NULL OR e.excluded IS NOT NULL) AS ineligible,
           CASE WHEN %(endpoint)s = 'revisit' THEN r.patient_key IS NOT NULL
                ELSE coalesce(e.followed, false) END AS success
    FROM units un
    LEFT JOIN returned r USING (experiment_id, patient_key, journey)
    LEFT JOIN episode e USING (experiment_id, patient_key, journey)
)
SELECT u.experiment_id AS experiment, u.journey, {dims} u.arm, bool_and(u.holdout) AS holdout,
       count(*) FILTER (WHERE NOT u.open AND NOT u.ineligible) AS patients,
       count(*) FILTER (WHERE NOT u.open AND NOT u.ineligible AND u.success) AS successes,
       count(*) FILTER (WHERE u.open AND NOT u.ineligible) AS open,
       count(*) FILTER (WHERE u.ineligible) AS ineligible
FROM u {joins}
GROUP BY u.experiment_id, u.journey, {group_prefix} u.arm
