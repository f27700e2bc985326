"""Workload 3, timers: with a million timers pending, the firing lag (p50, p99) of timers coming due, and how
many timers the worker fires per second when many come due at once.

Real timers: patients booked into the appointment-reminders journey through the live worker, so each pending
timer belongs to a patient state that fires it (3-day reminder, 1-day reminder, the no-show timeout). The rest
of the million are rows due after the measured window: pending, and on the same index the poller scans.
The engine runs on the database clock, moved forward continuously (a virtual day per 1/speed seconds), so a
timer's due time maps to a wall time; it has fired when the worker's commit deletes its row (a trigger on this
workload's own database records clock_timestamp() then). Lag = fired wall time - due wall time.

Ceilings, on a copy of the same million rows: the poller alone (the worker's CLAIM query every
timer_poll_interval, no Kafka, no engine) for the lag, and CLAIM in a tight loop for timers per second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from bench import hospital, kafka
from bench.context import Context
from bench.live import Live, live
from bench.report import Result
from engine.demo.hospital import DEFAULT_START
from engine.worker.timers import CLAIM

TARGET_P99_MS = 1_000.0
DAYS = 400  # the bookings' reminders come due over this many virtual days
FIRED = """
CREATE TABLE bench_fired (timer_id text, due_at timestamptz, fired_at timestamptz);
CREATE FUNCTION bench_fired() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO bench_fired VALUES (OLD.timer_id, OLD.due_at, clock_timestamp()); RETURN OLD; END $$;
CREATE TRIGGER bench_fired AFTER DELETE ON careloop_timers FOR EACH ROW EXECUTE FUNCTION bench_fired();
"""


class VirtualClock:
    """virtual = start + (wall - wall0) * speed; the mapping turns a due time into the wall time it came due."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.start, self.speed, self.wall0 = start, speed, time.time()

    def at(self, wall: float) -> datetime:
        return self.start + timedelta(seconds=(wall - self.wall0) * self.speed)

    def wall(self, due: datetime) -> float:
        return self.wall0 + (due - self.start).total_seconds() / self.speed


def run(ctx: Context) -> list[Result]:
    sizes, services = ctx.sizes, ctx.live()
    settings = services.workload("timers")
    speed = DAYS * 86_400 / sizes.timers_window
    with live(settings) as pipe:
        origin = DEFAULT_START
        pipe.set_clock(origin)
        pipe.conn.execute(FIRED)
        pipe.spawn("worker", "worker")
        pipe.spawn("projections", "projections", "run")
        ctx.say(f"booking {sizes.timers_firing:,} patients (their reminders come due during the window)")
        bookings = hospital.messages(hospital.bookings(sizes.timers_firing, days_ahead=DAYS))
        kafka.publish(services.bootstrap, pipe.topics.clinical, bookings, lambda n: None)
        pipe.wait(lambda: pipe.committed() >= len(bookings), "the worker to commit the bookings", 900, 0.2)
        end = origin + timedelta(days=DAYS + 10)
        pending = _fill(pipe, sizes.timers_pending, after=end + timedelta(days=30))
        ctx.say(f"{pending:,} timers pending; moving the clock {DAYS + 10} virtual days in {sizes.timers_window:.0f} s")
        clock = VirtualClock(origin, speed)
        _move(pipe, clock, end, lambda: None)
        pipe.wait(lambda: _due(pipe, end) == 0, "every timer due in the window to fire", 600, 0.2)
        lags = [(fired.timestamp() - clock.wall(due)) * 1000 for due, fired in pipe.conn.execute(_FIRED_SQL)]
        burst, burst_seconds = _burst(ctx, pipe, end)
        ctx.say("ceilings: the poller alone on a copy of the same rows")
        floor, claim_rate = _ceilings(ctx, pipe, speed)
    notes = f"{len(lags):,} timers fired during the window, {pending:,} pending at its start"
    return [
        *(
            Result(
                f"timers.lag_{name}",
                kafka.percentile(lags, q),
                "ms",
                ceiling=kafka.percentile(floor, q),
                ceiling_is=f"{name} of the poller alone (CLAIM every timer_poll_interval on a copy of the rows)",
                better="lower",
                target=TARGET_P99_MS if name == "p99" else None,
                notes=notes,
            )
            for name, q in (("p50", 50.0), ("p99", 99.0))
        ),
        Result(
            "timers.fired_per_s",
            burst / burst_seconds,
            "timers/s",
            ceiling=claim_rate,
            ceiling_is="the worker's CLAIM query in a tight loop on a copy of the same rows",
            notes=f"{burst:,} timers due at once, all fired in {burst_seconds:.1f} s; the worker claims at most "
            f"timer_batch ({ctx.settings.timer_batch}) per timer_poll_interval ({ctx.settings.timer_poll_interval} s)",
        ),
    ]


_FIRED_SQL = "SELECT due_at, fired_at FROM bench_fired WHERE timer_id NOT LIKE 'filler-%'"


def _fill(pipe: Live, total: int, after: datetime) -> int:
    """Rows up to ``total`` pending, due over the three years after ``after``: never due in this workload."""
    real = pipe.scalar("SELECT count(*) FROM careloop_timers")
    with pipe.conn.cursor().copy("COPY careloop_timers (timer_id, patient_id, instance_id, due_at) FROM STDIN") as c:
        for i in range(max(total - real, 0)):
            c.write_row((f"filler-{i}", f"FILLER{i % 100_000}", "filler", after + timedelta(minutes=i % 1_576_800)))
    pipe.conn.execute("ANALYZE careloop_timers")
    return pipe.scalar("SELECT count(*) FROM careloop_timers")


def _move(pipe: Live, clock: VirtualClock, end: datetime, tick: Callable[[], None], engine: bool = True) -> None:
    """Until the virtual clock reaches ``end``, every 20 ms: set the engine's database clock from it (unless
    ``engine`` is false: the ceiling's poller reads the virtual clock itself) and call ``tick``."""
    while (now := clock.at(time.time())) < end:
        if engine:
            pipe.set_clock(now)
        pipe.stack.check_children()
        tick()
        time.sleep(0.02)
    if engine:
        pipe.set_clock(end)


def _due(pipe: Live, moment: datetime) -> int:
    return pipe.scalar("SELECT count(*) FROM careloop_timers WHERE due_at <= %s", moment)


def _burst(ctx: Context, pipe: Live, after: datetime) -> tuple[int, float]:
    """Book more patients whose first reminders all fall on one day, then jump the clock past it."""
    n = ctx.sizes.timers_burst
    day = after + timedelta(days=1)
    messages = hospital.messages(hospital.bookings(n, first=5_000_000, days_ahead=1, start=day))
    committed = pipe.committed()
    kafka.publish(ctx.live().bootstrap, pipe.topics.clinical, messages, lambda x: None)
    pipe.wait(lambda: pipe.committed() >= committed + n, "the worker to commit the burst's bookings", 600, 0.2)
    target = day + timedelta(days=2)  # past the 3-day reminders (day + 1, 09:00), before the 1-day ones
    due = _due(pipe, target)
    ctx.say(f"burst: {due:,} timers due at once")
    pipe.conn.execute("TRUNCATE bench_fired")
    jumped = time.time()
    pipe.set_clock(target)
    pipe.wait(lambda: _due(pipe, target) == 0, "the burst to fire", 600, 0.05)
    row = pipe.conn.execute("SELECT max(fired_at) FROM bench_fired").fetchone()
    last = row[0].timestamp() if row and row[0] else time.time()
    return due, max(last - jumped, 1e-9)


def _ceilings(ctx: Context, pipe: Live, speed: float) -> tuple[list[float], float]:
    """The poller alone on a copy: its lag over a moving clock, then claims/s in a tight loop."""
    claim = CLAIM.replace("careloop_timers", "bench_timers")
    pipe.conn.execute("DROP TABLE IF EXISTS bench_timers")
    pipe.conn.execute("CREATE TABLE bench_timers (LIKE careloop_timers INCLUDING ALL)")
    origin = DEFAULT_START
    n = ctx.sizes.timers_firing
    with pipe.conn.cursor().copy("COPY bench_timers (timer_id, patient_id, instance_id, due_at) FROM STDIN") as c:
        for i in range(n):  # the window's timers: due spread like the real ones, over the same days
            c.write_row((f"t{i}", f"P{i}", "i", origin + timedelta(days=DAYS * i / n, hours=1)))
    pipe.conn.execute(
        "INSERT INTO bench_timers (timer_id, patient_id, instance_id, due_at) "
        "SELECT timer_id, patient_id, instance_id, due_at FROM careloop_timers WHERE timer_id LIKE 'filler-%'"
    )
    pipe.conn.execute("ANALYZE bench_timers")
    clock = VirtualClock(origin, speed)
    lags: list[float] = []
    interval, batch = ctx.settings.timer_poll_interval, ctx.settings.timer_batch
    end = origin + timedelta(days=DAYS + 1)
    next_poll = time.time()

    def poll() -> None:
        nonlocal next_poll
        if time.time() < next_poll:
            return
        next_poll += interval
        wall = time.time()
        rows = pipe.conn.execute(
            claim, {"now": clock.at(wall), "wall": clock.at(wall), "stale": origin, "limit": batch}
        )
        claimed = time.time()
        lags.extend((claimed - clock.wall(due)) * 1000 for _, _, due in rows)

    _move(pipe, clock, end, poll, engine=False)
    pipe.conn.execute("UPDATE bench_timers SET published_at = NULL")
    due, started = n, time.perf_counter()
    far = end + timedelta(days=1)
    while pipe.conn.execute(claim, {"now": far, "wall": far, "stale": far, "limit": batch}).fetchall():
        pass
    rate = due / (time.perf_counter() - started)
    pipe.conn.execute("DROP TABLE bench_timers")
    return lags, rate
