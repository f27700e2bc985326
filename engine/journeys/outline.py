"""A journey as readable text and as a Mermaid flowchart, for `careloop show`. Pure."""

from __future__ import annotations

from engine.journeys import definition as d
from engine.journeys.calendar_definition import CalendarEntry, CalendarSpec
from engine.journeys.evaluate import describe


def outline(j: d.Journey) -> str:
    lines = [f"{j.name}  [{j.id} v{j.version}]"]
    if j.description:
        lines.append(f"  {j.description.strip()}")
    when = " and ".join(describe(c) for c in j.entry.when)
    key = f", one per {j.entry.key}" if j.entry.key else ""
    if isinstance(j.entry, CalendarEntry):
        lines.append(
            f"  enters on {calendar_words(j.entry.calendar)}{' where ' + when if when else ''} (once a season)"
        )
    else:
        lines.append(
            f"  enters on {j.entry.event}{' where ' + when if when else ''}{key} (re-entry: {j.entry.reentry})"
        )
    for kind, triggers in (("exits", j.exit), ("goals", j.goals)):
        for t in triggers:
            lines.append(f"  {kind[:-1]}: {t.event}{' (same key)' if t.same_key else ''} -> {t.outcome or t.event}")
    lines.append("  steps:")
    for n, step in enumerate(j.steps, 1):
        lines.append(f"    {n}. {step.id}: {_say(step)}")
        nxt = j.next_after(step.id)
        if step.next:
            lines.append(f"       then go to {nxt}")
    return "\n".join(lines)


def calendar_words(spec: CalendarSpec) -> str:
    """'初伏 -2mo at 09:00 (patient time), on or after a working day, joining within 45d, spread over 2h'."""
    words = f"{spec.calendar_rule()} at {spec.at.strftime('%H:%M')} ({spec.timezone} time)"
    if spec.working_day != "none":
        words += f", moved to a working day {spec.working_day.replace('_', ' ')} it"
    if spec.join_within.approx_timedelta():
        words += f", joining within {spec.join_within}"
    return words + (f", spread over {spec.spread}" if spec.spread else "")


def _say_wait(w: d.WaitSpec) -> str:
    at = f" at {w.at.strftime('%H:%M')} ({w.timezone} time)" if w.at else ""
    if w.calendar is not None:
        return f"wait {w.offset} from {w.calendar.rule()} of the season{at}"
    return f"wait {w.offset} from {w.from_}{at}"


def _say(step: d.AnyStep) -> str:
    if isinstance(step, d.WaitStep):
        return _say_wait(step.wait)
    if isinstance(step, d.AttendedStep):
        return f"record attendance of {step.attended.visit}"
    if isinstance(step, d.WaitForStep):
        outs = "; ".join(f"{o.event} -> {o.goto}" for o in step.wait_for.events)
        return f"wait up to {step.wait_for.timeout} for {outs}; else -> {step.wait_for.on_timeout}"
    if isinstance(step, d.BranchStep):
        cases = "; ".join(f"if {' and '.join(describe(c) for c in k.when)} -> {k.goto}" for k in step.branch.cases)
        return f"{cases}; otherwise -> {step.branch.otherwise}"
    if isinstance(step, d.SplitStep):
        arms = ", ".join(f"{a.name} {a.weight} -> {a.goto}{' (holdout)' if a.holdout else ''}" for a in step.split.arms)
        return f"split patients: {arms}"
    if isinstance(step, d.MessageStep):
        m = step.message
        return f"send {m.template} via {', '.join(m.channels)} ({m.category}, priority {m.priority})"
    if isinstance(step, d.TaskStep):
        return f"task for {step.task.queue}: {step.task.title} (SLA {step.task.sla}, {step.task.priority})"
    if isinstance(step, d.FlagStep):
        return f"raise churn flag '{step.flag.reason}' (+{step.flag.weight})"
    if isinstance(step, d.ClearFlagStep):
        return f"clear churn flag {step.clear_flag.reason or '(all of this journey)'}"
    if isinstance(step, d.CountStep):
        c = step.count
        return f"{c.counter} = {c.set}" if c.set is not None else f"{c.counter} += {c.add}"
    if isinstance(step, d.StartStep):
        return f"start journey {step.start.journey}"
    if isinstance(step, d.EndStep):
        return f"end ({step.end.outcome})"
    return type(step).__name__


def mermaid(j: d.Journey) -> str:
    start = calendar_words(j.entry.calendar) if isinstance(j.entry, CalendarEntry) else j.entry.event
    lines = ["flowchart TD", f'  entry(["{start}"])']
    ids = [s.id for s in j.steps]
    node = {sid: f"s{n}" for n, sid in enumerate(ids)}
    node[d.END] = "done"
    for step in j.steps:
        label = _say(step).replace('"', "'")
        shape = ('{"', '"}') if isinstance(step, d.BranchStep | d.SplitStep | d.WaitForStep) else ('["', '"]')
        lines.append(f"  {node[step.id]}{shape[0]}{step.id}: {label}{shape[1]}")
    lines.append('  done(["end"])')
    lines.append(f"  entry --> {node[ids[0]]}")
    for i, step in enumerate(j.steps):
        for label, target in _edges(step, ids[i + 1] if i + 1 < len(ids) else d.END):
            arrow = f" -->|{label}| " if label else " --> "
            lines.append(f"  {node[step.id]}{arrow}{node[target]}")
    return "\n".join(lines)


def _edges(step: d.AnyStep, following: str) -> list[tuple[str, str]]:
    if isinstance(step, d.EndStep):
        return [("", d.END)]
    if isinstance(step, d.WaitForStep):
        return [(o.event, o.goto) for o in step.wait_for.events] + [("timeout", step.wait_for.on_timeout)]
    if isinstance(step, d.BranchStep):
        return [(c.name or f"case {n}", c.goto) for n, c in enumerate(step.branch.cases, 1)] + [
            ("otherwise", step.branch.otherwise)
        ]
    if isinstance(step, d.SplitStep):
        return [(a.name, a.goto) for a in step.split.arms]
    return [("", step.next or following)]
