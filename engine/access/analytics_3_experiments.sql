-- The analytics view of experiment assignments: each unit's arm of a journey's split (the unit: an instance) or of
-- the global holdout (the unit: a patient), over projections/experiments. Loaded by `careloop roles apply` after
-- analytics_2_engagement.sql, before the analysts' grants on the schema (engine/access/roles.py).
--
-- A split recorded by journey.branch_taken version 1 carries no salt or weights: they are read from the journey
-- version the instance ran (careloop_journey_definitions), which names the same experiment as its later draws.

DROP VIEW IF EXISTS analytics.experiment_assignments CASCADE;

-- weights: each arm's weight by arm name (the global holdout: holdout's share and treated's, in basis points), for
-- the sample-ratio check. age_band at the day of the assignment. instance_key: a split's instance
-- (analytics.journeys), NULL for the global holdout.
CREATE VIEW analytics.experiment_assignments AS
SELECT analytics.patient_key(a.patient_id, k.key) AS patient_key,
       CASE WHEN d.salt IS NOT NULL THEN a.journey_id || '/' || a.step_id || '@' || d.salt
            ELSE a.experiment_id END AS experiment_id,
       a.kind, a.journey_id, a.step_id, a.arm, a.holdout,
       coalesce(a.weights::jsonb, d.weights) AS weights,
       a.assigned_at,
       analytics.age_band(p.birth_date, analytics.local_date(a.assigned_at)) AS age_band,
       p.sex, p.tier,
       analytics.row_key('ik', a.instance_id, k.key) AS instance_key
FROM experiment_assignments a
CROSS JOIN careloop_analytics_key k
LEFT JOIN patient_profiles p ON p.patient_id = a.patient_id
LEFT JOIN LATERAL (
    -- only for a split whose draw was not recorded: its step in the journey version the instance ran
    SELECT coalesce(s.step -> 'split' ->> 'salt', '') AS salt,
           (SELECT jsonb_object_agg(w.arm_def ->> 'name', (w.arm_def ->> 'weight')::integer)
            FROM jsonb_array_elements(s.step -> 'split' -> 'arms') AS w(arm_def)) AS weights
    FROM journey_instances i
    JOIN careloop_journey_definitions j ON j.journey_id = i.journey_id AND j.version = i.journey_version
    CROSS JOIN LATERAL jsonb_array_elements(j.definition -> 'steps') AS s(step)
    WHERE a.kind = 'journey_split' AND a.salt IS NULL
      AND i.instance_id = a.instance_id AND s.step ->> 'id' = a.step_id
) d ON true;
