"""The run report's page: charts of counts and seconds, the checks, everything escaped."""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree

import pytest

from shopflow.run_report_page import report_page, step_seconds

pytestmark = pytest.mark.unit

RECT = "{http://www.w3.org/2000/svg}rect"
TITLE = "{http://www.w3.org/2000/svg}title"

REPORT: dict[str, Any] = {
    "business_date": "2026-11-28",
    "run_id": "manual__<x>",
    "written_at": "2026-11-29T01:05:00+00:00",
    "sources": {
        "sales": {"seconds": 1.5},
        "interactions": {"seconds": 2.25},
        "products": {"seconds": 0.5},
        "clickstream": {"seconds": 4.0},
    },
    "audit": [
        {
            "source": "sales",
            "rows_in": 100,
            "rows_loaded": 100,
            "rows_duplicate": 0,
            "rows_quarantined": 0,
        },
        {
            "source": "clickstream",
            "rows_in": 200,
            "rows_loaded": 150,
            "rows_duplicate": 30,
            "rows_quarantined": 20,
        },
    ],
    "transform_seconds": 3.0,
    "load": {"seconds": {"total": 6.0}},
    "checks_seconds": 0.75,
    "checks": [
        {"name": "orphan_order_lines", "status": "fail", "detail": "9 of 140 <none>"},
        {"name": "row_count_sales", "status": "warn", "detail": "few days"},
        {"name": "dim_customer_key", "status": "pass", "detail": "ok"},
    ],
}


def svgs(page: str) -> list[ElementTree.Element]:
    found = re.findall(r"<svg.*?</svg>", page, re.S)
    return [ElementTree.fromstring(m) for m in found]  # noqa: S314 - our own page


def test_seconds_per_step_come_from_each_step_summary() -> None:
    assert step_seconds(REPORT) == {
        "extract_sales": 1.5,
        "extract_interactions": 2.25,
        "extract_products": 0.5,
        "extract_clickstream": 4.0,
        "transform": 3.0,
        "load": 6.0,
        "checks": 0.75,
    }


def test_the_page_draws_counts_and_seconds_with_bars_in_proportion() -> None:
    counts, seconds = svgs(report_page(REPORT))
    bars = [(r.get("width"), r.findtext(TITLE)) for r in counts.iter(RECT)]
    # clickstream (200 rows in) spans the full width: 150 + 30 + 20 of 200
    assert ("420.0", "loaded: 150") in bars and ("84.0", "duplicate: 30") in bars
    assert ("56.0", "quarantined: 20") in bars and ("280.0", "loaded: 100") in bars
    step_bars = {r.findtext(TITLE): float(r.get("width", "0")) for r in seconds.iter(RECT)}
    assert step_bars["load: 6.00 s"] == 560.0 and step_bars["transform: 3.00 s"] == 280.0
    assert len(step_bars) == 7


def test_the_page_says_failed_and_lists_failed_and_warned_checks_escaped() -> None:
    page = report_page(REPORT)
    assert "<span class='failed'>failed</span>" in page
    assert "1 passed, 1 warnings, 1 failed." in page
    assert "9 of 140 &lt;none&gt;" in page and "manual__&lt;x&gt;" in page
    assert "dim_customer_key" not in page


def test_a_run_without_counts_says_so() -> None:
    page = report_page({"business_date": "2026-11-28", "run_id": "r", "unfinished": ["load"]})
    assert "No counts: the transform did not finish." in page and "failed" in page
    assert "Unfinished steps: load" in page
