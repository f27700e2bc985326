"""The experiment report: per arm its rate with a Wilson interval, each treated arm against the holdout arm of the
same experiment, journey and breakdown (Newcombe interval, score test, Holm across the experiment's comparisons,
the minimum detectable effect), the sample-ratio check per experiment and the leakage checks of the holdout arms. A
failing sample-ratio check leaves every comparison of that experiment without a verdict and says so in a note."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from importlib import resources
from typing import Any

from psycopg import Connection

from engine.reports import stats
from engine.reports.base import Query, Table
from engine.reports.catalog import EXPERIMENT
from engine.reports.run import as_of, rows

SPLIT, LEAKAGE, GLOBAL_LEAKAGE = "experiment_split", "experiment_leakage", "experiment_leakage_global"
ROLLOUTS = """
SELECT DISTINCT x.experiment_id FROM analytics.experiment_assignments x
WHERE x.kind = 'journey_rollout' AND x.assigned_at <= %(as_of)s
  AND (%(experiment)s::text IS NULL OR x.experiment_id = %(experiment)s::text)
  AND (%(journey)s::text IS NULL OR x.journey_id = %(journey)s::text)
ORDER BY 1
"""


class ReportRefusedError(ValueError):
    """The report cannot answer what was asked; the message says why and what to ask instead."""


def run_experiment(conn: Connection[Any], query: Query) -> Table:
    moment = as_of(conn, query.as_of)
    params = query.params(EXPERIMENT, moment)
    if params["population"] == "triggered":
        _refuse_triggered_rollouts(conn, params)
    _, arms = rows(conn, EXPERIMENT.statement(query.by), params)
    _, split = rows(conn, _sql(SPLIT), params)
    leaks = leakage(conn, params)
    checks = sample_ratios(split)
    for row in arms:
        p = stats.proportion(row["successes"], row["patients"])
        row.update(rate=p.rate, low=p.low, high=p.high)
    order = ["experiment", "journey", *query.by, "holdout", "arm"]
    arms.sort(key=lambda r: tuple((r.get(c) is None, "" if r.get(c) is None else r.get(c)) for c in order))
    shown = ("experiment", "journey", *query.by, *EXPERIMENT.measures)
    table = Table(EXPERIMENT.name, EXPERIMENT.definition, moment, query.by, shown, arms)
    table.extra["population"] = params["population"]
    table.extra["sample_ratio"] = {e: _srm_json(c) for e, c in checks.items()}
    table.extra["comparisons"] = comparisons(arms, query.by, checks)
    table.extra["leakage"] = {r["experiment"]: {"patients": r["patients"], "messages": r["messages"]} for r in leaks}
    table.notes.extend(_notes(checks))
    if params["population"] == "triggered":
        table.notes.append(
            "triggered: only patients with an exposure (analytics.experiment_exposures); exposure can depend on the "
            "arm, so this compares less fairly than the intention-to-treat default; the sample-ratio check counts "
            "every patient assigned"
        )
    table.notes.extend(
        f"ERROR: leakage in {r['experiment']}: {r['patients']} holdout patient(s) had {r['messages']} message(s) "
        "approved after the draw; the holdout is not clean"
        for r in leaks
    )
    return table


def _refuse_triggered_rollouts(conn: Connection[Any], params: dict[str, Any]) -> None:
    """A staged rollout has no exposure defined (analytics.experiment_exposures): both arms get messages, so
    "exposed" would need a case of its own. Its triggered population would be empty, which reads as no patients."""
    _, found = rows(conn, ROLLOUTS, params)
    if found:
        names = ", ".join(r["experiment_id"] for r in found)
        raise ReportRefusedError(
            f"--population triggered: staged rollouts have no exposure defined, so {names} cannot be compared on the "
            "triggered population; use --population itt (the default), or --experiment to pick another experiment"
        )


def leakage(conn: Connection[Any], params: dict[str, Any]) -> list[dict[str, Any]]:
    """Holdout patients who had a message the holdout should have kept from them: splits', and each global holdout's
    by its recorded configuration (analytics.experiments; the journeys file's for one the database has no record of).
    """
    _, leaks = rows(conn, _sql(LEAKAGE), params)
    leaks.extend(rows(conn, _sql(GLOBAL_LEAKAGE), params)[1])
    return leaks


def _sql(name: str) -> str:
    return resources.files("engine.reports").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


def sample_ratios(split: list[dict[str, Any]]) -> dict[str, stats.SampleRatio]:
    observed: dict[str, dict[str, int]] = defaultdict(dict)
    expected: dict[str, dict[str, float]] = defaultdict(dict)
    for r in split:
        observed[r["experiment"]][r["arm"]] = int(r["patients"])
        if r["expected"] is not None:
            expected[r["experiment"]][r["arm"]] = float(r["expected"])
    unweighted = {r["experiment"] for r in split if r["unweighted"]}
    return {e: stats.sample_ratio(observed[e], {} if e in unweighted else expected[e]) for e in sorted(observed)}


def comparisons(
    arms: list[dict[str, Any]], by: tuple[str, ...], checks: dict[str, stats.SampleRatio]
) -> list[dict[str, Any]]:
    """Each treated arm against its group's holdout arm; Holm's adjustment over each experiment's comparisons."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in arms:
        groups[(r["experiment"], r["journey"], *(r[d] for d in by))].append(r)
    found = []
    for key, members in groups.items():
        control = [m for m in members if m["holdout"]]
        for treated in (m for m in members if not m["holdout"]):
            counts = (treated["successes"], treated["patients"]), _counts(control)
            found.append({"key": key, "arm": treated["arm"], "diff": stats.difference(*counts), "counts": counts})
    adjusted = _holm_by_experiment(found)
    return [_comparison_json(c, by, adjusted[i], checks[c["key"][0]]) for i, c in enumerate(found)]


def _counts(control: list[dict[str, Any]]) -> tuple[int, int]:
    return (control[0]["successes"], control[0]["patients"]) if control else (0, 0)


def _holm_by_experiment(found: list[dict[str, Any]]) -> list[float | None]:
    adjusted: list[float | None] = [None] * len(found)
    by_experiment: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(found):
        if c["diff"] is not None:
            by_experiment[c["key"][0]].append(i)
    for indices in by_experiment.values():
        for i, p in zip(indices, stats.holm([found[i]["diff"].p_value for i in indices]), strict=True):
            adjusted[i] = p
    return adjusted


def _comparison_json(
    c: dict[str, Any], by: tuple[str, ...], adjusted: float | None, srm: stats.SampleRatio
) -> dict[str, Any]:
    experiment, journey, *dims = c["key"]
    diff: stats.Difference | None = c["diff"]
    shown = None if diff is None or srm.mismatch else asdict(diff)  # no difference is a finding while SRM fails
    return {
        "experiment": experiment,
        "journey": journey,
        **dict(zip(by, dims, strict=True)),
        "arm": c["arm"],
        "difference": shown,
        "p_holm": None if shown is None else adjusted,
        "verdict": stats.verdict(diff, adjusted, srm),
        "mde": _mde(c["counts"]),
    }


def _mde(counts: tuple[tuple[int, int], tuple[int, int]]) -> float | None:
    """The smallest rise over the holdout's rate these arms' sizes detect (80 % power, alpha 0.05)."""
    (_, treated), (successes, holdout) = counts
    return stats.minimum_detectable_effect(treated, holdout, successes / holdout if holdout else None)


def _srm_json(check: stats.SampleRatio) -> dict[str, Any]:
    return {
        "observed": check.observed,
        "expected": check.expected,
        "p_value": check.p_value,
        "mismatch": check.mismatch,
    }


def _notes(checks: dict[str, stats.SampleRatio]) -> list[str]:
    notes = []
    for experiment, check in checks.items():
        if check.mismatch:
            notes.append(
                f"WARNING: sample ratio mismatch in {experiment} (chi-squared p = {check.p_value:.2g} < "
                f"{stats.SRM_ALPHA}): the arms are not the configured split, so no difference is reported as a finding"
            )
        elif check.p_value is None:
            notes.append(f"{experiment}: no configured weights on its assignments; the split could not be checked")
    return notes
