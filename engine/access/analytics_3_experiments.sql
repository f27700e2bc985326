-- The analytics view of experiment assignments: each unit's arm of a journey's split or of a staged rollout of a
-- journey version (the unit: an instance) or of the global holdout (the unit: a patient), over
-- projections/experiments. Loaded by `careloop roles apply` after
-- analytics_2_engagement.sql, before the analysts' grants on the schema (engine/access/roles.py).
--
-- A split recorded by journey.branch_taken version 1 carries no salt or weights: they are read from the journey
-- version the instance ran (careloop_journey_definitions), which names the same experiment as its later draws.

DROP VIEW IF EXISTS analytics.experiment_assignments, analytics.experiment_exposures, analytics.experiments CASCADE;

-- The global holdouts as deployed (careloop_experiments, recorded by the worker's deployment, engine/store/
-- experiments.py): kept after the journeys file stops configuring one (switched_off_at), so old assignments keep
-- their definition. The salt is no patient data: with it an analyst can redraw an arm (engine/journeys/assignment.py).
-- A split's definition is its journey version's step (journey_id/step_id@salt), not listed here.
CREATE VIEW analytics.experiments AS
SELECT e.id, e.kind, e.salt, e.share_bp, e.categories, e.exempt_journeys, e.preempt_priority,
       e.first_deployed_at, e.updated_at, e.switched_off_at
FROM careloop_experiments e;

-- weights: each arm's weight by arm name (the global holdout: holdout's share and treated's, in basis points; a
-- rollout: candidate's share and stable's, in basis points), for the sample-ratio check. age_band at the day of the
-- assignment. instance_key: a split's or a rollout's instance (analytics.journeys), NULL for the global holdout.
-- A rollout (kind journey_rollout): experiment_id '<journey>@v<candidate version>/<salt>', arms candidate and stable,
-- holdout = stable (the version every other new entry starts on), step_id NULL.
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

-- Each patient's first exposure to each experiment after their first assignment to it: what the triggered analysis
-- counts (careloop report experiment --population triggered). The treated arm's exposure is a message approved
-- at or after the draw: of an assigned instance (a split), or one the global holdout would have held back, by its
-- recorded configuration (careloop_experiments): of a held category, not of an exempt journey, below the pre-empt
-- priority (a message projected before priorities were, priority NULL, counts), before the holdout was switched off.
-- A holdout the database has no record of (switched off before careloop recorded them) counts care and marketing.
-- The holdout arm's is its logged counterfactual: the split's holdout arm reached (journey_steps), or a message
-- suppressed by the global holdout (policy_rule holdout, at its request: the moment it would have been approved).
-- A patient never exposed has no row. exposure: approved, holdout_arm or suppressed; message_key: its message.
-- A staged rollout (journey_rollout) has no exposure defined yet: its patients have no row here, and the experiment
-- report refuses --population triggered for it.
CREATE VIEW analytics.experiment_exposures AS
WITH a AS (
    SELECT x.patient_id, x.kind, x.step_id, x.instance_id, x.arm, x.holdout, x.assigned_at,
           CASE WHEN d.salt IS NOT NULL THEN x.journey_id || '/' || x.step_id || '@' || d.salt
                ELSE x.experiment_id END AS experiment_id
    FROM experiment_assignments x
    LEFT JOIN LATERAL (
        -- as in analytics.experiment_assignments: a split whose draw was not recorded (journey.branch_taken v1)
        SELECT coalesce(s.step -> 'split' ->> 'salt', '') AS salt
        FROM journey_instances i
        JOIN careloop_journey_definitions j ON j.journey_id = i.journey_id AND j.version = i.journey_version
        CROSS JOIN LATERAL jsonb_array_elements(j.definition -> 'steps') AS s(step)
        WHERE x.kind = 'journey_split' AND x.salt IS NULL
          AND i.instance_id = x.instance_id AND s.step ->> 'id' = x.step_id
    ) d ON true
),
first_draw AS (
    SELECT DISTINCT ON (a.experiment_id, a.patient_id) a.experiment_id, a.patient_id, a.kind, a.arm, a.holdout,
           a.assigned_at
    FROM a
    ORDER BY a.experiment_id, a.patient_id, a.assigned_at
),
exposed AS (
    SELECT a.experiment_id, a.patient_id, m.approved_at AS exposed_at, 'approved' AS exposure, m.journey_id,
           m.message_id
    FROM a JOIN reminder_queue m ON m.instance_id = a.instance_id AND m.approved_at >= a.assigned_at
    WHERE a.kind = 'journey_split' AND NOT a.holdout
    UNION ALL
    SELECT a.experiment_id, a.patient_id, s.at, 'holdout_arm', s.journey_id, NULL
    FROM a JOIN journey_steps s ON s.patient_id = a.patient_id AND s.instance_id = a.instance_id
        AND s.kind = 'journey.branch_taken' AND s.step_id = a.step_id AND s.branch = a.arm
    WHERE a.kind = 'journey_split' AND a.holdout
    UNION ALL
    SELECT a.experiment_id, a.patient_id, m.approved_at, 'approved', m.journey_id, m.message_id
    FROM a JOIN reminder_queue m ON m.patient_id = a.patient_id AND m.approved_at >= a.assigned_at
    LEFT JOIN careloop_experiments c ON c.id = a.experiment_id
    WHERE a.kind = 'global_holdout' AND NOT a.holdout
      AND m.category = ANY(coalesce(c.categories, ARRAY['care', 'marketing']))
      AND NOT m.journey_id = ANY(coalesce(c.exempt_journeys, ARRAY[]::text[]))
      AND NOT coalesce(m.priority >= c.preempt_priority, false)
      AND (c.switched_off_at IS NULL OR m.approved_at < c.switched_off_at)
    UNION ALL
    SELECT a.experiment_id, a.patient_id, m.requested_at, 'suppressed', m.journey_id, m.message_id
    FROM a JOIN reminder_queue m ON m.patient_id = a.patient_id AND m.requested_at >= a.assigned_at
        AND m.status = 'suppressed' AND m.policy_rule = 'holdout'
    WHERE a.kind = 'global_holdout' AND a.holdout
)
SELECT DISTINCT ON (f.experiment_id, f.patient_id)
       analytics.patient_key(f.patient_id, k.key) AS patient_key,
       f.experiment_id, f.kind, f.arm, f.holdout, f.assigned_at,
       e.journey_id, e.exposure, e.exposed_at,
       analytics.row_key('mk', e.message_id, k.key) AS message_key
FROM first_draw f
JOIN exposed e ON e.experiment_id = f.experiment_id AND e.patient_id = f.patient_id AND e.exposed_at >= f.assigned_at
CROSS JOIN careloop_analytics_key k
ORDER BY f.experiment_id, f.patient_id, e.exposed_at, e.message_id;
