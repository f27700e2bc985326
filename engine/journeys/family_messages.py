"""A message step's requests, one per recipient (recipients.py routes them), each decided by the outreach policy.

A patient without relatives who is not a minor gets the one request they always got, under the same id, and
nothing else is recorded. Otherwise ``message.routed`` comes first, naming each recipient with the message
requested for them and each one skipped with the rule and why; then each request and its decision in turn. When
nobody may receive it (a child without a consenting guardian), the step is recorded as not run, saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.journeys import definition as d
from engine.journeys import outreach
from engine.journeys.explain_family import ref
from engine.journeys.recipients import Recipient, Routing, information_of, route
from engine.journeys.run import Run
from engine.journeys.state import Instance
from engine.journeys.variables import recipient_variables
from events import journey as jo
from events import relationships as rs

MessageId = Callable[..., str]  # the step's message id, given the relation id of a relative's copy (none: the patient)


def request(run: Run, inst: Instance, spec: d.MessageSpec, message_id: MessageId, **fields: Any) -> None:
    """Request the step's message of ``spec`` for each recipient and decide each. ``fields`` are those of
    ``message.requested`` the step fills (step ids, template, channels, timing, variables); ``message_id()`` is the
    patient's message id and ``message_id(relation_id)`` a relative's."""
    information = information_of(spec.category, spec.information)
    policy = run.catalog.outreach.family
    routing = route(run.state, policy, spec.to, spec.category, information, run.now)
    ids = {r.relation_id: message_id(r.relation_id) if r.relation_id else message_id() for r in routing.recipients}
    if routing.routed:
        _routed(run, inst, routing, ids, fields)
    if not routing.recipients:
        why = "; ".join(s.why for s in routing.skipped) or "nobody to send it to"
        run.emit(jo.StepSkipped, instance=inst, **_step(fields), reason=f"message {spec.template} not sent: {why}")
        return
    for r in routing.recipients:
        run.emit(
            jo.MessageRequested,
            instance=inst,
            **{**fields, "variables": recipient_variables(fields.get("variables", {}), _role(r))},
            message_id=ids[r.relation_id],
            recipient=None if r.relation_id is None else rs.Recipient(relation_id=r.relation_id, role=r.role),
            information=information,
        )
        outreach.decide_message(run, ids[r.relation_id])


def _routed(run: Run, inst: Instance, routing: Routing, ids: dict[str | None, str], fields: dict[str, Any]) -> None:
    to = [
        jo.RoutedRecipient(relation_id=r.relation_id, role=_role(r), message_id=ids[r.relation_id])
        for r in routing.recipients
    ]
    skipped = [
        jo.SkippedRecipient(
            relation_id=s.relation_id, role=None if s.relation_id is None else s.role, rule=s.rule, why=s.why
        )
        for s in routing.skipped
    ]
    names = [
        ("the patient" if r.relation_id is None else f"{r.role} ({ref(r.relation_id)})") for r in routing.recipients
    ]
    run.emit(
        jo.MessageRouted,
        instance=inst,
        step_id=fields.get("step_id"),
        recipients=tuple(to),
        skipped=tuple(skipped),
        reason=f"to {', '.join(names) or 'nobody'}" + "".join(f"; not to {_who(s)}: {s.why}" for s in routing.skipped),
    )


def _role(r: Recipient) -> Any:
    return None if r.relation_id is None else r.role


def _who(s: Any) -> str:
    return "the patient" if s.relation_id is None else f"{s.role} ({ref(s.relation_id)})"


def _step(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: fields[k] for k in ("step_id", "next_step_id") if k in fields}
