"""The provisioned dashboards of deploy/grafana, read as Grafana reads them: panels (rows' nested ones too),
their targets and data sources, and the dashboards' variables."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
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


# --- Grafana's SQL macros ---------------------------------------------------------------------------------------------
# A closed set, expanded as Grafana's PostgreSQL data source expands them (its sqleng macro engine); a query using
# any other $__ macro fails, so a dashboard never leans on one these checks have not run.

_MACRO = re.compile(r"\$__(\w+)\(")
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_INTERVAL = re.compile(r"'?(\d+)([smhdw])'?")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class MacroError(ValueError):
    """A macro or variable the dashboard checks do not expand, or one used wrongly."""


def expand_sql(text: str, variables: Mapping[str, str], start: datetime, end: datetime) -> str:
    """``text`` with $__timeFilter(c), $__timeFrom(), $__timeTo() and $__timeGroupAlias(c, 'interval') expanded
    for the range [start, end], then the dashboard's variables replaced by their values (raw: Grafana quotes only
    multi-value and All variables, which these dashboards do not have)."""
    frm, to = (f"'{t.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}'" for t in (start, end))
    out, at = [], 0
    for match in _MACRO.finditer(text):
        if match.start() < at:
            continue  # inside an argument already expanded
        args, after = _arguments(text, match.end())
        out += [text[at : match.start()], _macro(match.group(1), args, frm, to)]
        at = after
    out.append(text[at:])
    return _VARIABLE.sub(lambda m: _variable(m, variables), "".join(out))


def _macro(name: str, args: list[str], frm: str, to: str) -> str:
    if name == "timeFilter" and len(args) == 1:
        return f"{args[0]} BETWEEN {frm} AND {to}"
    if name in ("timeFrom", "timeTo") and args == [""]:
        return frm if name == "timeFrom" else to
    if name == "timeGroupAlias" and len(args) == 2:
        interval = _INTERVAL.fullmatch(args[1])
        if interval is None:
            raise MacroError(f"$__timeGroupAlias: interval {args[1]} is not a number and one of s, m, h, d, w")
        seconds = int(interval.group(1)) * _SECONDS[interval.group(2)]
        return f'floor(extract(epoch from {args[0]})/{seconds})*{seconds} AS "time"'
    raise MacroError(
        f"$__{name}({', '.join(args)}): not one of the macros checked ($__timeFilter, $__timeFrom, "
        "$__timeTo, $__timeGroupAlias) or wrong arguments"
    )


def _arguments(text: str, start: int) -> tuple[list[str], int]:
    """The comma-separated arguments from ``start`` (just after the opening parenthesis) to its closing one, and
    where the text goes on after it."""
    depth, args, begun = 0, [], start
    for i in range(start, len(text)):
        char = text[i]
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif char == ")":
            args.append(text[begun:i].strip())
            return args, i + 1
        elif char == "," and not depth:
            args.append(text[begun:i].strip())
            begun = i + 1
    raise MacroError(f"a macro's parenthesis at offset {start} is never closed")


def _variable(match: re.Match[str], variables: Mapping[str, str]) -> str:
    name = match.group(1) or match.group(2)
    if name.startswith("__") or name not in variables:
        raise MacroError(f"${name}: not a variable of this dashboard ({', '.join(sorted(variables)) or 'none'})")
    return variables[name]
