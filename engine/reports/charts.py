"""A report's chart with matplotlib (Agg, no display): bars of its rate per row with the interval where it has one, a
funnel's stages, or a cohort's retention by month. PNG bytes are the same for the same table (no software or date
metadata, fixed size and resolution); SVG for the HTML page, with fixed element ids."""

from __future__ import annotations

import io
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from engine.reports.base import Chart, Table
from engine.reports.output import cell

SIZE, DPI = (8.0, 4.5), 100


def figure(table: Table, chart: Chart) -> Figure:
    fig = Figure(figsize=SIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if chart.stages:
        _stages(ax, table, chart)
    elif "month_offset" in table.columns:
        _lines(ax, table, chart)
    else:
        _bars(ax, table, chart)
    ax.set_title(f"{chart.title} ({table.definition}, as of {table.as_of.date().isoformat()})", fontsize=10)
    fig.tight_layout()
    return fig


def label(table: Table, row: dict[str, Any]) -> str:
    names = list(dict.fromkeys(c for c in (*_keys(table), *table.by, "arm") if c in row))
    if "experiment" in names and "journey" in names and str(row["experiment"]).startswith(f"{row['journey']}/"):
        names.remove("journey")  # a split's experiment is named by its journey already
    return " / ".join(cell(row[c]) or "-" for c in names) or "all"


def _keys(table: Table) -> tuple[str, ...]:
    return tuple(c for c in ("experiment", "journey", "cohort_month") if c in table.columns)


def _bars(ax: Axes, table: Table, chart: Chart) -> None:
    rows = [r for r in table.rows if _number(r.get(chart.value)) is not None]
    values = [float(r[chart.value]) for r in rows]
    positions = list(range(len(rows)))
    if chart.low and chart.high:
        # max(0, ...): a Wilson bound at a rate of 0 or 1 can sit a rounding error beyond it
        errors = [
            [max(0.0, v - float(r[chart.low])) for v, r in zip(values, rows, strict=True)],
            [max(0.0, float(r[chart.high]) - v) for v, r in zip(values, rows, strict=True)],
        ]
        ax.bar(positions, values, yerr=errors, capsize=4, color="#4878a8")
    else:
        ax.bar(positions, values, color="#4878a8")
    ax.set_xticks(positions, [label(table, r) for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(chart.value)


def _stages(ax: Axes, table: Table, chart: Chart) -> None:
    width = 0.8 / max(len(table.rows), 1)
    for i, r in enumerate(table.rows):
        xs = [s + i * width for s in range(len(chart.stages))]
        ax.bar(xs, [_number(r.get(s)) or 0.0 for s in chart.stages], width=width, label=label(table, r))
    middle = (len(table.rows) - 1) * width / 2  # each stage's tick under the middle of its group of bars
    ticks = [s + middle for s in range(len(chart.stages))]
    ax.set_xticks(ticks, list(chart.stages), rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("instances")
    if len(table.rows) > 1:
        ax.legend(fontsize=7)


def _lines(ax: Axes, table: Table, chart: Chart) -> None:
    series: dict[str, list[tuple[int, float]]] = {}
    for r in table.rows:
        if _number(r.get(chart.value)) is not None:
            series.setdefault(label(table, r), []).append((int(r["month_offset"]), float(r[chart.value])))
    for name, points in series.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    ax.set_xlabel("months since the anchor month")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(chart.value)
    if series:
        ax.legend(fontsize=7)


def _number(value: Any) -> float | None:
    """A value to draw; None for none, and for a cell hidden for sharing (--min-cell: text instead of a number)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def png(table: Table, chart: Chart) -> bytes:
    buffer = io.BytesIO()
    figure(table, chart).savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def svg(table: Table, chart: Chart) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "careloop", "svg.fonttype": "none"}):
        figure(table, chart).savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline in HTML: no XML declaration or doctype
