"""The demo's closing table: return rates by journey and arm with 95 % intervals, beside the model's true effect.

Every number comes from `careloop report experiment` (engine.reports: its SQL over the analytics views and its
statistics); this module only chooses, per journey the behavioural model covers, the experiment and endpoint the
model's effect is measured on, and lays the results out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.demo.behaviour import Behaviour, Effect
from engine.reports import charts
from engine.reports.base import Query, Table
from engine.reports.catalog import EXPERIMENT
from engine.reports.experiment import run_experiment
from projections.experiments.projection import split_experiment_id


@dataclass(frozen=True, slots=True)
class Measured:
    journey_id: str
    experiment_id: str
    effect: Effect
    table: Table  # the experiment report for this journey, experiment and endpoint

    @property
    def comparison(self) -> dict[str, Any] | None:
        """The treated arm against the holdout (the report's comparison), if the report made one."""
        found = [c for c in self.table.extra.get("comparisons", []) if c["journey"] == self.journey_id]
        return found[0] if len(found) == 1 else None


def experiment_id(behaviour: Behaviour, journey_id: str) -> str:
    """The id the experiments projection gives the assignment ``journey_id``'s effect is measured on."""
    if behaviour.effects[journey_id].experiment == "split":
        split = behaviour.splits[journey_id]
        return split_experiment_id(journey_id, split.step_id, split.salt)
    if behaviour.holdout is None:
        raise ValueError(f"{journey_id}'s effect is measured against a global holdout, and none is configured")
    return behaviour.holdout.id


def measure(conn: Any, behaviour: Behaviour, holdout: Mapping[str, Any]) -> list[Measured]:
    """Run the experiment report once per journey the model covers, on that journey's endpoint and window, with the
    global holdout's leakage check (``holdout``: engine.reports.holdout.holdout_options of the demo's journeys)."""
    found = []
    for journey_id, effect in behaviour.effects.items():
        experiment = experiment_id(behaviour, journey_id)
        options = {
            "experiment": experiment,
            "journey": journey_id,
            "endpoint": effect.endpoint,
            "window": effect.window_days,
            **holdout,
        }
        found.append(Measured(journey_id, experiment, effect, run_experiment(conn, Query(options=options))))
    return found


def lines(measured: list[Measured]) -> list[str]:
    """The closing table, one block per journey: each arm's rate and interval, the difference and the truth."""
    out = []
    for m in measured:
        out.append(f"{m.journey_id}  ({m.effect.report_endpoint}, experiment {m.experiment_id})")
        for row in m.table.rows:
            out.append("  " + _arm(row))
        out.append("  " + _difference(m))
        out.extend(f"  {note}" for note in m.table.notes)
    return out


def chart(measured: list[Measured]) -> bytes:
    """The closing table as the experiment report's chart (PNG): each journey's arms, on its own endpoint, with their
    95 % intervals."""
    rows = [{**row, "journey": f"{m.journey_id} {m.effect.report_endpoint}"} for m in measured for row in m.table.rows]
    first = measured[0].table
    table = Table(EXPERIMENT.name, EXPERIMENT.definition, first.as_of, (), ("journey", *EXPERIMENT.measures), rows)
    return charts.png(table, EXPERIMENT.chart)


def _arm(row: dict[str, Any]) -> str:
    kind = "holdout" if row["holdout"] else "treated"
    head = f"{row['arm']:<10} ({kind}) {row['successes']:>4} of {row['patients']:<4}"
    if row["rate"] is None:
        return f"{head} no patient with a closed window yet ({row['open']} open)"
    return f"{head} {row['rate']:6.1%}  (95% CI {row['low']:.1%} to {row['high']:.1%}; {row['open']} still open)"


def _difference(m: Measured) -> str:
    truth = f"the model's true effect {m.effect.true_effect:+.3f}"
    c = m.comparison
    if c is None or c["difference"] is None:
        return f"treated - holdout: not reported; {truth}"
    d = c["difference"]
    inside = "inside" if d["low"] <= m.effect.true_effect <= d["high"] else "OUTSIDE"
    return (
        f"treated - holdout {d['estimate']:+.3f} (95% CI {d['low']:+.3f} to {d['high']:+.3f}, {c['verdict']}); "
        f"{truth}, {inside} the interval"
    )
