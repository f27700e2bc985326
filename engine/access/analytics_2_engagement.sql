-- The analytics views of engagement: messages and their funnel times, journeys with what they entered on and the
-- arm a split drew, each step an instance took, task outcomes, questionnaire scores and churn over time. Over the
-- read models (projections/reminder_queue, journey_instances, tasks, engagement); loaded by `careloop roles apply`
-- after roles.sql and analytics_1_visits.sql (analytics.row_key, analytics.local_date), before the analysts'
-- grants on the schema (engine/access/roles.py).
--
-- Privacy: patients are analytics.patient_key, instances and messages keyed hashes (analytics.row_key: ik-, mk-),
-- never careloop's ids, a journey's key (an encounter or appointment id), a task's title or note, a reply or a
-- questionnaire's answers. DROP and CREATE (not CREATE OR REPLACE): a view's columns may change between versions.

DROP VIEW IF EXISTS analytics.messages, analytics.journeys, analytics.journey_steps, analytics.tasks,
    analytics.questionnaires, analytics.churn_history CASCADE;

-- Every reminder planned or requested, with the funnel's times: requested, first approved, sent, delivered, read
-- (the read receipt that moved it to read), replied (NULL: not reached). status and policy_rule say where it
-- stopped; priority is the request's (0-100, NULL while only scheduled); journey_version the version of its journey
-- the request was decided under (NULL while only scheduled, or projected before it was recorded).
CREATE VIEW analytics.messages AS
SELECT analytics.patient_key(r.patient_id, k.key) AS patient_key,
       analytics.row_key('mk', r.message_id, k.key) AS message_key,
       r.journey_id, r.step_id, r.template, r.category, r.channel, r.status, r.policy_rule,
       r.due_at, r.requested_at, r.approved_at, r.sent_at, r.delivered_at, r.replied_at,
       analytics.row_key('ik', r.instance_id, k.key) AS instance_key,
       r.read_at, r.priority, r.journey_version
FROM reminder_queue r CROSS JOIN careloop_analytics_key k;

-- One row per journey instance. entry_*: the event it entered on (its department, when it has one, and its time;
-- entry_date is the hospital's day). arm, holdout: the arm a split step drew (NULL: the journey has no split or
-- the instance did not reach it); the global holdout is analytics.experiment_assignments'. journey_version is the
-- version the instance runs now (a deployment may move a running instance: journey.migrated), started_version the
-- one it started on; rollout_arm: candidate or stable when a staged rollout drew its version, else NULL.
CREATE VIEW analytics.journeys AS
SELECT analytics.patient_key(j.patient_id, k.key) AS patient_key, j.journey_id, j.journey_version, j.status,
       j.current_step, j.outcome, j.started_at, j.ended_at, j.next_due_at,
       analytics.row_key('ik', j.instance_id, k.key) AS instance_key,
       j.entry_type, j.entry_department, j.entry_at, analytics.local_date(j.entry_at) AS entry_date,
       j.arm, j.holdout, j.started_version, j.rollout_arm
FROM journey_instances j CROSS JOIN careloop_analytics_key k;

-- Every step an instance took, its start (kind journey.started) and its end (journey.completed, journey.exited).
-- kind is the engine's event type; branch the branch or split arm of a journey.branch_taken.
CREATE VIEW analytics.journey_steps AS
SELECT analytics.patient_key(s.patient_id, k.key) AS patient_key,
       analytics.row_key('ik', s.instance_id, k.key) AS instance_key,
       s.journey_id, s.step_id, s.kind, s.branch, s.at
FROM journey_steps s CROSS JOIN careloop_analytics_key k;

-- Staff tasks and their outcomes; reached_at: when staff reached the patient (task.closed), if they said.
CREATE VIEW analytics.tasks AS
SELECT analytics.patient_key(t.patient_id, k.key) AS patient_key, t.journey_id, t.queue, t.origin_queue, t.role,
       t.priority, t.status, t.outcome, t.escalated, t.sla_due_at, t.created_at, t.claimed_at, t.closed_at,
       t.escalated_at, t.reached_at,
       analytics.row_key('ik', t.instance_id, k.key) AS instance_key
FROM tasks t CROSS JOIN careloop_analytics_key k;

-- Questionnaire scores, never the answers. message_key: the message that asked for it (analytics.messages), NULL
-- when none did.
CREATE VIEW analytics.questionnaires AS
SELECT analytics.patient_key(q.patient_id, k.key) AS patient_key, q.instrument, q.score, q.completed_at,
       analytics.row_key('mk', q.message_id, k.key) AS message_key
FROM questionnaires q CROSS JOIN careloop_analytics_key k;

-- Every churn flag raised (change flagged) or cleared, with the patient's score and level after it. reason NULL:
-- a clear of every flag the journey raised.
CREATE VIEW analytics.churn_history AS
SELECT analytics.patient_key(c.patient_id, k.key) AS patient_key, c.journey_id, c.change, c.reason, c.level,
       c.score, c.at
FROM churn_history c CROSS JOIN careloop_analytics_key k;
