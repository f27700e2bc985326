"""evolve(state, event) -> state: how each recorded event changes a patient's state. Replay is a fold.

What each event changes is in fold_decisions (the engine's decisions) and fold_inputs (clinical events, the
dispatcher's reports, staff's task changes); here, what every event changes (its clock, its version) and the one
copy of the state that makes the new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType

from engine.journeys.fold_decisions import changes_of
from engine.journeys.state import COPY_STATE, PatientState, PendingMessage
from events.base import Event

# The engine's own source system name; events from it are decisions, everything else is input.
ENGINE_SOURCE = "careloop-engine"


def replay(events: Iterable[Event], state: PatientState) -> PatientState:
    for event in events:
        state = evolve(state, event)
    return state


def evolve(state: PatientState, event: Event) -> PatientState:
    changes = changes_of(state, event)
    clock = state.clock
    if is_engine_event(event):
        moment = event.occurred_at  # engine events occur at the decision's logical time
    else:
        moment = event.recorded_at  # clinical events are applied at their arrival
        last = state.last_occurred_at
        changes["last_occurred_at"] = event.occurred_at if last is None or event.occurred_at > last else last
    now = moment if clock is None or moment > clock else clock
    changes["version"] = state.version + 1
    changes["clock"] = now
    messages = changes.get("messages", state.messages)
    if messages:
        kept = _without_stale(messages, now)
        if kept is not None:
            changes["messages"] = kept
    return COPY_STATE(state, changes)


def _without_stale(messages: Mapping[str, PendingMessage], clock: datetime) -> Mapping[str, PendingMessage] | None:
    """The pending messages without approvals past their stale time, or None when there is none. Such an
    approval is settled as far as the engine cares: the dispatcher never sends it late, so nothing can take it
    back or fall back from it any more."""
    if not any(_stale(m, clock) for m in messages.values()):
        return None
    return MappingProxyType({k: m for k, m in messages.items() if not _stale(m, clock)})


def _stale(m: PendingMessage, clock: datetime) -> bool:
    return m.status == "approved" and m.request.stale_at is not None and m.request.stale_at <= clock


def is_engine_event(event: Event) -> bool:
    return event.source.system == ENGINE_SOURCE


__all__ = ["ENGINE_SOURCE", "PatientState", "evolve", "is_engine_event", "replay"]
