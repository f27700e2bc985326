-- experiment.v1 (docs/reports.md): per experiment, journey and arm, the units (experiment_units.sql) whose window
-- has ended and who are eligible, those with the endpoint, the open and the ineligible.
WITH u AS (
{units}
)
SELECT u.experiment_id AS experiment, u.journey, {dims} u.arm, bool_and(u.holdout) AS holdout,
       count(*) FILTER (WHERE NOT u.open AND NOT u.ineligible) AS patients,
       count(*) FILTER (WHERE NOT u.open AND NOT u.ineligible AND u.success) AS successes,
       count(*) FILTER (WHERE u.open AND NOT u.ineligible) AS open,
       count(*) FILTER (WHERE u.ineligible) AS ineligible
FROM u {joins}
GROUP BY u.experiment_id, u.journey, {group_prefix} u.arm
