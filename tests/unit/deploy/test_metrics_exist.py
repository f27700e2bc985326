"""The dashboards and alert rules of deploy/ against what careloop's processes really export, offline (no Grafana,
no Prometheus): every metric and label a query names exists, every panel runs on a provisioned data source, every
alert says how long, how bad and what happened. promtool's own checks run too where it is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.unit.deploy import grafana
from tests.unit.deploy.promql import METRIC_MODULES, Problem, check, check_legend, exported

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS = grafana.DEPLOY / "prometheus"
ALERTS = {"ConsumerLagHigh", "DeadLettersIncreasing", "DispatchFailureRatio", "ProjectionLagHigh", "TaskSLABreaches"}
ALERTS |= {"StoreRetrying", "TargetDown"}
SEVERITIES = {"info", "warning", "critical"}
DASHBOARDS = grafana.dashboard_files()


def yaml_file(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def jobs() -> list[str]:
    return [scrape["job_name"] for scrape in yaml_file(PROMETHEUS / "prometheus.yml")["scrape_configs"]]


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml_file(PROMETHEUS / "alerts.yml")["groups"] for rule in group["rules"]]


def failures(problems: list[Problem]) -> str:
    return "\n".join(map(str, problems))


# --- what the processes export --------------------------------------------------------------------------------------


def test_every_module_that_defines_a_metric_is_one_the_checks_import() -> None:
    defines = re.compile(r"from prometheus_client import .*\b(Counter|Gauge|Histogram|Summary|Info|Enum)\b")
    modules = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for package in ("engine", "connectors", "projections", "events")
        for path in (ROOT / package).rglob("*.py")
        if defines.search(path.read_text(encoding="utf-8"))
    }
    assert modules == set(METRIC_MODULES)


def test_the_exported_names_carry_each_kinds_suffixes_and_labels() -> None:
    metrics = exported()
    assert metrics["careloop_consumer_lag"] == {"topic", "partition"}
    assert metrics["careloop_dead_letters_total"] == {"reason"}
    assert "careloop_dead_letters_created" in metrics
    assert "careloop_dead_letters" not in metrics  # a counter's family name is not a series
    assert metrics["careloop_dispatch_send_seconds_bucket"] == {"gateway", "le"}
    assert metrics["careloop_dispatch_send_seconds_count"] == {"gateway"}
    assert metrics["careloop_timers_pending"] == frozenset()


# --- the checks find what is wrong ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "complaint"),
    [
        ("rate(careloop_events_total[5m])", "metric careloop_events_total is not exported"),
        ('careloop_consumer_lag{queue="a"}', "has no label 'queue'"),
        ("sum by (gateway) (careloop_projection_lag)", "groups by 'gateway'"),
        ('up{job="careloop-intake"}', "matches no job"),
        ("rate(careloop_timers_fired_total[$window])", "unknown Grafana variable(s) $window"),
        ("sum(rate(careloop_timers_fired_total[5m])", "does not parse"),
        ('{__name__=~"careloop_.*"}', "selects no metric by name"),
    ],
)
def test_the_check_names_what_is_wrong_in_an_expression(expr: str, complaint: str) -> None:
    [problem] = check("ops.json: panel 7 (Lag)", expr, exported(), jobs())
    assert problem.where == "ops.json: panel 7 (Lag)"
    assert complaint in problem.what


def test_the_check_accepts_grafanas_intervals_target_labels_and_known_groupings() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, gateway, instance) "
        '(rate(careloop_dispatch_send_seconds_bucket{job=~"careloop-.*"}[$__rate_interval])))'
    )
    assert check("ops.json: panel 1 (p95)", expr, exported(), jobs()) == []


# --- dashboards -----------------------------------------------------------------------------------------------------


def test_the_dashboards_are_there() -> None:
    assert {path.name for path in DASHBOARDS} >= {"operations.json", "outcomes.json"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_prometheus_query_of_the_dashboard_names_exported_metrics_and_labels(path: Path) -> None:
    metrics, known_jobs, values = exported(), jobs(), grafana.variables(grafana.load(path))
    problems = [
        problem
        for target in grafana.targets(path)
        if target.datasource_uid == grafana.PROMETHEUS_UID
        for problem in check(target.where, target.body.get("expr", ""), metrics, known_jobs, values)
    ]
    assert not problems, failures(problems)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_legend_names_labels_its_query_returns(path: Path) -> None:
    metrics = exported()
    problems = [
        problem
        for target in grafana.targets(path)
        if target.datasource_uid == grafana.PROMETHEUS_UID
        for problem in check_legend(target.where, target.body["expr"], target.body.get("legendFormat", ""), metrics)
    ]
    assert not problems, failures(problems)


@pytest.mark.parametrize(
    ("expr", "legend", "wrong"),
    [
        (
            "sum by (topic) (max by (topic, partition) (careloop_consumer_lag))",
            "{{topic}} {{partition}}",
            ["partition"],
        ),
        (
            "histogram_quantile(0.95, sum by (le, gateway) (rate(careloop_dispatch_send_seconds_bucket[5m])))",
            "{{le}}",
            ["le"],
        ),
        ("sum(rate(careloop_store_retries_total[5m]))", "{{error}}", ["error"]),
        ('up{job="careloop-worker"} == 0', "{{job}} {{instance}}", []),
        ("sum without (instance) (careloop_projection_lag)", "{{projection}} {{instance}}", ["instance"]),
    ],
)
def test_a_legend_naming_a_label_the_result_lacks_is_caught(expr: str, legend: str, wrong: list[str]) -> None:
    problems = check_legend("ops.json: panel 3 (Lag)", expr, legend, exported())
    assert [p.what.split("}}")[0].removeprefix("{{") for p in problems] == wrong


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panel_ids_are_unique_within_the_dashboard(path: Path) -> None:
    ids = Counter(panel.get("id") for panel in grafana.panels(grafana.load(path)))
    assert None not in ids, f"{path.name}: a panel has no id"
    assert [i for i, n in ids.items() if n > 1] == [], f"{path.name}: panel ids used more than once"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_sql_query_uses_only_the_macros_and_variables_the_checks_expand(path: Path) -> None:
    values, now = grafana.variables(grafana.load(path)), datetime(2026, 6, 18, tzinfo=UTC)
    for target in grafana.targets(path):
        if target.datasource_uid == grafana.POSTGRES_UID:
            try:
                grafana.expand_sql(target.body["rawSql"], values, now, now)
            except grafana.MacroError as exc:
                pytest.fail(f"{target.where}: {exc}")


def test_every_dashboard_has_its_own_uid() -> None:
    uids = [grafana.load(path).get("uid") for path in DASHBOARDS]
    assert None not in uids
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_queries_a_provisioned_data_source_in_its_language(path: Path) -> None:
    sources = grafana.datasource_uids()
    for panel in grafana.panels(grafana.load(path)):
        if panel.get("type") != "row":
            assert panel.get("targets"), f"{path.name}: panel {panel.get('id')} ({panel.get('title')}) has no query"
    for target in grafana.targets(path):
        assert target.datasource_uid in sources, f"{target.where}: unknown data source {target.datasource_uid!r}"
        if sources[target.datasource_uid] == "prometheus":
            assert target.body.get("expr"), f"{target.where}: a Prometheus target without expr"
        else:
            assert target.body.get("rawSql"), f"{target.where}: a PostgreSQL target without rawSql"
            assert target.body.get("format") in {"table", "time_series"}, f"{target.where}: format"
            assert target.body.get("rawQuery") is True, f"{target.where}: rawQuery must be true for rawSql to run"


def test_the_data_sources_are_prometheus_and_postgresql_as_an_analyst_with_the_password_from_the_environment() -> None:
    sources = {source["uid"]: source for source in yaml_file(grafana.DATASOURCES)["datasources"]}
    assert sources[grafana.PROMETHEUS_UID]["type"] == "prometheus"
    pg = sources[grafana.POSTGRES_UID]
    assert pg["type"] == "grafana-postgresql-datasource"
    assert pg["secureJsonData"]["password"] == "$CARELOOP_GRAFANA_PG_PASSWORD"
    assert "password" not in pg.get("jsonData", {})


# --- alert rules ----------------------------------------------------------------------------------------------------


def test_every_alert_rule_names_exported_metrics_and_labels() -> None:
    metrics, known_jobs = exported(), jobs()
    problems = [
        p for rule in rules() for p in check(f"alerts.yml: {rule.get('alert')}", rule["expr"], metrics, known_jobs)
    ]
    assert not problems, failures(problems)


def test_every_alert_annotation_names_labels_its_expression_returns() -> None:
    metrics, problems = exported(), []
    for rule in rules():
        named = re.findall(r"\$labels\.(\w+)", " ".join(rule.get("annotations", {}).values()))
        as_legend = " ".join("{{" + name + "}}" for name in named)
        problems += check_legend(f"alerts.yml: {rule.get('alert')}", rule["expr"], as_legend, metrics)
    assert not problems, failures(problems)


def test_the_alerts_cover_the_operational_failures_once_each() -> None:
    names = [str(rule.get("alert")) for rule in rules()]
    assert sorted(names) == sorted(ALERTS)


@pytest.mark.parametrize("rule", rules(), ids=lambda r: str(r.get("alert")))
def test_every_alert_says_how_long_how_bad_and_what_happened(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), "for: a duration such as 10m"
    assert rule.get("labels", {}).get("severity") in SEVERITIES
    assert rule.get("annotations", {}).get("summary"), "annotations.summary"


def test_prometheus_scrapes_the_worker_and_the_dispatcher_and_loads_the_rules_its_tests_test() -> None:
    config, tests = yaml_file(PROMETHEUS / "prometheus.yml"), yaml_file(PROMETHEUS / "alerts.test.yml")
    assert set(jobs()) == {"careloop-worker", "careloop-dispatcher"}
    assert config["rule_files"] == tests["rule_files"] == ["alerts.yml"]
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"]}
    assert tested == ALERTS


# --- promtool, where installed (Debian's prometheus package) --------------------------------------------------------

PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian: the prometheus package)")
@pytest.mark.parametrize(
    "args",
    [("check", "config", "prometheus.yml"), ("check", "rules", "alerts.yml"), ("test", "rules", "alerts.test.yml")],
)
def test_promtool_accepts_the_configuration_and_the_alerts_pass_their_tests(args: tuple[str, ...]) -> None:
    done = subprocess.run(
        [str(PROMTOOL), *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
