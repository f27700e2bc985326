"""Every SQL query of docs/analysts.md, run as written on real PostgreSQL tables built the way the demo builds them.

The demo's synthetic hospital (250 patients over half a year) goes through the pure core hour by hour up to a fixed
moment, with the dispatcher's reports, gateways' receipts, patients' replies and staff's task work fed back in;
every week of virtual time its new events are recorded in the journey store and the projection runner follows
them into the read models. Each ```sql block of the page then runs verbatim, with ``now()`` pinned to that moment,
and its rows are compared with what analysts_expected works out from the events. A block the test has no
expectation for fails, so a query added to the page is tested from then on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from markdown_it import MarkdownIt
from psycopg import sql
from psycopg.rows import dict_row

from engine.access import roles
from engine.embedded import EmbeddedPostgres
from engine.plumbing.clock import set_database_clock
from engine.store.application import JourneyStore, postgres_env
from engine.store.definitions import deploy
from events import outreach as ou
from events import patient as pa
from projections.catalog import PROJECTIONS
from projections.runner import Runner
from projections.source import StoreSource
from tests.builders import at, catalog
from tests.integration import analysts_expected as expected
from tests.integration.analysts_hospital import REPLY_TEXT, Hospital, Recorder
from tests.integration.scratch_database import scratch_database

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "analysts.md"
PATIENTS, SEED, DAYS = 250, 3, 182
NOW = at("2026-06-18 08:03")  # a reminder deferred from last night's quiet hours has just gone out
TIMELINE_PATIENT = "SYN00065"  # the patient of the doc's timeline query: post-op, chronic, at high churn risk
CLOCK = "analysts_clock"  # a schema whose now() comes before pg_catalog's on the queries' search_path

EXPECTED: dict[str, Callable[[expected.World], expected.Result]] = {
    "Today's reminders": expected.todays_reminders,
    "Patients at high churn risk": expected.high_churn,
    "Overdue tasks by queue": expected.overdue_tasks,
    "Journey funnel": expected.funnel,
    "How journeys end": expected.endings,
    "Reminder delivery rate per template": expected.delivery_rate,
    "A patient's timeline": lambda world: expected.timeline(world, TIMELINE_PATIENT),
    "Follow-up after discharge (followup.v1)": expected.followup,
    "Follow-up episodes left out": expected.followup_left_out,
    "Revisits within 30 days (revisit.v1)": expected.revisits,
}


# --- the page -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocQuery:
    title: str  # the heading it is under, numbered when a heading has several
    text: str
    line: int

    def __str__(self) -> str:
        return f"{DOC.name}:{self.line} ({self.title})"


def doc_queries(markdown: str) -> list[DocQuery]:
    """The ```sql blocks of the page, each named by the heading above it (numbered from the second on)."""
    tokens = MarkdownIt().parse(markdown)
    queries: list[DocQuery] = []
    heading, under = "", 0
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            heading, under = tokens[i + 1].content, 0
        elif token.type == "fence" and token.info.split()[:1] == ["sql"]:
            under += 1
            title = heading if under == 1 else f"{heading} ({under})"
            queries.append(DocQuery(title, token.content, (token.map or [0])[0] + 1))
    return queries


QUERIES = doc_queries(DOC.read_text(encoding="utf-8"))


# --- the hospital's tables ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tables:
    url: str
    world: expected.World

    def run(self, query: str) -> expected.Result:
        """The rows of each statement of ``query`` that returns rows, run as one simple query at the pinned now();
        a query of the analytics views as an analyst, who may read nothing else."""
        options = f"-c search_path={CLOCK},public,pg_catalog -c TimeZone=UTC"
        with psycopg.connect(self.url, autocommit=True, options=options, row_factory=dict_row) as conn:
            if "analytics." in query:
                conn.execute("SET ROLE careloop_analyst")
            cursor = conn.execute(query.encode())
            results = []
            while True:
                if cursor.description is not None:
                    results.append(cursor.fetchall())
                if not cursor.nextset():
                    return results


@pytest.fixture(scope="module")
def tables(postgres: EmbeddedPostgres) -> Iterator[Tables]:
    with scratch_database(postgres.url, "it_analysts") as url:
        store = JourneyStore(postgres_env(url))
        try:
            with Runner(url, StoreSource(store), PROJECTIONS) as runner:
                record = Recorder(store)
                hospital = Hospital(catalog(), PATIENTS, SEED, DAYS, NOW)

                def follow() -> None:
                    record(hospital.sim)
                    runner.catch_up()

                sim = hospital.run(timedelta(days=7), follow)
                assert set(runner.lag().values()) == {0}
            roles.apply(url)  # the analytics views, as `careloop roles apply` makes them
            deploy(url, catalog())  # the value sets and the hospital's time zone they read, as the worker records them
            pin_clock(url, NOW)
            yield Tables(url, expected.World(sim.recorded, NOW))
        finally:
            store.close()


def pin_clock(url: str, now: datetime) -> None:
    """A now() of the test's own: named before pg_catalog in a search path, it answers for the built-in one; and
    the deployment's clock, which analytics.as_of reads (a view's now() is the built-in one)."""
    with psycopg.connect(url, autocommit=True) as conn:
        set_database_clock(conn, now)
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(CLOCK)))
        conn.execute(
            sql.SQL("CREATE FUNCTION {}.now() RETURNS timestamptz LANGUAGE sql STABLE AS {}").format(
                sql.Identifier(CLOCK), sql.Literal(f"SELECT timestamptz '{now.isoformat()}'")
            )
        )


# --- tests --------------------------------------------------------------------------------------------------------


def test_every_sql_query_on_the_page_has_an_expected_result_and_every_expected_result_a_query() -> None:
    on_the_page = [q.title for q in QUERIES]
    missing = [str(q) for q in QUERIES if q.title not in EXPECTED]
    assert not missing, f"queries on the page with no expected result in {Path(__file__).name}: {missing}"
    gone = sorted(set(EXPECTED) - set(on_the_page))
    assert not gone, f"expected results for queries no longer on the page: {gone}"


def test_every_query_on_the_page_is_in_a_sql_block_where_this_test_finds_it() -> None:
    statement = re.compile(r"^\s*(SELECT|WITH|SET)\b", re.IGNORECASE | re.MULTILINE)
    hidden = [
        (token.map or [0])[0] + 1
        for token in MarkdownIt().parse(DOC.read_text(encoding="utf-8"))
        if token.type in ("fence", "code_block")
        and token.info.split()[:1] != ["sql"]
        and statement.search(token.content)
    ]
    assert not hidden, f"SQL outside a ```sql block in {DOC.name} at lines {hidden}: mark it ```sql"


def test_the_queries_see_the_pinned_moment_as_now(tables: Tables) -> None:
    [[row]] = tables.run("SET TIME ZONE 'Asia/Shanghai'; SELECT now() AS now, now()::date AS today")
    assert row == {"now": NOW, "today": NOW.astimezone(expected.SHANGHAI).date()}


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.title)
def test_the_query_gives_what_the_hospitals_events_say(tables: Tables, query: DocQuery) -> None:
    if query.title not in EXPECTED:
        pytest.fail(f"{query} has no expected result in {Path(__file__).name}")
    want = EXPECTED[query.title](tables.world)

    got = tables.run(query.text)

    assert got == want, str(query)


def test_no_table_holds_what_patients_wrote_or_their_names(tables: Tables) -> None:
    names = {e.name for e in tables.world.events() if isinstance(e, pa.PatientRegistered) and e.name}
    replies = [e for e in tables.world.events() if isinstance(e, ou.OutreachReplied) and e.text == REPLY_TEXT]
    assert names and replies
    with psycopg.connect(tables.url) as conn:
        for table in {t for p in PROJECTIONS for t in p.tables}:
            text = conn.execute(sql.SQL("SELECT string_agg(t::text, ' ') FROM {} t").format(sql.Identifier(table)))
            dump: Any = text.fetchone()
            assert REPLY_TEXT not in (dump[0] or ""), table
            assert not [n for n in names if n in (dump[0] or "")], table
