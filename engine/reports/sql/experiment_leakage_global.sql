-- The leakage check of the global holdouts: held-out patients with a message the holdout should have suppressed
-- approved at or after their draw: of a held category (care, marketing), of a journey not exempt, below the pre-empt
-- priority (transactional, exempt and pre-empting messages reach held-out patients by design), before the holdout
-- was switched off. Any is a fault of the engine or the configuration, and the comparison is not clean.
-- Each holdout's configuration is the one its deployments recorded (analytics.experiments: also one the journeys
-- file no longer has); the journeys file's (%(global_holdout)s ...) only for a holdout the database has no record of.
WITH config AS (
    SELECT e.id, e.categories, e.exempt_journeys, e.preempt_priority, e.switched_off_at
    FROM analytics.experiments e
    WHERE e.kind = 'global_holdout'
    UNION ALL
    SELECT %(global_holdout)s::text, %(held_categories)s::text[], %(exempt_journeys)s::text[],
           %(preempt_priority)s::int, NULL::timestamptz
    WHERE %(global_holdout)s::text IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM analytics.experiments e WHERE e.id = %(global_holdout)s::text)
)
SELECT x.experiment_id AS experiment,
       count(DISTINCT x.patient_key) AS patients,
       count(*) AS messages
FROM analytics.experiment_assignments x
JOIN config c ON c.id = x.experiment_id
JOIN analytics.messages m ON m.patient_key = x.patient_key
WHERE x.kind = 'global_holdout' AND x.holdout
  AND x.assigned_at <= %(as_of)s
  AND m.approved_at >= x.assigned_at AND m.approved_at <= %(as_of)s
  AND (c.switched_off_at IS NULL OR m.approved_at < c.switched_off_at)
  AND m.category = ANY(c.categories)
  AND NOT m.journey_id = ANY(c.exempt_journeys)
  AND m.priority < c.preempt_priority
  AND (%(experiment)s::text IS NULL OR x.experiment_id = %(experiment)s::text)
GROUP BY x.experiment_id
ORDER BY 1
