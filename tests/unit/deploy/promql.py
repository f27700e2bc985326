"""What the PromQL of deploy/ may name: the metrics careloop's processes export, with their labels, checked by
parsing each expression (promql-parser) rather than by matching text."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import promql_parser
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

# The modules that define careloop's metrics; test_metrics_exist checks that no other module defines one.
METRIC_MODULES = ("engine.worker.metrics", "engine.dispatch.metrics")
TARGET_LABELS = frozenset({"job", "instance"})  # Prometheus adds them to every scraped series
SCRAPE_SERIES = {"up": TARGET_LABELS}  # written by Prometheus itself for each target
# Grafana's interval variables, given a duration so the expression parses: a closed set, any other $ fails.
GRAFANA_INTERVALS = {"__rate_interval": "5m", "__interval": "1m", "__range": "6h"}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")


def exported() -> dict[str, frozenset[str]]:
    """Every series name the processes expose (a counter's _total, a histogram's _bucket...) and its label names."""
    for module in METRIC_MODULES:
        importlib.import_module(module)
    labels = _label_names()
    names: dict[str, frozenset[str]] = {}
    for family in REGISTRY.collect():
        own = labels.get(family.name, frozenset())
        for suffix in _SUFFIXES.get(family.type, ("",)):
            extra = {"le"} if suffix == "_bucket" else set()
            names[family.name + suffix] = own | extra
    return names


def _label_names() -> dict[str, frozenset[str]]:
    """Label names by metric family; prometheus_client keeps them only on the metric objects (``_labelnames``)."""
    found: dict[str, frozenset[str]] = {}
    for module in METRIC_MODULES:
        for value in vars(importlib.import_module(module)).values():
            if isinstance(value, MetricWrapperBase):
                [family] = value.describe()
                found[family.name] = frozenset(value._labelnames)
    return found


@dataclass(frozen=True)
class Problem:
    where: str  # e.g. "operations.json: panel 4 (Consumer lag by topic)"
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def expand_grafana(expr: str, variables: Mapping[str, str]) -> tuple[str, list[str]]:
    """``expr`` with Grafana's interval variables and the dashboard's own replaced; the names of unknown ones."""
    unknown: list[str] = []

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        known = GRAFANA_INTERVALS.get(name, variables.get(name))
        if known is None:
            unknown.append(name)
            return match.group(0)
        return known

    return _VARIABLE.sub(value, expr), unknown


def check(
    where: str,
    expr: str,
    metrics: Mapping[str, frozenset[str]],
    jobs: Iterable[str],
    variables: Mapping[str, str] | None = None,
) -> list[Problem]:
    """What is wrong with one expression: unparseable, an unknown metric, label or job, a label grouped by that
    none of its metrics has."""
    text, unknown = expand_grafana(expr, variables or {})
    if unknown:
        return [Problem(where, f"unknown Grafana variable(s) {', '.join('$' + n for n in unknown)} in {expr!r}")]
    try:
        tree = promql_parser.parse(text)
    except ValueError as exc:
        return [Problem(where, f"does not parse ({exc}): {expr!r}")]
    known = {**metrics, **SCRAPE_SERIES}
    problems: list[Problem] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            problems.extend(_selector(where, node, known, set(jobs)))
        elif isinstance(node, promql_parser.AggregateExpr):
            problems.extend(_grouping(where, node, known))

    promql_parser.walk(tree, visit)
    return problems


def _selector(
    where: str, node: promql_parser.VectorSelector, known: Mapping[str, frozenset[str]], jobs: set[str]
) -> list[Problem]:
    if node.name is None:
        return [Problem(where, f"selects no metric by name: {node}")]
    if node.name not in known:
        return [Problem(where, f"metric {node.name} is not exported by careloop's processes")]
    problems = []
    labels = known[node.name] | TARGET_LABELS
    for matcher in node.matchers.matchers:
        if matcher.name not in labels:
            problems.append(Problem(where, f"metric {node.name} has no label {matcher.name!r} ({sorted(labels)})"))
        elif matcher.name == "job" and not _matches_a_job(matcher, jobs):
            problems.append(Problem(where, f"job matcher {matcher} matches no job of prometheus.yml {sorted(jobs)}"))
    return problems


def _matches_a_job(matcher: promql_parser.Matcher, jobs: set[str]) -> bool:
    if matcher.op == promql_parser.MatchOp.Equal:
        return matcher.value in jobs
    if matcher.op == promql_parser.MatchOp.Re:
        return any(re.fullmatch(matcher.value, job) for job in jobs)
    return True  # != and !~ exclude: whatever they name, the rest of the jobs remain


def _grouping(where: str, node: promql_parser.AggregateExpr, known: Mapping[str, frozenset[str]]) -> list[Problem]:
    """``by (...)`` names labels of the metrics aggregated (or the target's); ``without`` is not checked."""
    modifier = node.modifier
    if modifier is None or modifier.type != promql_parser.AggModifierType.By:
        return []
    inner: set[str] = set(TARGET_LABELS)
    promql_parser.walk(
        node.expr,
        lambda n: (
            inner.update(known.get(n.name or "", frozenset())) if isinstance(n, promql_parser.VectorSelector) else None
        ),
    )
    return [
        Problem(where, f"groups by {label!r}, a label of none of its metrics")
        for label in modifier.labels
        if label not in inner
    ]


_LEGEND = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def check_legend(where: str, expr: str, legend: str, metrics: Mapping[str, frozenset[str]]) -> list[Problem]:
    """A legend's {{label}} must be a label of the expression's result, or every series shows it empty."""
    wanted = _LEGEND.findall(legend)
    if not wanted:
        return []
    text, _ = expand_grafana(expr, {})
    labels = _result_labels(promql_parser.parse(text), {**metrics, **SCRAPE_SERIES})
    return [
        Problem(where, f"{{{{{name}}}}} is no label of the result {sorted(labels)}")
        for name in wanted
        if name not in labels
    ]


def _result_labels(node: promql_parser.Expr, known: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """The labels the series of ``node``'s result carry (an over-estimate where PromQL keeps some of several)."""
    if isinstance(node, promql_parser.VectorSelector):
        return known.get(node.name or "", frozenset()) | TARGET_LABELS
    if isinstance(node, promql_parser.MatrixSelector):
        return _result_labels(node.vector_selector, known)
    if isinstance(node, promql_parser.AggregateExpr):
        inner = _result_labels(node.expr, known)
        if node.modifier is None:
            return frozenset()
        if node.modifier.type == promql_parser.AggModifierType.By:
            return frozenset(node.modifier.labels)
        return inner - set(node.modifier.labels)
    if isinstance(node, promql_parser.Call):
        vectors = [a for a in node.args if not isinstance(a, promql_parser.NumberLiteral | promql_parser.StringLiteral)]
        labels = _result_labels(vectors[-1], known) if vectors else frozenset()
        return labels - {"le"} if node.func.name == "histogram_quantile" else labels
    if isinstance(node, promql_parser.BinaryExpr):
        return _result_labels(node.lhs, known) | _result_labels(node.rhs, known)
    if isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr):
        return _result_labels(node.expr, known)
    return frozenset()
