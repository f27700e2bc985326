"""Properties of the points ledger over any sequence of operations hypothesis draws: the balances are the sum of the
entries, spending takes only available unexpired points and the oldest earned first, nothing goes below zero
unless the programme allowed it, expiry is exact to the minute in the patient's zone, a repeated adjustment changes
nothing, and reversing an earning that was never recorded is refused with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.journeys.durations import Duration
from engine.journeys.loyalty_expiry import expires_at
from engine.loyalty import (
    BatchState,
    EntryKind,
    InsufficientPointsError,
    Ledger,
    LedgerError,
    UnknownEarningError,
    adjust,
    apply,
    balances,
    earn,
    expire,
    release,
    reverse,
    spend,
    sum_of_entries,
)

NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
TAKING = (EntryKind.SPENT, EntryKind.ADJUSTED, EntryKind.REVERSED)  # what takes points from other batches
PROPERTIES = settings(max_examples=150, deadline=None)


@dataclass(frozen=True)
class Op:
    name: str
    step: int  # minutes after the previous operation
    amount: int = 0
    cause: str = ""
    expires_in: int | None = None  # minutes after the operation
    available_in: int | None = None
    qualifying: bool = True
    redeemable: bool = True
    allow_negative: bool = False


minutes = st.one_of(st.integers(0, 60 * 24 * 3), st.integers(0, 60 * 24 * 90))
visits = st.sampled_from([f"visit-{n}" for n in range(8)])  # earnings, and what a reversal names
earning = st.builds(
    Op, name=st.just("earn"), step=minutes, amount=st.integers(1, 500), cause=visits,
    expires_in=st.none() | st.integers(60 * 24 * 31, 60 * 24 * 200),
    available_in=st.none() | st.integers(1, 60 * 24 * 30),
    qualifying=st.booleans(), redeemable=st.booleans(),
)  # fmt: skip
ops = st.one_of(
    earning,
    earning,
    st.builds(Op, name=st.just("spend"), step=minutes, amount=st.integers(1, 600),
              cause=st.sampled_from([f"gift-{n}" for n in range(20)]), allow_negative=st.booleans()),
    st.builds(Op, name=st.sampled_from(["expire", "release"]), step=minutes),
    st.builds(Op, name=st.just("reverse"), step=minutes, cause=visits, allow_negative=st.booleans()),
    st.builds(Op, name=st.just("reverse"), step=minutes, cause=visits, allow_negative=st.just(True)),
    st.builds(Op, name=st.just("adjust"), step=minutes, amount=st.integers(-300, 300).filter(bool),
              cause=st.sampled_from([f"ticket-{n}" for n in range(3)]), allow_negative=st.booleans()),
)  # fmt: skip


def perform(ledger: Ledger, op: Op, at: datetime) -> tuple[Ledger, tuple[object, ...]]:
    def later(minutes: int | None) -> datetime | None:
        return None if minutes is None else at + timedelta(minutes=minutes)

    match op.name:
        case "earn":
            return earn(
                ledger, op.amount, op.cause, at, expires_at=later(op.expires_in), available_at=later(op.available_in),
                qualifying=op.qualifying or not op.redeemable, redeemable=op.redeemable, reason="visit",
            )  # fmt: skip
        case "spend":
            return spend(ledger, op.amount, op.cause, at, allow_negative=op.allow_negative)
        case "reverse":
            return reverse(ledger, op.cause, at, reason="visit cancelled", allow_negative=op.allow_negative)
        case "adjust":
            return adjust(ledger, op.amount, op.cause, at, "correction", allow_negative=op.allow_negative)
        case "expire":
            return expire(ledger, at)
        case _:
            return release(ledger, at)


def run(sequence: list[Op]) -> list[tuple[Ledger, Ledger, Op, datetime]]:
    """Each operation that was not refused: (before, after, the operation, its time). A refusal changes nothing."""
    ledger, at, steps = Ledger(), START, []
    for op in sequence:
        at += timedelta(minutes=op.step)
        try:
            after, _ = perform(ledger, op, at)
        except LedgerError:
            continue
        steps.append((ledger, after, op, at))
        ledger = after
    return steps


@PROPERTIES
@given(st.lists(ops, min_size=4, max_size=30))
def test_the_balances_always_equal_the_sum_of_the_entries_which_are_only_appended(sequence: list[Op]) -> None:
    for before, after, _, at in run(sequence):
        assert after.entries[: len(before.entries)] == before.entries, "an entry was altered or removed"
        assert after.totals() == sum_of_entries(after.entries)
        caught_up, _ = expire(after, at)  # release alone leaves what expired by then to expire
        assert balances(after, at) == caught_up.totals() == sum_of_entries(caught_up.entries)


@PROPERTIES
@given(st.lists(ops, min_size=4, max_size=30))
def test_folding_the_recorded_entries_gives_the_ledger_the_operation_decided(sequence: list[Op]) -> None:
    replayed = Ledger()
    for before, after, _, _ in run(sequence):
        assert replayed == before
        replayed = apply(before, after.entries[len(before.entries) :], at=after.as_of)
        assert replayed == after


@PROPERTIES
@given(st.lists(ops, min_size=4, max_size=30))
def test_spending_never_takes_expired_or_pending_points_and_takes_the_oldest_earned_first(sequence: list[Op]) -> None:
    for before, after, op, _ in run(sequence):
        if op.name not in ("spend", "adjust", "reverse"):
            continue
        batches = {batch.id: batch for batch in after.batches}
        taken = [e for e in after.entries[len(before.entries) :] if e.batch_id and e.amount < 0 and e.redeemable]
        taken = [e for e in taken if e.kind in TAKING and batches[str(e.batch_id)].cause_id != e.cause_id]
        for entry in taken:
            batch = batches[str(entry.batch_id)]
            assert batch.available_at is None or batch.available_at <= entry.at, "took pending points"
            assert batch.expires_at is None or batch.expires_at > entry.at, "took expired points"
            assert batch.earned_at <= entry.at
            skipped = [
                b for b in after.batches if b.spendable() and b.fifo_key() < batch.fifo_key() and b.id not in
                {e.batch_id for e in taken}
            ]  # fmt: skip
            assert skipped == [], "left an older batch untouched"


@PROPERTIES
@given(st.lists(ops, min_size=4, max_size=30))
def test_no_batch_or_balance_goes_negative_unless_the_programme_allowed_it(sequence: list[Op]) -> None:
    allowed = False
    for _, after, op, _ in run(sequence):
        allowed = allowed or op.allow_negative
        assert all(batch.remaining >= 0 and batch.qualifying_credit >= 0 for batch in after.batches)
        assert after.debt >= 0 and after.totals().pending >= 0 and after.totals().qualifying >= 0
        if not allowed:
            assert after.debt == 0 and after.totals().available >= 0


@PROPERTIES
@given(st.lists(ops, min_size=4, max_size=30))
def test_a_reversal_takes_back_exactly_what_its_earning_gave_less_what_expired(sequence: list[Op]) -> None:
    for before, after, op, at in run(sequence):
        if op.name != "reverse":
            continue
        caught_up, _ = expire(before, at)
        batch = caught_up.earning_batch(op.cause)
        assert batch is not None
        gave = batch.amount - batch.expired if batch.redeemable else 0
        was, now = caught_up.totals(), after.totals()
        assert (was.available + was.pending) - (now.available + now.pending) == gave
        assert was.qualifying - now.qualifying == batch.qualifying_credit
        assert after.batches[batch.seq - 1].state is BatchState.REVERSED


earnings = st.lists(
    st.tuples(st.integers(1, 400), st.none() | st.integers(1, 400)),  # points, expiry in days after earning (or none)
    min_size=1,
    max_size=8,
)


def earned_day_by_day(batches: list[tuple[int, int | None]]) -> tuple[Ledger, datetime]:
    ledger, at = Ledger(), START
    for n, (amount, expires_in) in enumerate(batches):
        at = START + timedelta(days=n // 2)  # two batches a day: the same earning time, told apart by their expiry
        expires = None if expires_in is None else at + timedelta(days=expires_in)
        ledger, _ = earn(ledger, amount, f"visit-{n}", at, expires_at=expires, reason="visit")
    return ledger, at


@PROPERTIES
@given(earnings, st.integers(1, 3000))
def test_spending_empties_batches_oldest_earned_first_then_soonest_expiring(
    batches: list[tuple[int, int | None]], amount: int
) -> None:
    ledger, at = earned_day_by_day(
        [(points, None if days is None else days + len(batches)) for points, days in batches]
    )
    amount = min(amount, sum(points for points, _ in batches))
    # the oracle: batches by the day they were earned, then by expiry day (none last), then in recording order; each
    # emptied before the next
    order = sorted(range(len(batches)), key=lambda n: (n // 2, batches[n][1] is None, batches[n][1] or 0, n))
    expected, left = {}, amount
    for n in order:
        expected[f"visit-{n}"], left = min(left, batches[n][0]), left - min(left, batches[n][0])

    ledger, entries = spend(ledger, amount, "gift-1", at)

    taken = {ledger.batches[int(str(e.batch_id)[1:]) - 1].cause_id: -e.amount for e in entries}
    assert taken == {cause: points for cause, points in expected.items() if points}


@PROPERTIES
@given(earnings, st.integers(1, 3000), st.data())
def test_reversing_a_spent_earning_takes_the_spent_part_from_other_points_or_is_refused(
    batches: list[tuple[int, int | None]], amount: int, data: st.DataObject
) -> None:
    ledger, at = earned_day_by_day([(points, None) for points, _ in batches])
    total = sum(points for points, _ in batches)
    ledger, _ = spend(ledger, min(amount, total), "gift-1", at)
    n = data.draw(st.integers(0, len(batches) - 1))
    batch = ledger.batches[n]
    spent, others = batch.amount - batch.remaining, total - min(amount, total) - batch.remaining

    if spent > others:
        with pytest.raises(
            InsufficientPointsError, match=f"{spent} of them were already spent and only {others} other"
        ):
            reverse(ledger, f"visit-{n}", at, reason="visit cancelled")
    reversed_, _ = reverse(ledger, f"visit-{n}", at, reason="visit cancelled", allow_negative=True)

    assert balances(reversed_, at).available == total - min(amount, total) - batch.amount
    assert reversed_.debt == max(spent - others, 0)
    assert balances(reversed_, at).qualifying == total - batch.amount


@PROPERTIES
@given(st.lists(ops, max_size=20), st.integers(-300, 300).filter(bool), st.lists(ops, max_size=10))
def test_a_repeated_adjustment_changes_nothing(before: list[Op], amount: int, between: list[Op]) -> None:
    steps = run(before)
    ledger, at = (steps[-1][1], steps[-1][3]) if steps else (Ledger(), START)
    ledger, entries = adjust(ledger, amount, "ticket-repeated", at, "goodwill", allow_negative=True)
    assert sum(e.amount for e in entries if e.kind is EntryKind.ADJUSTED) == amount
    for op in between:
        at += timedelta(minutes=op.step)
        try:
            ledger, _ = perform(ledger, op, at)
        except LedgerError:
            continue

    repeated, entries = adjust(
        ledger, amount, "ticket-repeated", at + timedelta(days=1), "goodwill", allow_negative=True
    )
    assert entries == () and repeated == ledger


@PROPERTIES
@given(st.lists(ops, min_size=4, max_size=30))
def test_reversing_an_earning_that_was_never_recorded_is_refused_with_the_reason(sequence: list[Op]) -> None:
    steps = run(sequence)
    ledger, at = (steps[-1][1], steps[-1][3]) if steps else (Ledger(), START)
    try:
        reverse(ledger, "never-earned", at, reason="visit cancelled", allow_negative=True)
    except UnknownEarningError as refused:
        assert str(refused) == "cannot reverse an earning that was never recorded: nothing was recorded for this cause"
        assert refused.cause_id == "never-earned"
    else:
        raise AssertionError("a reversal of an earning never recorded was accepted")


zones = st.sampled_from([NEW_YORK, SHANGHAI])


@PROPERTIES
@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
    st.integers(1, 24),
    zones,
)
def test_points_are_spendable_until_the_minute_before_their_expiry_and_gone_at_it(
    earned_at: datetime, months: int, tz: ZoneInfo
) -> None:
    expires = expires_at(earned_at, Duration.parse(f"{months}mo"), "minute", tz)  # the core's expiry rule
    ledger, _ = earn(Ledger(), 100, "visit-1", earned_at, expires_at=expires, reason="visit")

    assert balances(ledger, expires - timedelta(minutes=1)).available == 100
    assert balances(ledger, expires).available == 0
    spent, _ = spend(ledger, 100, "gift-1", expires - timedelta(seconds=1))
    assert spent.batches[0].remaining == 0
    expired, entries = expire(ledger, expires)
    assert [(e.kind, e.amount, e.at) for e in entries] == [(EntryKind.EXPIRED, -100, expires)]
    assert expired.batches[0].state is BatchState.EXPIRED
