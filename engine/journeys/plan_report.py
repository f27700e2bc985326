"""A deployment's migration plan as text: per journey version, how many running instances move, follow the map
or finish on their version, and at which step why; with ``detail``, one line per instance. Pure."""

from __future__ import annotations

from engine.journeys.migration import Plan


def render(plan: Plan, detail: bool = False) -> str:
    head = f"deployment {plan.deployment_id}, effective {plan.effective_at.isoformat()}"
    if not plan.groups:
        return f"{head}: no running instance is affected\n"
    out = [f"{head}:"]
    for g in plan.groups:
        total = g.move + g.mapped + g.keep
        out.append(
            f"  {g.journey_id} v{g.from_version} → v{g.to_version}: {total} running"
            f" ({g.move} move, {g.mapped} mapped, {g.keep} keep)"
        )
        for step_id, outcome, why, count in g.steps:
            out.append(f"    {count:>6}  {outcome:<6}  at {step_id}: {why}")
    if detail:
        out.append("  instances:")
        for line in plan.lines:
            out.append(
                f"    {line.patient_id}  {line.instance_id}  {line.journey_id} v{line.from_version}"
                f"  {line.step_id}  {line.outcome}: {line.reason}"
            )
    return "\n".join(out) + "\n"
