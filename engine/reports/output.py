"""A report's result as a terminal table, CSV, JSON (with its definition) or one self-contained HTML page."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader
from rich.console import Console
from rich.table import Table as RichTable

from engine.reports.base import Table

FORMATS = ("table", "csv", "json", "html")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def to_table(table: Table) -> str:
    grid = RichTable(title=f"{table.report} ({table.definition}) as of {table.as_of.isoformat()}")
    for c in table.columns:
        grid.add_column(c, justify="left" if c in (*table.by, "experiment", "journey", "arm") else "right")
    for r in table.rows:
        grid.add_row(*(cell(r.get(c)) for c in table.columns))
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, highlight=False, color_system=None)
    console.print(grid)
    for c in table.extra.get("comparisons", []):
        console.print(_comparison_line(c), markup=False)
    for note in table.notes:
        console.print(note, markup=False)
    return buffer.getvalue()


def _comparison_line(c: dict[str, Any]) -> str:
    where = " ".join(f"{k}={cell(v)}" for k, v in c.items() if k not in ("arm", "difference", "p_holm", "verdict"))
    d = c["difference"]
    if d is None:
        return f"{where}: {c['arm']} - holdout: not reported"
    return (
        f"{where}: {c['arm']} - holdout {d['estimate']:+.3f} (95% CI {d['low']:+.3f} to {d['high']:+.3f}), "
        f"p = {d['p_value']:.3g}, Holm p = {c['p_holm']:.3g}: {c['verdict']}"
    )


def to_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    for r in table.rows:
        writer.writerow([cell(r.get(c)) for c in table.columns])
    return buffer.getvalue()


def document(table: Table) -> dict[str, Any]:
    return {
        "report": table.report,
        "definition": table.definition,
        "as_of": table.as_of.isoformat(),
        "by": list(table.by),
        "columns": list(table.columns),
        "rows": [{c: r.get(c) for c in table.columns} for r in table.rows],
        **table.extra,
        "notes": table.notes,
    }


def to_json(table: Table) -> str:
    return json.dumps(document(table), ensure_ascii=False, indent=2, default=_json_default) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def to_html(table: Table, svg: str | None) -> str:
    """One page, no script and nothing fetched: the chart is inline SVG, the style inline."""
    # Every value escaped: departments, journeys and notes come from hospital systems and journeys.yaml.
    # (select_autoescape goes by the template's extension, which '.html.j2' is not: it escaped nothing.)
    env = Environment(loader=PackageLoader("engine.reports", "templates"), autoescape=True)
    page = env.get_template("report.html.j2")
    return page.render(
        table=table,
        rows=[[cell(r.get(c)) for c in table.columns] for r in table.rows],
        comparisons=[_comparison_line(c) for c in table.extra.get("comparisons", [])],
        svg=svg,
    )


def render(table: Table, fmt: str, svg: str | None = None) -> str:
    if fmt == "table":
        return to_table(table)
    if fmt == "csv":
        return to_csv(table)
    if fmt == "json":
        return to_json(table)
    if fmt == "html":
        return to_html(table, svg)
    raise ValueError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
