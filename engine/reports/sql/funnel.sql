-- funnel.v1 (docs/reports.md): one unit per journey instance entered in the period. A stage is reached when any
-- message of the instance reached it by as_of; each stage is counted on its own, so a reply whose receipt never came
-- counts as replied, not delivered, and a read receipt with no delivery receipt as read, not delivered.
-- goal: the instance completed with one of its journey's goal outcomes (the catalog's goals); revisited: a visit in
-- (entry date, entry date + window] by as_of; revisit_open: instances whose window has not ended yet.
-- version: the journey version the instance started on (a deployment may move it later: its entry is the unit's).
WITH inst AS (
    SELECT j.patient_key, j.instance_key, j.journey_id AS journey, j.entry_department AS department,
           j.entry_date AS anchor_date, j.arm, j.journey_id || '@v' || j.started_version AS version,
           j.status, j.outcome, j.started_at, j.ended_at,
           p.age_band, p.sex
    FROM analytics.journeys j
    LEFT JOIN analytics.patients p ON p.patient_key = j.patient_key
    WHERE j.started_at <= %(as_of)s
      AND (%(journey)s::text IS NULL OR j.journey_id = %(journey)s::text)
      AND (%(from)s::date IS NULL OR j.entry_date >= %(from)s::date)
      AND (%(to)s::date IS NULL OR j.entry_date <= %(to)s::date)
),
msg AS (
    SELECT i.instance_key,
           bool_or(m.requested_at <= %(as_of)s) AS requested,
           bool_or(m.approved_at <= %(as_of)s) AS approved,
           bool_or(m.sent_at <= %(as_of)s) AS sent,
           bool_or(m.delivered_at <= %(as_of)s) AS delivered,
           bool_or(m.read_at <= %(as_of)s) AS read,
           bool_or(m.replied_at <= %(as_of)s) AS replied
    FROM inst i
    JOIN analytics.messages m ON m.instance_key = i.instance_key
    GROUP BY i.instance_key
),
rv AS (
    SELECT i.instance_key, true AS revisited
    FROM inst i
    JOIN analytics.visits v ON v.patient_key = i.patient_key AND v.visit_at <= %(as_of)s
        AND v.visit_date > i.anchor_date AND v.visit_date <= i.anchor_date + %(window)s::int
    GROUP BY i.instance_key
),
goals AS (
    SELECT * FROM unnest(%(goal_journeys)s::text[], %(goal_outcomes)s::text[]) AS g(journey, outcome)
),
u AS (
    SELECT i.*,
           coalesce(m.requested, false) AS requested, coalesce(m.approved, false) AS approved,
           coalesce(m.sent, false) AS sent, coalesce(m.delivered, false) AS delivered,
           coalesce(m.read, false) AS read, coalesce(m.replied, false) AS replied,
           i.status = 'completed' AND i.ended_at <= %(as_of)s
               AND EXISTS (SELECT 1 FROM goals g WHERE g.journey = i.journey AND g.outcome = i.outcome) AS goal,
           rv.revisited IS NOT NULL AS revisited,
           i.anchor_date + %(window)s::int >= analytics.local_date(%(as_of)s::timestamptz) AS revisit_open
    FROM inst i
    LEFT JOIN msg m ON m.instance_key = i.instance_key
    LEFT JOIN rv ON rv.instance_key = i.instance_key
)
SELECT {dims}
       count(*) AS entered,
       count(*) FILTER (WHERE u.requested) AS requested,
       count(*) FILTER (WHERE u.approved) AS approved,
       count(*) FILTER (WHERE u.sent) AS sent,
       count(*) FILTER (WHERE u.delivered) AS delivered,
       count(*) FILTER (WHERE u.read) AS read,
       count(*) FILTER (WHERE u.replied) AS replied,
       count(*) FILTER (WHERE u.goal) AS goal,
       count(*) FILTER (WHERE u.revisited) AS revisited,
       count(*) FILTER (WHERE u.goal OR u.revisited) AS goal_or_revisit,
       count(*) FILTER (WHERE u.revisit_open AND NOT u.revisited) AS revisit_open
FROM u {joins}
GROUP BY {group}
