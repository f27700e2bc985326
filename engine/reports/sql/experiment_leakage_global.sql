-- The leakage check of the global holdout configured in the journeys file: held-out patients with a message the
-- holdout should have suppressed approved at or after their draw: of a held category (care, marketing), of a
-- journey not exempt, below the pre-empt priority (transactional, exempt and pre-empting messages reach held-out
-- patients by design). Any is a fault of the engine or the configuration, and the comparison is not clean.
SELECT x.experiment_id AS experiment,
       count(DISTINCT x.patient_key) AS patients,
       count(*) AS messages
FROM analytics.experiment_assignments x
JOIN analytics.messages m ON m.patient_key = x.patient_key
WHERE x.kind = 'global_holdout' AND x.holdout AND x.experiment_id = %(global_holdout)s::text
  AND x.assigned_at <= %(as_of)s
  AND m.approved_at >= x.assigned_at AND m.approved_at <= %(as_of)s
  AND m.category = ANY(%(held_categories)s::text[])
  AND NOT m.journey_id = ANY(%(exempt_journeys)s::text[])
  AND m.priority < %(preempt_priority)s::int
  AND (%(experiment)s::text IS NULL OR x.experiment_id = %(experiment)s::text)
GROUP BY x.experiment_id
ORDER BY 1
