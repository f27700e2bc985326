"""A small synthetic hospital run up to a fixed moment, with the world around the engine answering it.

The demo's generator (engine.demo.hospital) invents the patients and their clinical events; the pure core
(Simulation) decides, hour by hour, as the live worker would; and what the live stack's other parts would report
back is made up deterministically and fed in as they would: the dispatcher's reports (engine.dispatch.outcomes),
gateways' receipts and patients' replies (the webhook's mapping, connectors.outreach.mapping) and staff working
their tasks (the events `careloop tasks` publishes). Every ``record_every`` of virtual time, ``on_round`` is
called, so a caller can record what was decided into the store and let the projection runner follow it.

Nothing that happens after ``now`` is fed: the result is the hospital as it stands at that moment.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from connectors.outreach.directory import Sent
from connectors.outreach.mapping import to_event
from connectors.outreach.payloads import Receipt, Reply
from engine.demo.hospital import generate
from engine.dispatch import outcomes
from engine.journeys.catalog import Catalog
from engine.journeys.simulation import Simulation
from engine.store.application import JourneyStore
from events import journey as jo
from events import tasks as ta
from events.base import Event, Source

STEP = timedelta(hours=1)  # how often the worker's timers fire and the outside world answers
WEBHOOK = "careloop-webhook"
STAFF = "careloop-cli"
REPLY_TEXT = "收到，谢谢"  # what patients write back: free text that must never reach a read model

# What becomes of each approved message, in turn: reports after the approval, (delay, what) each.
MESSAGE_FATES: tuple[tuple[str, tuple[tuple[timedelta, str], ...]], ...] = (
    ("delivered", ((timedelta(minutes=1), "sent"), (timedelta(minutes=4), "delivered"))),
    ("replied", ((timedelta(minutes=1), "sent"), (timedelta(minutes=4), "delivered"), (timedelta(hours=3), "replied"))),
    # The receipt comes hours after the patient answered: the row stays replied.
    (
        "reply-before-receipt",
        ((timedelta(minutes=1), "sent"), (timedelta(minutes=20), "replied"), (timedelta(hours=6), "delivered")),
    ),
    # Accepted by the gateway, then bounced: the engine falls back to the next channel, if any.
    ("bounced", ((timedelta(minutes=1), "sent"), (timedelta(minutes=10), "bounced"))),
    ("no-receipt", ((timedelta(minutes=1), "sent"),)),
    ("delivered", ((timedelta(minutes=1), "sent"), (timedelta(minutes=30), "delivered"))),
    # The dispatcher could not hand it to any gateway: no send, a failure.
    ("unsendable", ((timedelta(minutes=2), "unsendable"),)),
)
# What staff do with each task, in turn: (delay after creation, action) each.
TASK_FATES: tuple[tuple[tuple[timedelta, str], ...], ...] = (
    (),
    ((timedelta(hours=1), "claim"),),
    ((timedelta(hours=1), "claim"), (timedelta(hours=5), "close")),
    ((timedelta(hours=1), "claim"), (timedelta(hours=2), "release")),
    ((timedelta(minutes=30), "close"),),
)


class Recorder:
    """Records each patient's new decisions and inputs into the journey store, as the live worker commits them."""

    def __init__(self, store: JourneyStore) -> None:
        self.store, self.done = store, dict[str, int]()

    def __call__(self, sim: Simulation) -> None:
        for patient_id, events in sim.recorded.items():
            new = events[self.done.get(patient_id, 0) :]
            if new:
                aggregate = self.store.load([patient_id])[patient_id]
                aggregate.record(new)
                self.store.save(aggregate)
                self.done[patient_id] = len(events)


class Hospital:
    def __init__(
        self,
        catalog: Catalog,
        patients: int,
        seed: int,
        days: int,
        now: datetime,
        clinical: Iterable[Event] | None = None,
    ) -> None:
        """``clinical``: the hospital's clinical events, when not the generator's for (patients, seed, days)."""
        self.patients, self.seed, self.days, self.now = patients, seed, days, now
        self.clinical = clinical
        self.sim = Simulation(catalog)
        self.keywords = catalog.outreach.consent_by_reply.classify  # as the webhook classifies replies
        self._inputs: list[tuple[datetime, int, Event]] = []  # what arrives next: (recorded_at, order, event)
        self._order = itertools.count()
        self._seen: dict[str, int] = {}  # per patient, how many recorded events have been looked at
        self._messages = itertools.count()
        self._tasks = itertools.count()

    def run(self, record_every: timedelta, on_round: Callable[[], None]) -> Simulation:
        clinical = self.clinical
        for e in generate(patients=self.patients, seed=self.seed, days=self.days) if clinical is None else clinical:
            self._push(e)
        clock = self._inputs[0][0] - STEP
        next_round = clock + record_every
        while clock < self.now:
            clock = min(clock + STEP, self.now)
            self._step(clock)
            if clock >= next_round:
                on_round()
                next_round += record_every
        while self._inputs and self._inputs[0][0] <= self.now:  # what answered in the last hour
            self._step(self.now)
        on_round()
        return self.sim

    def _step(self, clock: datetime) -> None:
        arrived = []
        while self._inputs and self._inputs[0][0] <= clock:
            arrived.append(heapq.heappop(self._inputs)[2])
        self.sim.feed(arrived)
        self.sim.run_until(clock)
        for e in self._decided():
            if isinstance(e, jo.MessageApproved):
                self._answer(e)
            elif isinstance(e, jo.TaskCreated):
                self._work(e)

    def _decided(self) -> Iterator[Event]:
        """The events recorded since the last call, patient by patient, in order."""
        for patient_id, events in self.sim.recorded.items():
            yield from events[self._seen.get(patient_id, 0) :]
            self._seen[patient_id] = len(events)

    def _push(self, e: Event) -> None:
        if e.recorded_at <= self.now:  # what happens later has not happened yet
            heapq.heappush(self._inputs, (e.recorded_at, next(self._order), e))

    def _answer(self, approved: jo.MessageApproved) -> None:
        _, reports = MESSAGE_FATES[next(self._messages) % len(MESSAGE_FATES)]
        for delay, what in reports:
            self._push(report(approved, what, approved.occurred_at + delay, self.keywords))

    def _work(self, created: jo.TaskCreated) -> None:
        for delay, action in TASK_FATES[next(self._tasks) % len(TASK_FATES)]:
            self._push(staff(created, action, created.occurred_at + delay))


def report(
    approved: jo.MessageApproved, what: str, when: datetime, keywords: Callable[[str | None], str | None]
) -> Event:
    """What the dispatcher (sent, unsendable) or the webhook (a receipt, a reply) publishes about a message."""
    if what in ("sent", "unsendable"):
        approval = outcomes.Approval(
            message_id=approved.message_id,
            attempt=approved.attempt,
            patient_id=approved.patient_id,
            instance_id=approved.instance_id,
            event_id=approved.event_id,
            template=approved.template,
            channel=approved.channel,
            locale=approved.locale,
            variables=approved.variables,
            status="sending",
            tries=1,
            withdrawn=False,
        )
        if what == "sent":
            return outcomes.sent(approval, f"{approved.channel}-gateway", f"ref-{approved.message_id}", when)
        return outcomes.failed(approval, "no gateway accepted it", when)
    sent = Sent(approved.message_id, approved.patient_id, approved.instance_id, approved.channel, approved.attempt)
    channel = approved.channel
    if what == "replied":
        payload: Receipt | Reply = Reply(message_id=approved.message_id, channel=channel, text=REPLY_TEXT)
    elif what == "delivered":
        payload = Receipt(message_id=approved.message_id, channel=channel, status="delivered", at=when)
    else:
        payload = Receipt(message_id=approved.message_id, channel=channel, status="failed", reason="bounced", at=when)
    return to_event(payload, sent, when, WEBHOOK, keywords).event


def staff(created: jo.TaskCreated, action: str, when: datetime) -> Event:
    """What `careloop tasks claim|release|close` publishes."""
    nurse = "nurse-li"
    source = Source(system=STAFF, message_id=f"task:{created.task_id}:{action}:{nurse}:{when.isoformat()}")
    common: dict[str, Any] = {"source": source, "patient_id": created.patient_id, "occurred_at": when}
    common.update(recorded_at=when, task_id=created.task_id)
    event: Event
    if action == "claim":
        event = ta.TaskClaimed.create(**common, assignee=nurse)
    elif action == "release":
        event = ta.TaskReleased.create(**common, by=nurse)
    else:
        event = ta.TaskClosed.create(**common, outcome="reached", by=nurse)
    return event
