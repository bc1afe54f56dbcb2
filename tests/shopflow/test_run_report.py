"""Run reports: their staging key and their terminal summary."""

from __future__ import annotations

from datetime import date

import pytest

from shopflow.run_report import report_key, report_lines

pytestmark = pytest.mark.unit


def test_report_key_is_per_day_and_safe_for_object_stores() -> None:
    key = report_key(date(2026, 11, 21), "manual__2026-11-24T04:09:12.285912+00:00")
    assert key == "reports/dt=2026-11-21/manual__2026-11-24T04_09_12.285912_00_00.json"


def test_report_lines_name_sources_warnings_and_failures() -> None:
    report = {
        "audit": [
            {"source": "clickstream", "rows_in": 10198, "rows_loaded": 10138,
             "rows_duplicate": 52, "rows_quarantined": 8},
        ],
        "checks": [
            {"name": "reconciliation", "status": "pass"},
            {"name": "row_count_order_lines", "status": "warn"},
            {"name": "quarantine_share", "status": "fail"},
        ],
        "load": {"seconds": {"total": 7.04}},
    }  # fmt: skip
    lines = report_lines(report)
    assert "clickstream" in lines[0] and "10,198" in lines[0] and "52" in lines[0]
    assert lines[1] == (
        "  checks: 1 passed, 1 warnings (row_count_order_lines), 1 failed (quarantine_share)"
    )
    assert lines[2] == "  load: 7.0s in one transaction"


def test_report_lines_of_a_run_that_never_loaded() -> None:
    assert report_lines({"audit": [], "checks": [], "load": None}) == [
        "  checks: 0 passed, 0 warnings, 0 failed"
    ]
