-- satisfaction.v1 (docs/reports.md): one unit per completed questionnaire of the instrument, by the journey (and
-- its entry department) of the message that asked for it; a questionnaire no message asked for has none.
-- version: the journey version that message's request was decided under, else (a row projected before it was
-- recorded) the version its instance started on.
WITH u AS (
    SELECT q.patient_key, q.score, q.completed_at, analytics.local_date(q.completed_at) AS anchor_date,
           j.journey_id AS journey, j.entry_department AS department, p.age_band, p.sex,
           j.journey_id || '@v' || coalesce(m.journey_version, j.started_version) AS version
    FROM analytics.questionnaires q
    LEFT JOIN analytics.messages m ON m.message_key = q.message_key
    LEFT JOIN analytics.journeys j ON j.instance_key = m.instance_key
    LEFT JOIN analytics.patients p ON p.patient_key = q.patient_key
    WHERE q.instrument = %(instrument)s AND q.completed_at <= %(as_of)s
      AND (%(from)s::date IS NULL OR analytics.local_date(q.completed_at) >= %(from)s::date)
      AND (%(to)s::date IS NULL OR analytics.local_date(q.completed_at) <= %(to)s::date)
)
SELECT {dims}
       count(*) AS responses,
       count(DISTINCT u.patient_key) AS patients,
       round(avg(u.score)::numeric, 2) AS mean_score,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY u.score) AS median_score,
       min(u.score) AS min_score,
       max(u.score) AS max_score
FROM u {joins}
GROUP BY {group}
