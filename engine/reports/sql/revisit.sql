-- revisit.v1 (docs/reports.md): one unit per index visit (analytics.revisit_index), or per patient (their first
-- index visit of the period) with --unit patients. Returned "within": the first later visit (same-day ones do not
-- count) falls in (index date, index date + window]; "on or after": some visit on or after index date + window, up to
-- as_of. An index whose window has not ended by as_of is open: left out of the denominator, counted apart.
WITH idx AS (
    SELECT r.patient_key, r.visit_key, r.index_at, r.index_date AS anchor_date, r.department, r.diagnosis_groups,
           r.age_band, r.sex,
           CASE WHEN %(same_department)s THEN analytics.local_date(r.next_same_department_at)
                ELSE r.next_visit_date END AS next_date,
           row_number() OVER (PARTITION BY r.patient_key ORDER BY r.index_at, r.visit_key) AS nth
    FROM analytics.revisit_index r
    WHERE r.index_at <= %(as_of)s
      AND (%(from)s::date IS NULL OR r.index_date >= %(from)s::date)
      AND (%(to)s::date IS NULL OR r.index_date <= %(to)s::date)
),
latest AS (  -- each patient's last visit up to as_of, overall and per department ("on or after")
    SELECT v.patient_key, v.department, grouping(v.department) = 1 AS overall, max(v.visit_date) AS last_date
    FROM analytics.visits v
    WHERE v.visit_at <= %(as_of)s
    GROUP BY GROUPING SETS ((v.patient_key), (v.patient_key, v.department))
),
u AS (
    SELECT i.*,
           i.anchor_date + %(window)s::int >= analytics.local_date(%(as_of)s::timestamptz) AS open,
           CASE WHEN %(mode)s = 'within' THEN coalesce(i.next_date <= i.anchor_date + %(window)s::int, false)
                ELSE coalesce(l.last_date >= i.anchor_date + %(window)s::int, false) END AS returned
    FROM idx i
    LEFT JOIN latest l ON l.patient_key = i.patient_key
        AND (CASE WHEN %(same_department)s THEN NOT l.overall AND l.department = i.department ELSE l.overall END)
    WHERE NOT %(patients)s OR i.nth = 1
)
SELECT {dims}
       count(*) FILTER (WHERE NOT u.open) AS indexes,
       count(*) FILTER (WHERE NOT u.open AND u.returned) AS returned,
       round(count(*) FILTER (WHERE NOT u.open AND u.returned)::numeric
             / nullif(count(*) FILTER (WHERE NOT u.open), 0), 4) AS rate,
       count(*) FILTER (WHERE u.open) AS open
FROM u {joins}
GROUP BY {group}
