"""Run reports: where they live in staging and how they read in a terminal."""

from __future__ import annotations

from datetime import date
from typing import Any


def report_key(day: date, run_id: str, suffix: str = ".json") -> str:
    """``reports/dt=D/<run_id>.json`` (or another suffix), the run id made safe for a key."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)
    return f"reports/dt={day.isoformat()}/{safe}{suffix}"


def page_key(day: date, run_id: str) -> str:
    """``reports/dt=D/<run_id>.html``: the report as a page, beside the JSON."""
    return report_key(day, run_id, ".html")


def report_lines(report: dict[str, Any]) -> list[str]:
    """A few indented lines: rows per source, checks, load time."""
    lines = []
    for row in report.get("audit", []):
        lines.append(
            f"  {row['source']:<13} in {row['rows_in']:>9,}  loaded {row['rows_loaded']:>9,}"
            f"  duplicate {row['rows_duplicate']:>6,}  quarantined {row['rows_quarantined']:>6,}"
        )
    checks = report.get("checks", [])
    parts = []
    for status, label in (("pass", "passed"), ("warn", "warnings"), ("fail", "failed")):
        names = [c["name"] for c in checks if c.get("status") == status]
        named = f" ({', '.join(names)})" if names and status != "pass" else ""
        parts.append(f"{len(names)} {label}{named}")
    lines.append(f"  checks: {', '.join(parts)}")
    seconds = (report.get("load") or {}).get("seconds", {})
    if "total" in seconds:
        lines.append(f"  load: {seconds['total']:.1f}s in one transaction")
    return lines
