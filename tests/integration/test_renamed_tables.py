"""Tables renamed so that "outbox" means one thing (the dispatcher's outbox of results): a database set up before
keeps what its tables held. The worker's careloop_outbox is careloop_hand_overs, unsent hand-overs still to send;
the demo gateway's outreach_demo_outbox is outreach_demo_inbox, what patients would have received still there."""

from __future__ import annotations

import psycopg
import pytest

from engine.dispatch.channels.base import Outgoing
from engine.dispatch.channels.demo_inbox import DemoInbox, reveal
from engine.dispatch.follower import create_tables
from engine.store.application import JourneyStore, postgres_env
from engine.worker.hand_overs import HandOvers
from tests.keys import memory_keys

pytestmark = pytest.mark.integration

# The worker's table as careloop created it before the rename.
FORMER_HAND_OVERS = """
CREATE TABLE careloop_outbox (
    id           bigserial PRIMARY KEY,
    topic        text  NOT NULL,
    key          bytea NOT NULL,
    value        bytea NOT NULL,
    published_at timestamptz
);
CREATE INDEX careloop_outbox_unpublished ON careloop_outbox (id) WHERE published_at IS NULL;
INSERT INTO careloop_outbox (topic, key, value, published_at) VALUES
    ('careloop.clinical', 'P-keep', '{"event_id": "sent-before"}', now()),
    ('careloop.clinical', 'P-keep', '{"event_id": "not-sent-yet"}', NULL);
"""

# The demo gateway's table as the dispatcher created it before the rename.
FORMER_DEMO_INBOX = """
CREATE TABLE outreach_demo_outbox (
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
INSERT INTO outreach_demo_outbox (idempotency_key, message_id, patient_id, channel, recipient, locale, body)
VALUES ('msg-1:1', 'msg-1', 'P1', 'sms', '+8613800000000', 'zh-CN', '您好，术后第三天，请注意伤口护理。');
"""


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").fetchall()
    return {name for (name,) in rows}


def test_unsent_hand_overs_of_a_database_set_up_before_the_rename_are_still_sent(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(FORMER_HAND_OVERS)
    # Opening the journey store sets up its tables: the old one is renamed, rows, ids and all
    JourneyStore(postgres_env(database_url)).close()
    assert "careloop_hand_overs" in tables(database_url) and "careloop_outbox" not in tables(database_url)
    hand_overs = HandOvers(database_url)
    try:
        [(row_id, topic, key, value)] = hand_overs.pending()
        assert (row_id, topic, key, value) == (2, "careloop.clinical", b"P-keep", b'{"event_id": "not-sent-yet"}')
        hand_overs.mark_sent([row_id])
        assert hand_overs.pending() == []
    finally:
        hand_overs.close()
    # A new hand-over continues the ids, and setting the tables up again changes nothing
    JourneyStore(postgres_env(database_url)).close()
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO careloop_hand_overs (topic, key, value) VALUES ('t', 'k', 'v')")
        ids = [i for (i,) in conn.execute("SELECT id FROM careloop_hand_overs ORDER BY id")]
    assert ids == [1, 2, 3]


def test_the_demo_inbox_of_a_database_set_up_before_the_rename_keeps_what_patients_would_have_received(
    database_url: str,
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(FORMER_DEMO_INBOX)
        create_tables(conn)
        create_tables(conn)  # idempotent once renamed
    assert "outreach_demo_inbox" in tables(database_url) and "outreach_demo_outbox" not in tables(database_url)
    keys = memory_keys()
    inbox = DemoInbox("demo", database_url, keys)
    try:
        # A send repeating the kept message's idempotency key keeps the first row, as before the rename
        repeat = Outgoing("msg-1", 1, "P1", "sms", "post-op-day-3", "+8613800000000", "zh-CN", None, "again")
        inbox.send(repeat)
        inbox.send(Outgoing("msg-2", 1, "P1", "sms", "post-op-day-7", "+8613800000000", "zh-CN", None, "第七天"))
    finally:
        inbox.close()
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT idempotency_key, body FROM outreach_demo_inbox ORDER BY idempotency_key").fetchall()
    # the row kept from before is as it was; a new one rests sealed with the patient's key
    assert rows[0] == ("msg-1:1", "您好，术后第三天，请注意伤口护理。")
    assert rows[1][0] == "msg-2:1" and reveal(keys, "P1", "body", rows[1][1]) == "第七天"
