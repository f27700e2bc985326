-- followup.v1 (docs/reports.md): one unit per discharge (analytics.followup_episodes). Followed up: the first visit
-- after the discharge day (fuh) or the first contact (nhc: a visit, a call that reached the patient, a reply) before
-- the 7- and 30-day windows close. Both rates share one denominator, the episodes whose 30-day window has closed by
-- as_of (a readmission exclusion is final only then); the others are open. Excluded episodes (readmitted,
-- transfer, died) are counted apart, never in the denominator.
WITH u AS (
    SELECT f.patient_key, f.episode_key, f.discharge_date AS anchor_date, f.department, f.diagnosis_groups,
           f.age_band, f.sex, f.excluded, f.window7_closes, f.window30_closes,
           CASE WHEN %(measure)s = 'nhc' THEN f.first_contact_at ELSE f.first_visit_at END AS first_at,
           f.window30_closes > %(as_of)s AS open
    FROM analytics.followup_episodes f
    WHERE f.discharged_at <= %(as_of)s
      AND (%(from)s::date IS NULL OR f.discharge_date >= %(from)s::date)
      AND (%(to)s::date IS NULL OR f.discharge_date <= %(to)s::date)
)
SELECT {dims}
       count(*) FILTER (WHERE u.excluded IS NULL AND NOT u.open) AS episodes,
       count(*) FILTER (WHERE u.excluded IS NULL AND NOT u.open AND u.first_at < u.window7_closes) AS within_7d,
       round(count(*) FILTER (WHERE u.excluded IS NULL AND NOT u.open AND u.first_at < u.window7_closes)::numeric
             / nullif(count(*) FILTER (WHERE u.excluded IS NULL AND NOT u.open), 0), 4) AS rate_7d,
       count(*) FILTER (WHERE u.excluded IS NULL AND NOT u.open AND u.first_at < u.window30_closes) AS within_30d,
       round(count(*) FILTER (WHERE u.excluded IS NULL AND NOT u.open AND u.first_at < u.window30_closes)::numeric
             / nullif(count(*) FILTER (WHERE u.excluded IS NULL AND NOT u.open), 0), 4) AS rate_30d,
       count(*) FILTER (WHERE u.excluded IS NULL AND u.open) AS open,
       count(*) FILTER (WHERE u.excluded IS NOT NULL) AS excluded
FROM u {joins}
GROUP BY {group}
