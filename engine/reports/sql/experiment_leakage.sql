-- The leakage check of splits: patients of a split's holdout arm whose instance had a message approved after the
-- draw. A holdout arm sends nothing, so any is a fault of the journey or the engine, and the comparison is not
-- clean. (The global holdout's is not checked here: its transactional, exempt-journey and pre-empting messages are
-- approved by design, and analytics.messages carries no priority to tell them apart.)
SELECT x.experiment_id AS experiment,
       count(DISTINCT x.patient_key) AS patients,
       count(*) AS messages
FROM analytics.experiment_assignments x
JOIN analytics.messages m ON m.instance_key = x.instance_key
WHERE x.kind = 'journey_split' AND x.holdout AND x.assigned_at <= %(as_of)s
  AND m.approved_at > x.assigned_at AND m.approved_at <= %(as_of)s
  AND (%(experiment)s::text IS NULL OR x.experiment_id = %(experiment)s::text)
GROUP BY x.experiment_id
ORDER BY 1
