"""The run report as a page a person opens: counts per source and seconds per step, as charts.

One self-contained HTML file (inline SVG, no script, no external asset) written
beside the JSON report. Every value shown is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from shopflow.names import DAG_ID, SOURCES

COUNTS = (
    ("rows_loaded", "loaded", "#2f7ed8"),
    ("rows_duplicate", "duplicate", "#f28f43"),
    ("rows_quarantined", "quarantined", "#c42525"),
)
BAR_WIDTH = 560
ROW_HEIGHT = 26
LABEL_WIDTH = 140


def step_seconds(report: Mapping[str, Any]) -> dict[str, float]:
    """Seconds per step, from the summaries the steps returned (extracts, transform, load)."""
    seconds: dict[str, float] = {}
    for source in SOURCES:
        summary = (report.get("sources") or {}).get(source) or {}
        if "seconds" in summary:
            seconds[f"extract_{source}"] = float(summary["seconds"])
    transform = report.get("transform_seconds")
    if transform is not None:
        seconds["transform"] = float(transform)
    load = ((report.get("load") or {}).get("seconds") or {}).get("total")
    if load is not None:
        seconds["load"] = float(load)
    if report.get("checks_seconds") is not None:
        seconds["checks"] = float(report["checks_seconds"])
    return seconds


def report_page(report: Mapping[str, Any]) -> str:
    """The HTML page of one run report (the JSON the report task stores)."""
    day = escape(str(report.get("business_date", "")))
    run_id = escape(str(report.get("run_id", "")))
    checks = report.get("checks", [])
    failed = [c for c in checks if c.get("status") == "fail"]
    warned = [c for c in checks if c.get("status") == "warn"]
    verdict = "failed" if failed or report.get("unfinished") else "healthy"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{DAG_ID} {day}: {verdict}</title>",
        "<style>body{font-family:sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;"
        "text-align:right}td:first-child,th:first-child{text-align:left}"
        ".failed{color:#c42525}.healthy{color:#2b8a3e}</style></head><body>",
        f"<h1>{DAG_ID} for {day}: <span class='{verdict}'>{verdict}</span></h1>",
        f"<p>Run <code>{run_id}</code>, written {escape(str(report.get('written_at', '')))}.</p>",
        _unfinished(report.get("unfinished") or []),
        "<h2>Rows per source</h2>",
        _counts_chart(report.get("audit", [])),
        _counts_table(report.get("audit", [])),
        "<h2>Seconds per step</h2>",
        _seconds_chart(step_seconds(report)),
        "<h2>Checks</h2>",
        f"<p>{len(checks) - len(failed) - len(warned)} passed, {len(warned)} warnings, "
        f"{len(failed)} failed.</p>",
        _checks_list(failed + warned),
        "</body></html>",
    ]
    return "\n".join(parts)


def _unfinished(steps: Sequence[str]) -> str:
    if not steps:
        return ""
    return f"<p class='failed'>Unfinished steps: {escape(', '.join(steps))}</p>"


def _counts_chart(audit: Sequence[Mapping[str, Any]]) -> str:
    if not audit:
        return "<p>No counts: the transform did not finish.</p>"
    top = max(int(row["rows_in"]) for row in audit) or 1
    rows = []
    for i, row in enumerate(audit):
        y = i * ROW_HEIGHT
        x = float(LABEL_WIDTH)
        rows.append(_label(y, str(row["source"])))
        for field, name, color in COUNTS:
            width = BAR_WIDTH * int(row[field]) / top
            if width > 0:
                rows.append(
                    f"<rect x='{x:.1f}' y='{y + 4}' width='{width:.1f}' height='{ROW_HEIGHT - 8}'"
                    f" fill='{color}'><title>{escape(name)}: {int(row[field]):,}</title></rect>"
                )
            x += width
        rows.append(_value(x, y, f"{int(row['rows_in']):,} in"))
    legend = " ".join(
        f"<span style='color:{color}'>&#9632; {name}</span>" for _, name, color in COUNTS
    )
    return _svg(len(audit), rows) + f"<p>{legend}</p>"


def _counts_table(audit: Sequence[Mapping[str, Any]]) -> str:
    if not audit:
        return ""
    head = "<tr><th>source</th><th>in</th>" + "".join(f"<th>{n}</th>" for _, n, _ in COUNTS)
    body = "".join(
        f"<tr><td>{escape(str(row['source']))}</td><td>{int(row['rows_in']):,}</td>"
        + "".join(f"<td>{int(row[f]):,}</td>" for f, _, _ in COUNTS)
        + "</tr>"
        for row in audit
    )
    return f"<table>{head}</tr>{body}</table>"


def _seconds_chart(seconds: Mapping[str, float]) -> str:
    if not seconds:
        return "<p>No timings recorded.</p>"
    top = max(seconds.values()) or 1.0
    rows = []
    for i, (step, value) in enumerate(seconds.items()):
        y = i * ROW_HEIGHT
        width = BAR_WIDTH * value / top
        rows.append(_label(y, step))
        rows.append(
            f"<rect x='{LABEL_WIDTH}' y='{y + 4}' width='{width:.1f}' height='{ROW_HEIGHT - 8}'"
            f" fill='#8085e9'><title>{escape(step)}: {value:.2f} s</title></rect>"
        )
        rows.append(_value(LABEL_WIDTH + width, y, f"{value:.1f} s"))
    return _svg(len(seconds), rows)


def _checks_list(checks: Sequence[Mapping[str, Any]]) -> str:
    if not checks:
        return ""
    items = "".join(
        f"<li class='{'failed' if c.get('status') == 'fail' else ''}'>"
        f"<b>{escape(str(c.get('name')))}</b> ({escape(str(c.get('status')))}): "
        f"{escape(str(c.get('detail', '')))}</li>"
        for c in checks
    )
    return f"<ul>{items}</ul>"


def _label(y: int, text: str) -> str:
    return f"<text x='0' y='{y + ROW_HEIGHT - 9}' font-size='13'>{escape(text)}</text>"


def _value(x: float, y: int, text: str) -> str:
    return f"<text x='{x + 6:.1f}' y='{y + ROW_HEIGHT - 9}' font-size='12'>{escape(text)}</text>"


def _svg(rows: int, body: Sequence[str]) -> str:
    width = LABEL_WIDTH + BAR_WIDTH + 120
    height = rows * ROW_HEIGHT
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img'>{''.join(body)}</svg>"
    )
