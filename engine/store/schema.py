"""Engine tables beside the event store: consumed Kafka offsets, pending timers and hand-overs to send.

All are written in the same transaction as the patient events they belong to, so a crash can never leave
an offset without its events, or an event without its timer or hand-over.
"""

from __future__ import annotations

from psycopg import Cursor

ENGINE_DDL = """
CREATE TABLE IF NOT EXISTS careloop_offsets (
    consumer    text    NOT NULL,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);
-- The topic's id from the broker: a topic re-created (or a broker that forgot everything) starts afresh.
ALTER TABLE careloop_offsets ADD COLUMN IF NOT EXISTS topic_id text NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS careloop_timers (
    timer_id     text PRIMARY KEY,
    patient_id   text NOT NULL,
    instance_id  text NOT NULL,
    due_at       timestamptz NOT NULL,
    published_at timestamptz
);
-- The poller asks "what is due by now?": one index range scan, however many timers are pending.
CREATE INDEX IF NOT EXISTS careloop_timers_due ON careloop_timers (due_at);
-- Hand-overs the engine must send to Kafka (journeys handed over on a merge), committed with their cause.
-- Called careloop_outbox before: renamed with what it holds, unsent rows included.
DO $$
BEGIN
    IF to_regclass('careloop_outbox') IS NOT NULL AND to_regclass('careloop_hand_overs') IS NULL THEN
        ALTER TABLE careloop_outbox RENAME TO careloop_hand_overs;
        ALTER INDEX IF EXISTS careloop_outbox_pkey RENAME TO careloop_hand_overs_pkey;
        ALTER INDEX IF EXISTS careloop_outbox_unpublished RENAME TO careloop_hand_overs_unpublished;
        ALTER SEQUENCE IF EXISTS careloop_outbox_id_seq RENAME TO careloop_hand_overs_id_seq;
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS careloop_hand_overs (
    id           bigserial PRIMARY KEY,
    topic        text  NOT NULL,
    key          bytea NOT NULL,
    value        bytea NOT NULL,
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS careloop_hand_overs_unpublished ON careloop_hand_overs (id) WHERE published_at IS NULL;
CREATE TABLE IF NOT EXISTS careloop_clock (
    id  boolean PRIMARY KEY DEFAULT true CHECK (id),
    now timestamptz NOT NULL
);
"""


def create_engine_tables(curs: Cursor[object]) -> None:
    curs.execute(ENGINE_DDL)
