-- cohorts.v1 (docs/reports.md): each patient joins the cohort of the month of their anchor (first visit, or first
-- journey entry), hospital time; a cell is the share of the cohort with a visit in the calendar month offset months
-- later (offset 0: the anchor's own month). Cohorts and offsets come from a month spine (generate_series), so a
-- month without new patients is a row of zero; a cell whose month has not ended by as_of is NULL, never 0.
-- version: the journey version the anchoring instance started on (a first visit has none).
WITH anchors AS (
    SELECT v.patient_key, v.visit_date AS anchor_date, v.visit_at AS anchor_at, v.department,
           NULL::text AS journey, NULL::text AS version, v.age_band, v.sex
    FROM analytics.visits v
    WHERE %(anchor)s = 'first-visit' AND v.visit_at <= %(as_of)s
    UNION ALL
    SELECT j.patient_key, j.entry_date, j.started_at, j.entry_department, j.journey_id,
           j.journey_id || '@v' || j.started_version, p.age_band, p.sex
    FROM analytics.journeys j LEFT JOIN analytics.patients p ON p.patient_key = j.patient_key
    WHERE %(anchor)s = 'journey-entry' AND j.started_at <= %(as_of)s AND j.entry_date IS NOT NULL
),
u AS (
    SELECT * FROM (
        SELECT DISTINCT ON (a.patient_key) a.*, date_trunc('month', a.anchor_date::timestamp)::date AS cohort
        FROM anchors a
        ORDER BY a.patient_key, a.anchor_at, a.anchor_date
    ) first
    WHERE (%(from)s::date IS NULL OR first.anchor_date >= %(from)s::date)
      AND (%(to)s::date IS NULL OR first.anchor_date <= %(to)s::date)
),
hits AS (
    SELECT DISTINCT u.patient_key,
           ((extract(year FROM v.visit_date) - extract(year FROM u.cohort)) * 12
            + extract(month FROM v.visit_date) - extract(month FROM u.cohort))::int AS month_offset
    FROM u JOIN analytics.visits v ON v.patient_key = u.patient_key AND v.visit_at <= %(as_of)s
        AND v.visit_date >= u.anchor_date
),
cells AS (
    SELECT {dims} u.cohort, m.month_offset,
           count(DISTINCT u.patient_key) AS cohort_size,
           count(DISTINCT h.patient_key) AS retained
    FROM u {joins}
    CROSS JOIN generate_series(0, %(months)s::int) AS m(month_offset)
    LEFT JOIN hits h ON h.patient_key = u.patient_key AND h.month_offset = m.month_offset
    GROUP BY {group_prefix} u.cohort, m.month_offset
),
spine AS (
    SELECT c::date AS cohort, m AS month_offset
    FROM generate_series(
             coalesce(date_trunc('month', %(from)s::date::timestamp), (SELECT min(cohort) FROM u)::timestamp),
             coalesce(date_trunc('month', %(to)s::date::timestamp), (SELECT max(cohort) FROM u)::timestamp),
             interval '1 month') AS c
    CROSS JOIN generate_series(0, %(months)s::int) AS m
)
SELECT {names} to_char(s.cohort, 'YYYY-MM') AS cohort_month, s.month_offset,
       coalesce(c.cohort_size, 0) AS patients,
       CASE WHEN (s.cohort + make_interval(months => s.month_offset + 1))::date
                 <= analytics.local_date(%(as_of)s::timestamptz)
            THEN coalesce(c.retained, 0) END AS retained,
       CASE WHEN (s.cohort + make_interval(months => s.month_offset + 1))::date
                 <= analytics.local_date(%(as_of)s::timestamptz)
            THEN round(coalesce(c.retained, 0)::numeric / nullif(c.cohort_size, 0), 4) END AS rate
FROM spine s LEFT JOIN cells c ON c.cohort = s.cohort AND c.month_offset = s.month_offset
