-- The dispatcher's tables, in the event store's database. Created idempotently at start.

-- One row per approval: (message_id, attempt) is what is sent exactly once.
CREATE TABLE IF NOT EXISTS dispatch_messages (
    message_id   text        NOT NULL,
    attempt      integer     NOT NULL,
    patient_id   text        NOT NULL,
    instance_id  text        NOT NULL,
    journey_id   text        NOT NULL,
    step_id      text,
    event_id     text        NOT NULL,  -- the message.approved event: the cause of what we publish
    template     text        NOT NULL,
    channel      text        NOT NULL,
    locale       text        NOT NULL,
    category     text        NOT NULL,
    priority     integer     NOT NULL,
    variables    jsonb       NOT NULL,
    -- pending: to send; sending: handed to a gateway, outcome not yet recorded (in doubt after a crash);
    -- sent, failed: final; withdrawn: taken back before it was sent; staff: a phone call, the engine's task
    status       text        NOT NULL,
    tries        integer     NOT NULL DEFAULT 0,
    next_try_at  timestamptz NOT NULL DEFAULT now(),
    withdrawn    boolean     NOT NULL DEFAULT false,
    last_error   text,
    gateway      text,
    gateway_ref  text,
    position     bigint      NOT NULL,  -- notification id of the approval: sends go out in log order
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, attempt)
);
-- The engine's stale time: an approval not sent by then is never sent (the engine has moved on).
ALTER TABLE dispatch_messages ADD COLUMN IF NOT EXISTS stale_at timestamptz;
CREATE INDEX IF NOT EXISTS dispatch_messages_due ON dispatch_messages (next_try_at)
    WHERE status IN ('pending', 'sending');

-- Where to reach each patient (PHI: never logged), from patient.registered / patient.updated.
CREATE TABLE IF NOT EXISTS dispatch_contacts (
    patient_id    text PRIMARY KEY,
    name          text,
    phone         text,
    email         text,
    wechat_openid text,
    language      text,
    timezone      text
);

-- A message to one of the patient's relatives (a guardian, a caregiver: issue 18) names the link; null: the patient.
ALTER TABLE dispatch_messages ADD COLUMN IF NOT EXISTS recipient_relation_id text;
ALTER TABLE dispatch_messages ADD COLUMN IF NOT EXISTS recipient_role text;

-- Where to reach each patient's relatives (PHI of the relative: never logged), from relationship.recorded: sealed
-- under the relation's own key. related_patient_id: the relative is a patient too (their own contact is the
-- fallback when the link records none).
CREATE TABLE IF NOT EXISTS dispatch_relative_contacts (
    patient_id         text NOT NULL,
    relation_id        text NOT NULL,
    name               text,
    phone              text,
    email              text,
    wechat_openid      text,
    language           text,
    timezone           text,
    related_patient_id text,
    PRIMARY KEY (patient_id, relation_id)
);

-- How far the follower has applied the event store's log; written in the rows' own transaction.
CREATE TABLE IF NOT EXISTS dispatch_tracking (
    name     text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0
);
INSERT INTO dispatch_tracking (name) VALUES ('dispatcher') ON CONFLICT (name) DO NOTHING;

-- Results for the engine (outreach.sent / outreach.failed), written with the send's outcome, published later.
CREATE TABLE IF NOT EXISTS dispatch_outbox (
    seq          bigserial PRIMARY KEY,
    event_id     text        NOT NULL UNIQUE,
    patient_id   text        NOT NULL,
    payload      jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS dispatch_outbox_unpublished ON dispatch_outbox (seq) WHERE published_at IS NULL;

-- The demo gateway's inbox: what patients would have received, rendered, without any real gateway.
-- Called outreach_demo_outbox before: renamed with what it holds.
DO $$
BEGIN
    IF to_regclass('outreach_demo_outbox') IS NOT NULL AND to_regclass('outreach_demo_inbox') IS NULL THEN
        ALTER TABLE outreach_demo_outbox RENAME TO outreach_demo_inbox;
        ALTER INDEX IF EXISTS outreach_demo_outbox_pkey RENAME TO outreach_demo_inbox_pkey;
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS outreach_demo_inbox (
    idempotency_key text PRIMARY KEY,
    message_id      text        NOT NULL,
    patient_id      text        NOT NULL,
    channel         text        NOT NULL,
    recipient       text        NOT NULL,
    locale          text        NOT NULL,
    subject         text,
    body            text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
