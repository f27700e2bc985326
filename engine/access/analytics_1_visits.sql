-- The analytics views of visits, follow-up after a discharge (followup.v1) and revisits (revisit.v1), over the visits
-- projection's tables (projections/visits) and what the worker's journey deployment records (engine/store/
-- definitions.py: the value sets' codes and the hospital's time zone). Definitions: docs/analysts.md "Definitions".
-- Loaded by `careloop roles apply` after roles.sql (engine/access/roles.py); the analysts' grants on the schema
-- come after every analytics_*.sql file.
--
-- Privacy: an analyst reads only the analytics schema; its views run as their owner. The views that compare rows
-- (a visit with the next one) are built on owner-only views in public (careloop_analytics_*: patient_id there, so
-- no grant is given on them), joined on patient_id where the indexes are, and pseudonymised only in the outermost
-- SELECT. Encounter and appointment ids become keyed hashes; clinicians and display texts are never shown.

-- The worker's journey deployment replaces these at each deploy (engine/store/definitions.py).
GRANT INSERT, DELETE ON careloop_value_set_codes, careloop_analytics_config TO careloop_worker;
-- ... and records the global holdout there (engine/store/experiments.py; read by analytics_3_experiments.sql):
-- select for the salt and share a deploy may not change, update for its categories and its switching off.
GRANT SELECT, INSERT, UPDATE ON careloop_experiments TO careloop_worker;

DROP VIEW IF EXISTS analytics.revisit_index, analytics.followup_episodes, analytics.visits, analytics.diagnoses,
    analytics.appointments, analytics.encounters, analytics.as_of CASCADE;
DROP VIEW IF EXISTS careloop_analytics_episodes, careloop_analytics_visits, careloop_analytics_visit_rows,
    careloop_analytics_codes, careloop_analytics_zone CASCADE;

-- A row's keyed pseudonym: prefix-<20 hex>, with the schema's key (passed in by the view, as for patient_key).
CREATE OR REPLACE FUNCTION analytics.row_key(prefix text, id text, key text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT prefix || '-' || left(encode(sha256(convert_to(key || ':' || prefix || ':' || id, 'UTF8')), 'hex'), 20) $$;

-- The hospital's day of a moment, in the time zone the journeys were deployed with (settings.hospital_timezone;
-- UTC, the settings' default, before any deployment). SECURITY DEFINER: the analyst reads no table itself.
CREATE OR REPLACE FUNCTION analytics.local_date(t timestamptz) RETURNS date
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$ SELECT (t AT TIME ZONE coalesce((SELECT hospital_timezone FROM careloop_analytics_config), 'UTC'))::date $$;
REVOKE ALL ON FUNCTION analytics.row_key(text, text, text), analytics.local_date(timestamptz) FROM PUBLIC;

-- "Now" for reports: the deployment's clock (careloop_clock: the demo's and the tests' moving time), else now().
CREATE VIEW analytics.as_of AS
SELECT coalesce((SELECT c.now FROM careloop_clock c WHERE c.id), now()) AS as_of;

-- Owner-only building blocks (public: no role is granted them) ---------------------------------------------------

CREATE VIEW careloop_analytics_zone AS
SELECT coalesce((SELECT hospital_timezone FROM careloop_analytics_config), 'UTC') AS tz;

-- Every diagnosis code a patient has, matched to the deployed value sets: an encounter's codes (at its first known
-- time) and the patient's conditions (at their diagnosis). A value set without a system matches any system.
CREATE VIEW careloop_analytics_codes AS
SELECT c.patient_id, c.encounter_id, c.at, (c.at AT TIME ZONE z.tz)::date AS day, v.value_set
FROM (
    SELECT d.patient_id, d.encounter_id, d.system, d.code,
           coalesce(e.admitted_at, e.completed_at, e.discharged_at) AS at
    FROM encounter_diagnoses d
    JOIN encounters e ON e.patient_id = d.patient_id AND e.encounter_id = d.encounter_id AND e.cancelled_at IS NULL
    UNION ALL
    SELECT patient_id, NULL, system, code, diagnosed_at FROM conditions
) c
JOIN careloop_value_set_codes v
    ON (v.system IS NULL OR v.system = c.system)
   AND (c.code = v.code OR (v.match = 'prefix' AND starts_with(c.code, v.code)))
CROSS JOIN careloop_analytics_zone z
WHERE c.at IS NOT NULL;

-- Every visit before deduplication: an inpatient or day-surgery stay at its discharge, another encounter at its
-- completion (or its discharge: an emergency visit), an attended appointment at its attendance. Cancelled
-- encounters are none.
CREATE VIEW careloop_analytics_visit_rows AS
SELECT r.patient_id, r.prefix, r.id, r.encounter_id, r.kind, r.visit_at, (r.visit_at AT TIME ZONE z.tz)::date AS visit_date,
       r.department
FROM (
    SELECT e.patient_id, 'vk' AS prefix, e.encounter_id AS id, e.encounter_id,
           CASE WHEN e.encounter_class IN ('inpatient', 'day_surgery') THEN 'discharge' ELSE 'encounter' END AS kind,
           CASE WHEN e.encounter_class IN ('inpatient', 'day_surgery') THEN e.discharged_at
                ELSE coalesce(e.completed_at, e.discharged_at) END AS visit_at,
           e.department
    FROM encounters e
    WHERE e.cancelled_at IS NULL
    UNION ALL
    SELECT a.patient_id, 'ak', a.appointment_id, NULL, 'appointment', a.attended_at, a.department
    FROM appointments a
    WHERE a.status = 'attended'
) r
CROSS JOIN careloop_analytics_zone z
WHERE r.visit_at IS NOT NULL;

-- One visit per patient, local date and department (a HIS sends the attended appointment and the completed
-- encounter of one visit): at its earliest moment, named by its discharge, else its encounter, else its
-- appointment; its diagnosis groups are those of its encounters' codes and of the conditions diagnosed by then.
CREATE VIEW careloop_analytics_visits AS
SELECT g.patient_id, g.prefix, g.id, g.kind, g.visit_at, g.visit_date, g.department,
       ARRAY(
           SELECT DISTINCT c.value_set FROM careloop_analytics_codes c
           WHERE c.patient_id = g.patient_id
             AND (c.encounter_id = ANY (g.encounter_ids) OR (c.encounter_id IS NULL AND c.day <= g.visit_date))
           ORDER BY 1
       ) AS diagnosis_groups
FROM (
    SELECT patient_id, visit_date, department, min(visit_at) AS visit_at,
           (array_agg(prefix ORDER BY rank, visit_at, id))[1] AS prefix,
           (array_agg(id ORDER BY rank, visit_at, id))[1] AS id,
           (array_agg(kind ORDER BY rank, visit_at, id))[1] AS kind,
           array_agg(encounter_id) FILTER (WHERE encounter_id IS NOT NULL) AS encounter_ids
    FROM (
        SELECT *, CASE kind WHEN 'discharge' THEN 0 WHEN 'encounter' THEN 1 ELSE 2 END AS rank
        FROM careloop_analytics_visit_rows
    ) ranked
    GROUP BY patient_id, visit_date, department
) g;

-- followup.v1: one episode per inpatient or day-surgery discharge not cancelled (a stay changed to outpatient,
-- HL7 A07, is no discharge). Excluded, in this order: readmitted (another stay admitted at or after this discharge,
-- on a day up to 30 after it: the last discharge of a chain is the index), died (disposition expired, or death
-- before the 30-day window closes), transfer (disposition transfer: the follow-up happens elsewhere). The contacts
-- of a stay are those of the journeys it started (their instances are keyed by its encounter id): the patient's
-- reply to one of their messages, a call of one of their tasks that reached the patient.
CREATE VIEW careloop_analytics_episodes AS
SELECT d.*,
       CASE
           WHEN EXISTS (
               SELECT FROM encounters r
               WHERE r.patient_id = d.patient_id AND r.encounter_id <> d.encounter_id AND r.cancelled_at IS NULL
                 AND r.encounter_class IN ('inpatient', 'day_surgery')
                 AND coalesce(r.admitted_at, r.discharged_at) >= d.discharged_at
                 AND coalesce(r.admitted_at, r.discharged_at) < d.window30_closes
           ) THEN 'readmitted'
           WHEN d.disposition = 'expired' OR d.deceased_at < d.window30_closes THEN 'died'
           WHEN d.disposition = 'transfer' THEN 'transfer'
       END AS excluded,
       (SELECT min(v.visit_at) FROM careloop_analytics_visit_rows v
        WHERE v.patient_id = d.patient_id AND v.visit_date > d.discharge_date) AS first_visit_at,
       (SELECT min(q.replied_at) FROM journey_instances j JOIN reminder_queue q ON q.instance_id = j.instance_id
        WHERE j.patient_id = d.patient_id AND j.key = d.encounter_id AND q.replied_at > d.discharged_at) AS first_reply_at,
       (SELECT min(t.reached_at) FROM journey_instances j JOIN tasks t ON t.instance_id = j.instance_id
        WHERE j.patient_id = d.patient_id AND j.key = d.encounter_id AND t.reached_at > d.discharged_at)
           AS first_reached_at
FROM (
    SELECT e.patient_id, e.encounter_id, e.department, e.disposition, e.discharged_at, p.deceased_at,
           (e.discharged_at AT TIME ZONE z.tz)::date AS discharge_date,
           (((e.discharged_at AT TIME ZONE z.tz)::date + 8)::timestamp AT TIME ZONE z.tz) AS window7_closes,
           (((e.discharged_at AT TIME ZONE z.tz)::date + 31)::timestamp AT TIME ZONE z.tz) AS window30_closes
    FROM encounters e
    CROSS JOIN careloop_analytics_zone z
    LEFT JOIN patient_profiles p ON p.patient_id = e.patient_id
    WHERE e.encounter_class IN ('inpatient', 'day_surgery') AND e.discharged_at IS NOT NULL
      AND e.cancelled_at IS NULL AND e.disposition IS DISTINCT FROM 'changed-to-outpatient'
) d;

-- What analysts read --------------------------------------------------------------------------------------------

CREATE VIEW analytics.encounters AS
SELECT analytics.patient_key(e.patient_id, k.key) AS patient_key,
       analytics.row_key('vk', e.patient_id || ':' || e.encounter_id, k.key) AS visit_key,
       e.encounter_class, e.department, e.admitted_at, e.discharged_at, e.completed_at, e.disposition,
       e.cancelled_at IS NOT NULL AS cancelled,
       round((extract(epoch FROM e.discharged_at - e.admitted_at) / 3600)::numeric, 1) AS stay_hours,
       analytics.age_band(p.birth_date, (coalesce(e.admitted_at, e.completed_at, e.discharged_at) AT TIME ZONE z.tz)::date)
           AS age_band,
       p.sex
FROM encounters e
CROSS JOIN careloop_analytics_key k
CROSS JOIN careloop_analytics_zone z
LEFT JOIN patient_profiles p ON p.patient_id = e.patient_id;

CREATE VIEW analytics.appointments AS
SELECT analytics.patient_key(a.patient_id, k.key) AS patient_key,
       analytics.row_key('ak', a.patient_id || ':' || a.appointment_id, k.key) AS appointment_key,
       a.department, a.service, a.start_at, a.status, a.attended_at
FROM appointments a CROSS JOIN careloop_analytics_key k;

CREATE VIEW analytics.diagnoses AS
SELECT analytics.patient_key(c.patient_id, k.key) AS patient_key, c.value_set, min(c.at) AS first_at
FROM careloop_analytics_codes c CROSS JOIN careloop_analytics_key k
GROUP BY c.patient_id, k.key, c.value_set;

CREATE VIEW analytics.visits AS
SELECT analytics.patient_key(v.patient_id, k.key) AS patient_key,
       analytics.row_key(v.prefix, v.patient_id || ':' || v.id, k.key) AS visit_key,
       v.kind, v.visit_at, v.visit_date, v.department, v.diagnosis_groups,
       analytics.age_band(p.birth_date, v.visit_date) AS age_band, p.sex
FROM careloop_analytics_visits v
CROSS JOIN careloop_analytics_key k
LEFT JOIN patient_profiles p ON p.patient_id = v.patient_id;

CREATE VIEW analytics.followup_episodes AS
SELECT analytics.patient_key(d.patient_id, k.key) AS patient_key,
       analytics.row_key('vk', d.patient_id || ':' || d.encounter_id, k.key) AS episode_key,
       d.department,
       ARRAY(
           SELECT DISTINCT c.value_set FROM careloop_analytics_codes c
           WHERE c.patient_id = d.patient_id
             AND (c.encounter_id = d.encounter_id OR (c.encounter_id IS NULL AND c.day <= d.discharge_date))
           ORDER BY 1
       ) AS diagnosis_groups,
       d.discharged_at, d.discharge_date, d.excluded, d.first_visit_at,
       least(d.first_visit_at, d.first_reply_at, d.first_reached_at) AS first_contact_at,
       d.window7_closes, d.window30_closes,
       analytics.age_band(p.birth_date, d.discharge_date) AS age_band, p.sex
FROM careloop_analytics_episodes d
CROSS JOIN careloop_analytics_key k
LEFT JOIN patient_profiles p ON p.patient_id = d.patient_id;

-- revisit.v1: every visit is an index; its return is the first visit on a later local date (any department, and
-- the same department apart). Censoring is the query's: an index whose window ends after as_of is left out.
CREATE VIEW analytics.revisit_index AS
SELECT analytics.patient_key(v.patient_id, k.key) AS patient_key,
       analytics.row_key(v.prefix, v.patient_id || ':' || v.id, k.key) AS visit_key,
       v.visit_at AS index_at, v.visit_date AS index_date, v.department, v.diagnosis_groups,
       n.visit_at AS next_visit_at, n.visit_date AS next_visit_date,
       (SELECT min(s.visit_at) FROM careloop_analytics_visit_rows s
        WHERE s.patient_id = v.patient_id AND s.visit_date > v.visit_date AND s.department = v.department)
           AS next_same_department_at,
       analytics.age_band(p.birth_date, v.visit_date) AS age_band, p.sex
FROM careloop_analytics_visits v
CROSS JOIN careloop_analytics_key k
LEFT JOIN patient_profiles p ON p.patient_id = v.patient_id
LEFT JOIN LATERAL (
    SELECT r.visit_at, r.visit_date FROM careloop_analytics_visit_rows r
    WHERE r.patient_id = v.patient_id AND r.visit_date > v.visit_date
    ORDER BY r.visit_at
    LIMIT 1
) n ON true;
