-- The sample-ratio check's counts: per experiment and arm, the distinct patients assigned by as_of (each one's first
-- assignment) and the expected number, the sum over those patients of their own row's weight fraction for the arm.
-- Patients merged into another are left out, as in experiment.sql.
WITH a AS (
    SELECT DISTINCT ON (x.experiment_id, x.patient_key) x.experiment_id, x.patient_key, x.arm, x.weights
    FROM analytics.experiment_assignments x
    WHERE x.assigned_at <= %(as_of)s AND (%(experiment)s::text IS NULL OR x.experiment_id = %(experiment)s::text)
      AND x.patient_key NOT IN (SELECT m.patient_key FROM analytics.patients m WHERE m.merged)
    ORDER BY x.experiment_id, x.patient_key, x.assigned_at
),
observed AS (
    SELECT experiment_id, arm, count(*) AS patients FROM a GROUP BY experiment_id, arm
),
expected AS (
    SELECT a.experiment_id, w.key AS arm,
           sum(w.value::numeric / (SELECT sum(t.value::numeric) FROM jsonb_each_text(a.weights) t)) AS expected,
           count(*) AS weighted
    FROM a CROSS JOIN LATERAL jsonb_each_text(a.weights) w
    WHERE jsonb_typeof(a.weights) = 'object'
    GROUP BY a.experiment_id, w.key
),
unweighted AS (
    SELECT experiment_id, count(*) FILTER (WHERE jsonb_typeof(weights) IS DISTINCT FROM 'object') AS patients
    FROM a GROUP BY experiment_id
)
SELECT coalesce(o.experiment_id, e.experiment_id) AS experiment, coalesce(o.arm, e.arm) AS arm,
       coalesce(o.patients, 0) AS patients, e.expected, uw.patients AS unweighted
FROM observed o
FULL JOIN expected e ON e.experiment_id = o.experiment_id AND e.arm = o.arm
JOIN unweighted uw ON uw.experiment_id = coalesce(o.experiment_id, e.experiment_id)
ORDER BY 1, 2
