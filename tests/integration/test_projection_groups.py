"""Projection runners split into groups, on real PostgreSQL: runners following disjoint groups at the same time
write the rows one runner over every projection writes, and two runners on the same group apply each page once
between them (each projection's tracking row is locked with its page: projections/runner.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import cast

import psycopg
import pytest
from psycopg import sql

from engine.cli.runtime import wait_for_projections
from engine.embedded.stack import Stack
from engine.store.application import JourneyStore
from projections.base import Projection
from projections.catalog import PROJECTIONS
from projections.groups import groups
from projections.runner import Runner
from projections.source import Page, StoreSource
from tests.integration.test_projections import TABLES, history, snapshot

pytestmark = pytest.mark.integration


class Applying(Runner):
    """A runner that notes which pages it applied (the projection and the notifications), and which it found
    applied already.

    Given a partner, the first to apply a page waits (outside any transaction) until the other has applied one
    too: without it, one thread could follow the whole log before the other is scheduled, and the test would
    not be about two runners at the same time (it failed so once in CI)."""

    def __init__(self, database_url: str, source: StoreSource, projections: Sequence[Projection], page: int) -> None:
        super().__init__(database_url, source, projections, page)
        self.applied: list[tuple[str, int, int]] = []
        self.skipped = 0
        self.has_applied = threading.Event()
        self.partner: Applying | None = None

    def apply_page(self, projection: Projection, page: Page) -> bool:
        done = super().apply_page(projection, page)
        if done:
            self.applied.append((projection.name, page.after, page.last))
            if not self.has_applied.is_set():
                self.has_applied.set()
                if self.partner is not None:
                    assert self.partner.has_applied.wait(timeout=120), "the other runner applied no page"
        else:
            self.skipped += 1
        return done


def at_once(catch_ups: Sequence[Callable[[], object]]) -> None:
    """Each catch-up in a thread of its own, started together; a failure in one fails the test."""
    failures: list[BaseException] = []
    start = threading.Barrier(len(catch_ups))

    def run(catch_up: Callable[[], object]) -> None:
        try:
            start.wait()
            catch_up()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in catch_ups]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not failures, failures
    assert not any(t.is_alive() for t in threads)


def emptied(database_url: str) -> None:
    """Every projection's rows gone and its position back to 0: the log to be followed again from the start."""
    with psycopg.connect(database_url) as conn:
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(map(sql.Identifier, TABLES))))
        conn.execute("UPDATE projection_tracking SET position = 0")


def test_two_runners_on_disjoint_groups_write_the_rows_one_runner_writes(
    store: JourneyStore, database_url: str
) -> None:
    history(store, None, "P-groups", 60)
    head = store.recorder.max_notification_id()
    first, second = groups(2)

    # Two runners, one per group, at the same time, in small pages that cut patients' histories in two
    with (
        Runner(database_url, StoreSource(store), first, 97) as one,
        Runner(database_url, StoreSource(store), second, 97) as two,
    ):
        at_once([one.catch_up, two.catch_up])
        assert set(one.positions()) == {p.name for p in first}  # each follows its own group only
        assert set(two.positions()) == {p.name for p in second}
    split = snapshot(database_url)

    emptied(database_url)
    with Runner(database_url, StoreSource(store), PROJECTIONS, 97) as alone:
        alone.catch_up()
        assert set(alone.lag().values()) == {0}
        assert alone.positions() == {p.name: head for p in PROJECTIONS}
    assert snapshot(database_url) == split
    assert sum(len(rows) for rows in split.values()) > 1000
    for g in (first, second):
        assert any(split[t] for p in g for t in p.tables), "each group wrote rows"


def test_two_runners_on_the_same_group_apply_each_page_once_between_them(
    store: JourneyStore, database_url: str
) -> None:
    history(store, None, "P-same", 60)
    head = store.recorder.max_notification_id()
    group = groups(2)[0]
    page_size = 50
    with Runner(database_url, StoreSource(store), PROJECTIONS):
        pass  # entering sets up every table, so the snapshots below compare them all (the others stay empty)

    one = Applying(database_url, StoreSource(store), group, page_size)
    two = Applying(database_url, StoreSource(store), group, page_size)
    one.partner, two.partner = two, one
    with one, two:
        at_once([one.catch_up, two.catch_up])
        both = one.applied + two.applied
        for p in group:
            # The pages each projection was given cover the log once: each starts where the one before ended
            ranges = sorted((after, last) for name, after, last in both if name == p.name)
            assert [after for after, _ in ranges] == [0, *(last for _, last in ranges[:-1])], p.name
            assert ranges[-1][1] == head, p.name
        assert one.applied and two.applied, "both runners applied pages"
        assert one.skipped + two.skipped > 0, "each found some pages applied by the other, and wrote nothing"
    shared = snapshot(database_url)

    emptied(database_url)
    with Runner(database_url, StoreSource(store), group, page_size) as alone:
        alone.catch_up()
    assert snapshot(database_url) == shared


class NoneExited:
    """All wait_for_projections asks of the stack: whether a child process exited (none did here)."""

    def exited(self) -> list[tuple[str, int]]:
        return []


def test_waiting_for_the_projections_waits_for_every_group_even_one_whose_runner_has_not_started(
    store: JourneyStore, database_url: str
) -> None:
    history(store, None, "P-wait", 10)
    first, second = groups(2)
    stack = cast(Stack, NoneExited())

    with Runner(database_url, StoreSource(store), first) as one:
        one.catch_up()
    # The second group's runner has not started: its projections have no tracking rows yet
    assert not wait_for_projections(database_url, stack, timeout=0.5)
    with Runner(database_url, StoreSource(store), second) as two:
        assert not wait_for_projections(database_url, stack, timeout=0.5)  # registered, at position 0
        two.catch_up()
    assert wait_for_projections(database_url, stack, timeout=5)


def test_runners_of_every_group_setting_up_together_on_a_new_database_all_start(
    store: JourneyStore, database_url: str
) -> None:
    # As `careloop up --projection-runners N` starts them: each creates projection_tracking if it is missing
    split = groups(4)
    for attempt in range(10):
        with psycopg.connect(database_url) as conn:
            conn.execute("DROP TABLE IF EXISTS projection_tracking")
        runners = [Runner(database_url, StoreSource(store), group) for group in split]
        try:
            at_once([r.setup for r in runners])
        finally:
            for r in runners:
                r.close()
        with psycopg.connect(database_url) as conn:
            tracked = {name for (name,) in conn.execute("SELECT name FROM projection_tracking")}
        assert tracked == {p.name for p in PROJECTIONS}, attempt
