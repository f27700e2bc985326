"""The token bucket on a fake clock: a burst at once, then the rate."""

from __future__ import annotations

import pytest

from engine.dispatch.rate_limit import TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_burst_goes_out_at_once_and_the_rest_at_the_rate() -> None:
    t = FakeTime()
    bucket = TokenBucket(rate=5.0, burst=2, clock=t.clock, sleep=t.sleep)
    for _ in range(8):
        bucket.acquire()
    assert t.now == pytest.approx((8 - 2) / 5.0)


def test_an_idle_gateway_earns_back_its_burst_but_no_more() -> None:
    t = FakeTime()
    bucket = TokenBucket(rate=1.0, burst=3, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        assert bucket.acquire() == 0.0
    t.now += 100.0  # idle for a long time
    waits = [bucket.acquire() for _ in range(4)]
    assert waits == [0.0, 0.0, 0.0, pytest.approx(1.0)]


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(rate=0, burst=1)
