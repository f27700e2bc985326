-- careloop's group roles (NOLOGIN: the deployer grants them to login roles, one login per person or process), their
-- grants, row-level security and the analysts' schema. Run by the owner of the tables, after they are created
-- (careloop roles apply); idempotent: every grant is revoked and given again, so a grant taken out here goes.

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['careloop_worker', 'careloop_dispatcher', 'careloop_intake', 'careloop_projections',
                             'careloop_care_team', 'careloop_analyst', 'careloop_auditor', 'careloop_eraser',
                             'careloop_key_custodian', 'careloop_loyalty_desk'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN  -- created meanwhile for another database
                NULL;
            END;
        END IF;
    END LOOP;
END $$;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM careloop_worker, careloop_dispatcher, careloop_intake,
    careloop_projections, careloop_care_team, careloop_analyst, careloop_auditor, careloop_eraser,
    careloop_key_custodian, careloop_loyalty_desk;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM careloop_worker, careloop_dispatcher, careloop_intake,
    careloop_projections, careloop_care_team, careloop_analyst, careloop_auditor, careloop_eraser,
    careloop_key_custodian, careloop_loyalty_desk;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;

-- Which queues each login works on (the care team sees those queues' tasks and their patients' contacts).
-- Kept by the deployer: careloop roles queue LOGIN QUEUE..., or INSERT as the owner.
CREATE TABLE IF NOT EXISTS careloop_queue_members (
    login text NOT NULL,  -- a PostgreSQL login role (session_user)
    queue text NOT NULL,  -- a task queue: care-team, chronic-care, scheduling, psychology, ...
    PRIMARY KEY (login, queue)
);
-- The queues of the session's login; SECURITY DEFINER so no one needs to read the mapping itself.
CREATE OR REPLACE FUNCTION careloop_my_queues() RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT queue FROM careloop_queue_members WHERE login = session_user $$;
-- The patients with a task on one of those queues.
CREATE OR REPLACE FUNCTION careloop_my_patients() RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT DISTINCT patient_id FROM tasks WHERE queue IN (SELECT careloop_my_queues()) $$;
REVOKE ALL ON FUNCTION careloop_my_queues(), careloop_my_patients() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION careloop_my_queues(), careloop_my_patients() TO careloop_care_team;

GRANT USAGE ON SCHEMA public TO careloop_worker, careloop_dispatcher, careloop_intake, careloop_projections,
    careloop_care_team, careloop_auditor, careloop_eraser, careloop_key_custodian, careloop_loyalty_desk;

-- The worker: the event store, its engine tables (offsets, timers, hand-overs, snapshots, applied inputs), the
-- relay's position, the deployed journey versions; nothing of the intake, the dispatcher or the read models.
-- UPDATE on careloop_events and careloop_journey_definitions only for the table locks the batch insert (EXCLUSIVE)
-- and the journeys' deployment (SHARE ROW EXCLUSIVE) take: PostgreSQL asks UPDATE, DELETE or TRUNCATE for them. No
-- row of either is ever updated.
GRANT SELECT, INSERT, UPDATE ON careloop_events, careloop_journey_definitions TO careloop_worker;
GRANT SELECT, INSERT, UPDATE ON careloop_offsets, careloop_relay TO careloop_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON careloop_timers, careloop_hand_overs, careloop_snapshots TO careloop_worker;
GRANT SELECT, INSERT ON careloop_applied_inputs TO careloop_worker;
GRANT SELECT ON careloop_clock TO careloop_worker;
-- The deployments (engine/store/deployments.py): a worker's start records its file, `careloop deploy` and `careloop
-- rollout` run under the worker's login and record theirs; UPDATE for the head (moved, and locked FOR UPDATE by a
-- deployer, FOR SHARE by every batch commit). No deployment row is ever updated.
GRANT SELECT, INSERT, UPDATE ON careloop_deployments, careloop_deployment_head TO careloop_worker;
-- `careloop rollout status` counts instances per rollout arm: those columns of the experiments projection only.
GRANT SELECT (experiment_id, kind, arm) ON experiment_assignments TO careloop_worker;
GRANT USAGE ON SEQUENCE careloop_events_notification_id_seq, careloop_hand_overs_id_seq TO careloop_worker;
-- Its metrics say how far each projection is behind the store's head: the projections' positions, nothing else.
GRANT SELECT (name, position) ON projection_tracking TO careloop_worker;

-- The dispatcher: reads the event store, keeps its own tables (messages, contacts, tracking, outbox, demo inbox),
-- reads the patients' wrapped keys to reveal the contact it sends to.
GRANT SELECT ON careloop_events, careloop_clock, careloop_journey_definitions TO careloop_dispatcher;
-- the latest deployment's templates, for one its own journeys file lacks (engine/processes/dispatcher.py)
GRANT SELECT ON careloop_deployments, careloop_deployment_head TO careloop_dispatcher;
GRANT SELECT, INSERT, UPDATE, DELETE ON dispatch_messages, dispatch_contacts, dispatch_outbox TO careloop_dispatcher;
-- the patients' relatives' contacts (issue 18), sealed under each relative's relation key, revealed with it
GRANT SELECT, INSERT, UPDATE, DELETE ON dispatch_relative_contacts TO careloop_dispatcher;
GRANT SELECT, INSERT, UPDATE ON dispatch_tracking TO careloop_dispatcher;
GRANT SELECT, INSERT ON outreach_demo_inbox TO careloop_dispatcher;
GRANT SELECT ON careloop_patient_keys TO careloop_dispatcher;
GRANT USAGE ON SEQUENCE dispatch_outbox_seq_seq TO careloop_dispatcher;

-- The intakes (publish, mllp, fhir-intake, webhook): patient identity (blind-indexed identifiers, merges) and the
-- patients' data keys they seal with; they publish to Kafka and read no event, task or contact.
GRANT SELECT, INSERT, UPDATE ON patient_identifiers, careloop_patient_keys TO careloop_intake;
GRANT SELECT, INSERT ON patient_merges TO careloop_intake;
GRANT SELECT ON careloop_clock TO careloop_intake;
-- The outreach webhook finds who a reply or delivery report is about by its message id (connectors/outreach/
-- directory.py): those columns of the reminder queue only, not its templates, steps or times.
GRANT SELECT (message_id, patient_id, instance_id, channel, attempt) ON reminder_queue TO careloop_intake;

-- The projection runner: reads the event store, owns the rows of the read models (TRUNCATE: a rebuild).
GRANT SELECT ON careloop_events TO careloop_projections;
-- Its read models' tables are granted by roles.py, from the projections' catalog (a new projection needs no line here).
GRANT SELECT, INSERT, UPDATE ON projection_tracking TO careloop_projections;

-- The care team: its queues' tasks, and of its queues' patients the contacts, the timeline, the events (careloop
-- explain) and their wrapped keys (to reveal what explain shows); every read is written to the audit trail first.
GRANT SELECT ON tasks, dispatch_contacts, patient_timeline, careloop_events, careloop_patient_keys
    TO careloop_care_team;
GRANT SELECT ON careloop_journey_definitions, careloop_clock TO careloop_care_team;
-- careloop family show: its queues' patients' relatives (links and consent: no name or contact), and with --contacts
-- the relatives' sealed contacts, revealed with their relation keys (careloop_patient_keys' policy below: rows of
-- the relation keys its patients own); the reads are audited first. The read models are the projections' (created
-- by the apply before this file runs; a release without them skips the grant).
GRANT SELECT ON dispatch_relative_contacts TO careloop_care_team;
DO $$
BEGIN
    IF to_regclass('relationships') IS NOT NULL THEN
        GRANT SELECT ON relationships, relationship_consents TO careloop_care_team;
        ALTER TABLE relationships ENABLE ROW LEVEL SECURITY;
        ALTER TABLE relationship_consents ENABLE ROW LEVEL SECURITY;
        DROP POLICY IF EXISTS careloop_process ON relationships;
        CREATE POLICY careloop_process ON relationships TO careloop_projections USING (true) WITH CHECK (true);
        DROP POLICY IF EXISTS careloop_queue ON relationships;
        CREATE POLICY careloop_queue ON relationships FOR SELECT TO careloop_care_team
            USING (patient_id IN (SELECT careloop_my_patients()));
        -- the eraser finds the links other patients recorded naming the patient erased (their relation keys go)
        GRANT SELECT (patient_id, relation_id, related_patient_id) ON relationships TO careloop_eraser;
        DROP POLICY IF EXISTS careloop_erase ON relationships;
        CREATE POLICY careloop_erase ON relationships FOR SELECT TO careloop_eraser USING (true);
        DROP POLICY IF EXISTS careloop_process ON relationship_consents;
        CREATE POLICY careloop_process ON relationship_consents TO careloop_projections USING (true) WITH CHECK (true);
        DROP POLICY IF EXISTS careloop_queue ON relationship_consents;
        CREATE POLICY careloop_queue ON relationship_consents FOR SELECT TO careloop_care_team
            USING (patient_id IN (SELECT careloop_my_patients()));
    END IF;
END $$;
GRANT INSERT ON careloop_audit TO careloop_care_team;

-- The auditor: reads the audit trail (and its own reads of it are recorded).
GRANT SELECT, INSERT ON careloop_audit TO careloop_auditor;

-- The eraser (careloop erase, engine/security/erasure.py): destroys a patient's data key without reading any key
-- (it holds no master key: its columns are the row's id, epoch and erasure time; a patient never seen gets an
-- erased row, so no key is made for them later), deletes the patient's rows from the tables written beside the log
-- (reading only the columns that find them), writes the audit row first, and reads the log for the patients whose
-- retention is over (--expired); the clock when the deployment's is the database's. It publishes patient.erased.
-- owner_patient_id finds the relation keys a patient owns (their relatives', destroyed with them) and records the
-- owner of a relative erased alone before their first record (careloop erase P --relation REL).
GRANT SELECT (patient_id, epoch, erased_at, owner_patient_id), INSERT (patient_id, epoch, erased_at, owner_patient_id),
    UPDATE (master_key_id, wrapped, erased_at) ON careloop_patient_keys TO careloop_eraser;
GRANT SELECT (patient_id), DELETE ON dispatch_contacts, patient_identifiers, outreach_demo_inbox TO careloop_eraser;
GRANT SELECT (retired_patient_id, survivor_patient_id), DELETE ON patient_merges TO careloop_eraser;
GRANT SELECT (patient_id, relation_id), DELETE ON dispatch_relative_contacts TO careloop_eraser;
GRANT INSERT ON careloop_audit TO careloop_eraser;
GRANT SELECT ON careloop_events, careloop_clock TO careloop_eraser;

-- The key custodian (careloop keys rotate, rewrap, renew): holds the key file, so it re-wraps every live data key
-- under a new master key and gives an erased patient who comes back a new key epoch; its renewals are audited.
-- It reads no contact, event or read model.
GRANT SELECT (patient_id, epoch, master_key_id, wrapped, erased_at),
    UPDATE (epoch, master_key_id, wrapped, created_at, erased_at) ON careloop_patient_keys TO careloop_key_custodian;
GRANT INSERT ON careloop_audit TO careloop_key_custodian;

-- The loyalty desk (careloop loyalty, careloop loyalty-api; engine/loyalty_desk/): reads the loyalty and referral
-- read models, writes its audit row before each answer (every answer names a member's points), reads the clock when
-- the deployment's is the database's; it publishes redemptions and adjustments to the clinical topic. It reads no
-- event, contact, key or identifier. The read models are the projections': `careloop roles apply` creates every
-- projection's tables first (tables.py, from the projections' catalog), so a relation missing here is one whose
-- projection this release does not have; it is granted by the apply that follows its projection, and its absence
-- never stops the roles being applied.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['loyalty_members', 'points_entries', 'tier_history', 'loyalty_requests', 'referrals',
                             'referral_codes'] LOOP
        IF to_regclass(t) IS NOT NULL THEN
            EXECUTE format('GRANT SELECT ON %I TO careloop_loyalty_desk', t);
        END IF;
    END LOOP;
    -- The intakes find whose a referral code given at registration is (connectors/referrals.py), by the code.
    IF to_regclass('referral_codes') IS NOT NULL THEN
        GRANT SELECT ON referral_codes TO careloop_intake;
    END IF;
END $$;
GRANT INSERT ON careloop_audit TO careloop_loyalty_desk;
GRANT SELECT ON careloop_clock TO careloop_loyalty_desk;

-- Row-level security. The owner is not bound by it (it runs the migrations); each role sees the rows a policy
-- gives it, and a role without a policy on a table sees none of its rows.
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE dispatch_contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE dispatch_relative_contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE patient_timeline ENABLE ROW LEVEL SECURITY;
ALTER TABLE careloop_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE careloop_patient_keys ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS careloop_process ON tasks;
CREATE POLICY careloop_process ON tasks TO careloop_projections USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS careloop_queue ON tasks;
CREATE POLICY careloop_queue ON tasks FOR SELECT TO careloop_care_team
    USING (queue IN (SELECT careloop_my_queues()));

DROP POLICY IF EXISTS careloop_process ON patient_timeline;
CREATE POLICY careloop_process ON patient_timeline TO careloop_projections USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS careloop_queue ON patient_timeline;
CREATE POLICY careloop_queue ON patient_timeline FOR SELECT TO careloop_care_team
    USING (patient_id IN (SELECT careloop_my_patients()));

DROP POLICY IF EXISTS careloop_process ON dispatch_contacts;
CREATE POLICY careloop_process ON dispatch_contacts TO careloop_dispatcher USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS careloop_erase ON dispatch_contacts;
CREATE POLICY careloop_erase ON dispatch_contacts TO careloop_eraser USING (true);  -- its grants: find and delete
DROP POLICY IF EXISTS careloop_queue ON dispatch_contacts;
CREATE POLICY careloop_queue ON dispatch_contacts FOR SELECT TO careloop_care_team
    USING (patient_id IN (SELECT careloop_my_patients()));

DROP POLICY IF EXISTS careloop_process ON dispatch_relative_contacts;
CREATE POLICY careloop_process ON dispatch_relative_contacts TO careloop_dispatcher USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS careloop_erase ON dispatch_relative_contacts;
CREATE POLICY careloop_erase ON dispatch_relative_contacts TO careloop_eraser USING (true);
DROP POLICY IF EXISTS careloop_queue ON dispatch_relative_contacts;
CREATE POLICY careloop_queue ON dispatch_relative_contacts FOR SELECT TO careloop_care_team
    USING (patient_id IN (SELECT careloop_my_patients()));

DROP POLICY IF EXISTS careloop_process ON careloop_patient_keys;
CREATE POLICY careloop_process ON careloop_patient_keys TO careloop_intake, careloop_dispatcher
    USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS careloop_erase ON careloop_patient_keys;
CREATE POLICY careloop_erase ON careloop_patient_keys TO careloop_eraser USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS careloop_custody ON careloop_patient_keys;
CREATE POLICY careloop_custody ON careloop_patient_keys TO careloop_key_custodian USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS careloop_queue ON careloop_patient_keys;
CREATE POLICY careloop_queue ON careloop_patient_keys FOR SELECT TO careloop_care_team
    USING (patient_id IN (SELECT careloop_my_patients()) OR owner_patient_id IN (SELECT careloop_my_patients()));

-- The events' patient is in their JSON (eventsourcing's stored state: the careloop event under "payload");
-- explain reads one stream by its aggregate id, so this is checked on that stream's rows only.
DROP POLICY IF EXISTS careloop_process ON careloop_events;
CREATE POLICY careloop_process ON careloop_events TO careloop_worker, careloop_dispatcher, careloop_projections
    USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS careloop_erase ON careloop_events;
CREATE POLICY careloop_erase ON careloop_events FOR SELECT TO careloop_eraser USING (true);
DROP POLICY IF EXISTS careloop_queue ON careloop_events;
CREATE POLICY careloop_queue ON careloop_events FOR SELECT TO careloop_care_team
    USING ((convert_from(state, 'UTF8')::json -> 'payload' ->> 'patient_id') IN (SELECT careloop_my_patients()));

-- The analysts' schema: views over the read models without patient-identifying data. The views run as their
-- owner, so the analyst needs no grant on any table; a patient is a keyed pseudonym (careloop_analytics_key, read
-- by the owner alone), never careloop's patient id, which the other tables and the care team's screens carry.
CREATE TABLE IF NOT EXISTS careloop_analytics_key (
    id  boolean PRIMARY KEY DEFAULT true CHECK (id),
    key text    NOT NULL
);
INSERT INTO careloop_analytics_key (key) VALUES (md5(gen_random_uuid()::text || clock_timestamp()::text))
    ON CONFLICT (id) DO NOTHING;
REVOKE ALL ON careloop_analytics_key FROM PUBLIC;

CREATE SCHEMA IF NOT EXISTS analytics;
REVOKE ALL ON SCHEMA analytics FROM PUBLIC;
-- A function runs with the rights of whoever queries the view, so the key is the view's (read as its owner) and
-- passed in: without it, this function gives nothing away.
CREATE OR REPLACE FUNCTION analytics.patient_key(patient_id text, key text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT 'pk-' || left(encode(sha256(convert_to(key || ':' || patient_id, 'UTF8')), 'hex'), 20) $$;
-- Ten-year bands, 90 and over together (HIPAA's safe harbour: ages over 89 identify).
CREATE OR REPLACE FUNCTION analytics.age_band(birth date, at date) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE
              WHEN birth IS NULL OR at < birth THEN NULL
              WHEN date_part('year', age(at, birth)) >= 90 THEN '90+'
              ELSE (10 * floor(date_part('year', age(at, birth)) / 10))::int || '-'
                   || (10 * floor(date_part('year', age(at, birth)) / 10) + 9)::int
          END $$;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA analytics FROM PUBLIC;

CREATE OR REPLACE VIEW analytics.patients AS
SELECT analytics.patient_key(p.patient_id, k.key) AS patient_key,
       analytics.age_band(p.birth_date, coalesce(p.deceased_at::date, current_date)) AS age_band,
       p.sex,
       p.deceased_at IS NOT NULL AS deceased,
       p.merged_into IS NOT NULL AS merged,
       (SELECT count(*) FROM reminder_queue r WHERE r.patient_id = p.patient_id) AS reminders,
       (SELECT count(*) FROM churn_flags c WHERE c.patient_id = p.patient_id) AS churn_flags,
       (SELECT count(*) FROM tasks t WHERE t.patient_id = p.patient_id) AS tasks,
       (SELECT count(*) FROM journey_instances j WHERE j.patient_id = p.patient_id) AS journeys,
       p.tier  -- last: CREATE OR REPLACE VIEW may add a column only at the end
FROM patient_profiles p CROSS JOIN careloop_analytics_key k;

-- analytics.journeys and analytics.tasks: analytics_2_engagement.sql (which drops and re-creates them with the
-- columns issue 15 added).

CREATE OR REPLACE VIEW analytics.reminders AS
SELECT analytics.patient_key(patient_id, k.key) AS patient_key, journey_id, step_id, template, category, channel, status,
       policy_rule, due_at, sent_at, delivered_at, replied_at
FROM reminder_queue CROSS JOIN careloop_analytics_key k;

CREATE OR REPLACE VIEW analytics.churn_flags AS
SELECT analytics.patient_key(patient_id, k.key) AS patient_key, journey_id, reason, weight, level, score, status, since,
       cleared_at
FROM churn_flags CROSS JOIN careloop_analytics_key k;

CREATE OR REPLACE VIEW analytics.churn_levels AS
SELECT analytics.patient_key(patient_id, k.key) AS patient_key, score, level, changed_at
FROM churn_levels CROSS JOIN careloop_analytics_key k;

-- The events' kinds and times, never their details (a clinical event's detail names its encounter and codes).
CREATE OR REPLACE VIEW analytics.timeline AS
SELECT analytics.patient_key(patient_id, k.key) AS patient_key, at, kind, journey_id, step_id
FROM patient_timeline CROSS JOIN careloop_analytics_key k;

-- The analysts' grants on this schema come last (roles.py), after the views of analytics_*.sql.
