"""`careloop whatif --format html`: the what-if report as one self-contained page (no script, nothing fetched),
rendered as the outcome reports' pages are (engine/reports/output.py), from a Jinja template with every value
escaped. Totals first, then per journey, then each patient's differences with why, as the table prints them."""

from __future__ import annotations

from datetime import datetime
from itertools import groupby
from pathlib import Path

from jinja2 import Environment, PackageLoader

from engine.journeys.whatif import CHANGES, WhatIf

COLUMNS = ("current", "new", *CHANGES)


def whatif_html(report: WhatIf, current: Path, new: Path) -> str:
    # autoescape on for every value: template names, reasons and file names are the operators' text
    env = Environment(loader=PackageLoader("engine.reports", "templates"), autoescape=True)
    env.filters["minutes"] = _minutes
    since = report.since.isoformat() if report.since else "the beginning"
    return env.get_template("whatif.html.j2").render(
        current=str(current),
        new=str(new),
        window=f"{since} to {report.until.isoformat()}",
        columns=COLUMNS,
        changes=CHANGES,
        totals=list(report.totals().items()),
        journeys=list(report.by_journey().items()),
        patients=[(p, list(rows)) for p, rows in groupby(report.differences, key=lambda d: d.patient_id)],
    )


def _minutes(moment: datetime | None) -> str:
    return moment.isoformat(timespec="minutes") if moment else ""


__all__ = ["whatif_html"]
