"""A member's points ledger, told as stories: earning, spending oldest first, pending points released, expiry,
a cancelled visit taken back after part of it was spent, adjustments, and what each refusal says."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.loyalty import (
    AdjustmentConflictError,
    AlreadyReversedError,
    Balances,
    DuplicateCauseError,
    EntryKind,
    InsufficientPointsError,
    InvalidOperationError,
    Ledger,
    OutOfOrderError,
    UnknownEarningError,
    adjust,
    balances,
    earn,
    expire,
    expiring_before,
    qualifying,
    release,
    reverse,
    spend,
    sum_of_entries,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
JAN_5 = datetime(2026, 1, 5, 10, 0, tzinfo=SHANGHAI)
FEB_5_END = datetime(2026, 2, 5, 23, 59, tzinfo=SHANGHAI)  # a month after JAN_5, at the end of that day


def days(n: float) -> timedelta:
    return timedelta(days=n)


def test_earning_adds_a_batch_that_is_available_and_qualifying() -> None:
    ledger, entries = earn(Ledger(), 300, "visit-1", JAN_5, reason="completed follow-up visit")

    assert [(e.kind, e.amount, e.redeemable, e.qualifying) for e in entries] == [(EntryKind.EARNED, 300, True, True)]
    assert balances(ledger, JAN_5) == Balances(available=300, pending=0, qualifying=300)
    assert ledger.batches[0].remaining == 300 and ledger.batches[0].cause_id == "visit-1"


def test_a_qualifying_only_earning_counts_towards_tiers_but_cannot_be_spent() -> None:
    ledger, _ = earn(Ledger(), 200, "course-1", JAN_5, redeemable=False, reason="finished a course")

    assert balances(ledger, JAN_5) == Balances(available=0, pending=0, qualifying=200)
    with pytest.raises(InsufficientPointsError, match="cannot spend 1 points: 0 available"):
        spend(ledger, 1, "gift-1", JAN_5 + days(1))


def test_spending_takes_the_oldest_earned_batch_first_then_the_one_expiring_first() -> None:
    ledger, _ = earn(Ledger(), 100, "no-expiry", JAN_5, reason="referral")
    ledger, _ = earn(ledger, 100, "late", JAN_5, expires_at=JAN_5.replace(minute=59) + days(300), reason="visit")
    ledger, _ = earn(
        ledger, 100, "early", JAN_5 + days(1), expires_at=JAN_5.replace(minute=59) + days(30), reason="visit"
    )
    ledger, _ = earn(
        ledger, 100, "late-too", JAN_5 + days(2), expires_at=JAN_5.replace(minute=59) + days(300), reason="visit"
    )

    ledger, entries = spend(ledger, 250, "gift-1", JAN_5 + days(3), reason="redeemed a parking voucher")

    # "late" and "no-expiry" were earned at the same instant: the one with an expiry goes first; "early" was earned
    # a day later, so it is taken after both although it expires first
    taken = {ledger.batches[int(e.batch_id[1:]) - 1].cause_id: -e.amount for e in entries if e.batch_id}
    assert taken == {"late": 100, "no-expiry": 100, "early": 50}
    assert [e.kind for e in entries] == [EntryKind.SPENT] * 3
    assert balances(ledger, JAN_5 + days(3)).available == 150


def test_pending_points_cannot_be_spent_until_released() -> None:
    confirmed = JAN_5 + days(2)
    ledger, entries = earn(Ledger(), 180, "visit-1", JAN_5, available_at=confirmed, reason="visit not yet confirmed")
    assert entries[0].kind is EntryKind.PENDING_EARNED
    assert balances(ledger, JAN_5 + days(1)) == Balances(available=0, pending=180, qualifying=0)

    with pytest.raises(InsufficientPointsError) as refused:
        spend(ledger, 100, "gift-1", JAN_5 + days(1))
    assert (
        str(refused.value)
        == "cannot spend 100 points: 0 available (180 pending until 2026-01-07 10:00 +08:00 at the earliest)"
    )

    ledger, entries = release(ledger, confirmed)
    assert [(e.kind, e.amount, e.at) for e in entries] == [(EntryKind.BECAME_AVAILABLE, 180, confirmed)]
    assert balances(ledger, confirmed) == Balances(available=180, pending=0, qualifying=180)
    ledger, _ = spend(ledger, 100, "gift-1", confirmed + days(1))
    assert balances(ledger, confirmed + days(1)).available == 80


def test_qualifying_points_count_in_the_period_they_became_available() -> None:
    ledger, _ = earn(Ledger(), 100, "visit-1", JAN_5, reason="visit")
    ledger, _ = earn(ledger, 50, "visit-2", JAN_5 + days(1), available_at=JAN_5 + days(40), reason="visit")
    ledger, _ = release(ledger, JAN_5 + days(41))

    january = (datetime(2026, 1, 1, tzinfo=SHANGHAI), datetime(2026, 2, 1, tzinfo=SHANGHAI))
    february = (january[1], datetime(2026, 3, 1, tzinfo=SHANGHAI))
    assert qualifying(ledger, *january) == 100
    assert qualifying(ledger, *february) == 50


def test_a_batch_expires_exactly_at_its_minute_with_what_remained_in_it() -> None:
    expires = FEB_5_END
    ledger, _ = earn(Ledger(), 300, "visit-1", JAN_5, expires_at=expires, reason="visit")
    ledger, _ = spend(ledger, 120, "gift-1", JAN_5 + days(1))

    assert expiring_before(ledger, expires)[0].remaining == 180
    assert balances(ledger, expires - timedelta(minutes=1)).available == 180
    assert balances(ledger, expires).available == 0
    ledger, entries = expire(ledger, expires + days(3))
    assert [(e.kind, e.amount, e.at, e.qualifying) for e in entries] == [(EntryKind.EXPIRED, -180, expires, False)]
    assert balances(ledger, expires + days(3)) == Balances(available=0, pending=0, qualifying=300)


def test_spending_refuses_expired_points_and_says_when_they_expired() -> None:
    expires = FEB_5_END
    ledger, _ = earn(Ledger(), 100, "visit-1", JAN_5, expires_at=expires, reason="visit")
    ledger, _ = earn(ledger, 320, "visit-2", JAN_5 + days(1), reason="visit")
    ledger, _ = earn(
        ledger, 180, "visit-3", JAN_5 + days(2), available_at=datetime(2026, 3, 2, 10, tzinfo=SHANGHAI), reason="visit"
    )

    with pytest.raises(InsufficientPointsError) as refused:
        spend(ledger, 500, "gift-1", datetime(2026, 2, 20, tzinfo=SHANGHAI))

    assert str(refused.value) == (
        "cannot spend 500 points: 320 available (180 pending until 2026-03-02 10:00 +08:00 at the earliest; "
        "100 expired, the last on 2026-02-05 23:59 +08:00)"
    )
    assert refused.value.cause_id == "gift-1"


def test_an_allowed_negative_balance_becomes_a_debt_that_new_points_repay_first() -> None:
    ledger, _ = earn(Ledger(), 100, "visit-1", JAN_5, reason="visit")
    ledger, entries = spend(ledger, 150, "gift-1", JAN_5 + days(1), allow_negative=True)
    assert [(e.amount, e.batch_id) for e in entries] == [(-100, "b1"), (-50, None)]
    assert balances(ledger, JAN_5 + days(1)).available == -50

    ledger, entries = earn(ledger, 80, "visit-2", JAN_5 + days(2), reason="visit")
    assert [(e.kind, e.amount) for e in entries] == [(EntryKind.EARNED, 80), (EntryKind.DEBT_REPAID, -50)]
    assert balances(ledger, JAN_5 + days(2)).available == 30 and ledger.debt == 0 and ledger.batches[1].remaining == 30


def test_reversing_a_partly_spent_visit_takes_the_spent_part_from_other_points() -> None:
    ledger, _ = earn(Ledger(), 300, "visit-1", JAN_5, reason="visit")
    ledger, _ = spend(ledger, 200, "gift-1", JAN_5 + days(1))
    ledger, _ = earn(ledger, 250, "visit-2", JAN_5 + days(2), reason="visit")

    ledger, entries = reverse(ledger, "visit-1", JAN_5 + days(3), reason="visit cancelled (A11)")

    assert [(e.kind, e.amount, e.batch_id, e.redeemable, e.qualifying) for e in entries] == [
        (EntryKind.REVERSED, -100, "b1", True, False),
        (EntryKind.REVERSED, -300, "b1", False, True),
        (EntryKind.REVERSED, -200, "b2", True, False),
    ]
    assert all(e.cause_id == "visit-1" for e in entries)
    assert balances(ledger, JAN_5 + days(3)) == Balances(available=50, pending=0, qualifying=250)


def test_reversing_a_spent_visit_without_enough_other_points_is_refused_unless_negative_is_allowed() -> None:
    ledger, _ = earn(Ledger(), 300, "visit-1", JAN_5, reason="visit")
    ledger, _ = spend(ledger, 200, "gift-1", JAN_5 + days(1))
    ledger, _ = earn(ledger, 120, "visit-2", JAN_5 + days(2), reason="visit")

    with pytest.raises(InsufficientPointsError) as refused:
        reverse(ledger, "visit-1", JAN_5 + days(3), reason="visit cancelled")
    assert str(refused.value) == (
        "cannot reverse the 300 points earned for this cause: 200 of them were already spent and only 120 other "
        "points are available, and the programme does not allow a negative balance"
    )

    ledger_, entries = reverse(ledger, "visit-1", JAN_5 + days(3), reason="visit cancelled", allow_negative=True)
    assert entries[-1].amount == -80 and entries[-1].batch_id is None
    assert balances(ledger_, JAN_5 + days(3)).available == -80 and ledger_.debt == 80


def test_a_forgiving_reversal_takes_what_it_can_and_leaves_the_rest_for_the_caller_to_record() -> None:
    ledger, _ = earn(Ledger(), 300, "visit-1", JAN_5, reason="visit")
    ledger, _ = spend(ledger, 200, "gift-1", JAN_5 + days(1))
    ledger, _ = earn(ledger, 120, "visit-2", JAN_5 + days(2), reason="visit")

    ledger, entries = reverse(ledger, "visit-1", JAN_5 + days(3), reason="visit cancelled", forgive=True)

    # the 100 left of visit-1 and all 120 of visit-2 (80 of the spent 200 could not be taken: no debt)
    assert sorted((e.batch_id, e.amount) for e in entries if e.redeemable) == [("b1", -100), ("b2", -120)]
    assert balances(ledger, JAN_5 + days(3)) == Balances(available=0, pending=0, qualifying=120)
    assert ledger.debt == 0


def test_reversing_a_pending_earning_takes_it_from_pending_and_expired_points_are_not_taken_twice() -> None:
    ledger, _ = earn(Ledger(), 180, "visit-1", JAN_5, available_at=JAN_5 + days(5), reason="visit")
    ledger, entries = reverse(ledger, "visit-1", JAN_5 + days(1), reason="visit cancelled")
    assert [(e.kind, e.amount) for e in entries] == [(EntryKind.PENDING_REVERSED, -180)]
    assert balances(ledger, JAN_5 + days(10)) == Balances(available=0, pending=0, qualifying=0)

    expires = FEB_5_END
    ledger, _ = earn(ledger, 100, "visit-2", JAN_5 + days(2), expires_at=expires, reason="visit")
    ledger, _ = earn(ledger, 40, "visit-3", JAN_5 + days(3), reason="visit")
    ledger, _ = reverse(ledger, "visit-2", expires + days(1), reason="refund")
    assert balances(ledger, expires + days(1)) == Balances(available=40, pending=0, qualifying=40)


def test_reversing_twice_or_reversing_what_was_never_earned_is_refused() -> None:
    ledger, _ = earn(Ledger(), 100, "visit-1", JAN_5, reason="visit")
    ledger, _ = spend(ledger, 10, "gift-1", JAN_5)

    with pytest.raises(UnknownEarningError, match="never recorded: nothing was recorded for this cause"):
        reverse(ledger, "visit-9", JAN_5, reason="visit cancelled")
    with pytest.raises(UnknownEarningError, match="the cause id belongs to an entry of kind 'spent'"):
        reverse(ledger, "gift-1", JAN_5, reason="visit cancelled")
    ledger, _ = reverse(ledger, "visit-1", JAN_5, reason="visit cancelled", allow_negative=True)
    with pytest.raises(AlreadyReversedError, match="already reversed"):
        reverse(ledger, "visit-1", JAN_5, reason="visit cancelled")


def test_a_repeated_spending_or_earning_is_refused_as_a_duplicate() -> None:
    ledger, _ = earn(Ledger(), 100, "visit-1", JAN_5, reason="visit")
    ledger, _ = spend(ledger, 10, "gift-1", JAN_5)

    duplicate = "refused as a duplicate: the cause id"
    with pytest.raises(
        DuplicateCauseError,
        match=f"{duplicate} was already recorded by an entry of kind 'spent' at 2026-01-05 10:00 \\+08:00",
    ):
        spend(ledger, 10, "gift-1", JAN_5 + days(1))
    with pytest.raises(DuplicateCauseError, match="by an entry of kind 'earned'"):
        earn(ledger, 100, "visit-1", JAN_5 + days(1), reason="visit")
    assert balances(ledger, JAN_5 + days(1)).available == 90


def test_an_adjustment_is_recognised_by_its_external_id() -> None:
    ledger, entries = adjust(Ledger(), 50, "ticket-7", JAN_5, "goodwill after a long wait")
    assert [(e.kind, e.amount, e.qualifying) for e in entries] == [(EntryKind.ADJUSTED, 50, False)]

    again, entries = adjust(ledger, 50, "ticket-7", JAN_5 + days(1), "goodwill after a long wait")
    assert again is ledger and entries == ()
    with pytest.raises(AdjustmentConflictError, match="already adjusted by 50 points"):
        adjust(ledger, 60, "ticket-7", JAN_5 + days(1), "goodwill")

    ledger, entries = adjust(ledger, -20, "ticket-8", JAN_5 + days(1), "keyed twice by the front desk")
    assert [(e.kind, e.amount, e.batch_id) for e in entries] == [(EntryKind.ADJUSTED, -20, "b1")]
    with pytest.raises(InsufficientPointsError, match="cannot adjust by -40 points: 30 available"):
        adjust(ledger, -40, "ticket-9", JAN_5 + days(2), "correction")


def test_operations_refuse_naive_times_bad_amounts_and_times_out_of_order() -> None:
    ledger, _ = earn(Ledger(), 100, "visit-1", JAN_5, reason="visit")

    with pytest.raises(InvalidOperationError, match="at must be an aware datetime"):
        spend(ledger, 10, "gift-1", datetime(2026, 1, 6))
    with pytest.raises(InvalidOperationError, match="cannot spend 0 points: the amount must be a whole number above"):
        spend(ledger, 0, "gift-1", JAN_5)
    with pytest.raises(OutOfOrderError, match="at 2026-01-04 10:00 \\+08:00 is before the ledger's last operation"):
        spend(ledger, 10, "gift-1", JAN_5 - days(1))
    with pytest.raises(InvalidOperationError, match="not on a minute"):
        earn(ledger, 10, "visit-2", JAN_5, expires_at=JAN_5 + timedelta(days=3, seconds=30), reason="visit")
    with pytest.raises(InvalidOperationError, match="is not after the points become available"):
        earn(ledger, 10, "visit-2", JAN_5, expires_at=JAN_5 + days(1), available_at=JAN_5 + days(2), reason="visit")
    with pytest.raises(InvalidOperationError, match="neither redeemable nor qualifying"):
        earn(ledger, 10, "visit-2", JAN_5, qualifying=False, redeemable=False, reason="visit")


def test_the_entries_say_everything_the_batches_hold() -> None:
    ledger, _ = earn(Ledger(), 300, "visit-1", JAN_5, reason="visit")
    ledger, _ = spend(ledger, 100, "gift-1", JAN_5 + days(1))
    ledger, _ = adjust(ledger, 25, "ticket-1", JAN_5 + days(2), "goodwill")

    assert sum_of_entries(ledger.entries) == ledger.totals() == Balances(available=225, pending=0, qualifying=300)
    assert [e.id for e in ledger.entries] == ["e1", "e2", "e3"]
