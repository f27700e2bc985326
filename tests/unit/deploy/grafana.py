"""The provisioned dashboards of deploy/grafana, read as Grafana reads them: panels (rows' nested ones too),
their targets and data sources, and the dashboards' variables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "careloop.yaml"
PROMETHEUS_UID, POSTGRES_UID = "careloop-prometheus", "careloop-pg"


@dataclass(frozen=True)
class Target:
    dashboard: str  # the file's name
    panel_id: int
    panel_title: str
    datasource_uid: str | None
    body: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.dashboard}: panel {self.panel_id} ({self.panel_title}), target {self.body.get('refId', '?')}"


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows included, and the panels of rows (collapsed rows hold theirs)."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def targets(path: Path) -> Iterator[Target]:
    """Every query of every panel, with the data source it runs on (the target's own, else its panel's)."""
    for panel in panels(load(path)):
        for body in panel.get("targets", []):
            source = body.get("datasource") or panel.get("datasource") or {}
            yield Target(path.name, panel.get("id", -1), panel.get("title", ""), source.get("uid"), body)


def variables(dashboard: dict[str, Any]) -> dict[str, str]:
    """Each dashboard variable's current value (what a panel's query is expanded with when the dashboard opens)."""
    found = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        current = variable.get("current", {}).get("value")
        if not isinstance(current, str):
            raise ValueError(f"variable {variable.get('name')!r} has no single current value to expand with")
        found[variable["name"]] = current
    return found


def datasource_uids() -> dict[str, str]:
    """uid -> type of each provisioned data source."""
    provisioned = YAML(typ="safe").load(DATASOURCES.read_text(encoding="utf-8"))
    return {source["uid"]: source["type"] for source in provisioned["datasources"]}
