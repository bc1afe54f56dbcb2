"""The failed-run e-mail: what a person on call reads, built from task errors and the report."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from shopflow import alerts
from shopflow.alerts import FailedTask, compose_failure_alert, one_line, run_url
from shopflow.names import AUDIT_DAG_ID, DAG_ID

pytestmark = pytest.mark.unit

REPORT: dict[str, Any] = {
    "business_date": "2026-11-28",
    "report_uri": "s3://bucket/reports/dt=2026-11-28/manual.json",
    "audit": [
        {
            "source": "sales",
            "rows_in": 4555,
            "rows_loaded": 4555,
            "rows_duplicate": 0,
            "rows_quarantined": 0,
        },
        {
            "source": "clickstream",
            "rows_in": 10008,
            "rows_loaded": 9947,
            "rows_duplicate": 55,
            "rows_quarantined": 6,
        },
    ],
    "checks": [
        {
            "name": "orphan_order_lines",
            "status": "fail",
            "detail": "9 of 140 have no dim_product row (allowed 5)",
        },
        {"name": "row_count_orders", "status": "warn", "detail": "too few earlier days"},
    ],
    "unfinished": [],
}


def test_the_subject_names_the_dag_the_date_and_the_failed_tasks_not_the_report() -> None:
    alert = compose_failure_alert(
        run_id="manual__2026-11-29",
        business_date=date(2026, 11, 28),
        failed=[
            FailedTask("extract.extract_interactions", "RetriesExhausted: 503 x5", 4),
            FailedTask("report", "ShopflowError: run of 2026-11-28 is not healthy", 1),
        ],
        not_run=["transform", "load"],
        report=None,
        url="http://127.0.0.1:18090/dags/shop_daily_etl/runs/manual__2026-11-29",
    )
    assert alert.subject == (
        "[shopflow] shop_daily_etl failed for business date 2026-11-28: extract_interactions"
    )
    assert "extract.extract_interactions (4 tries): RetriesExhausted: 503 x5" in alert.text
    assert "report (1 try): ShopflowError" in alert.text
    assert "Not run because of them: transform, load" in alert.text
    assert "No run report" in alert.text
    assert alert.text.endswith(
        "Open the run: http://127.0.0.1:18090/dags/shop_daily_etl/runs/manual__2026-11-29"
    )


def test_the_body_carries_the_report_summary_and_failed_checks_with_their_detail() -> None:
    alert = compose_failure_alert(
        run_id="r1",
        business_date="2026-11-28",
        failed=[FailedTask("quality.orphan_order_lines", "AirflowException: failed", 1)],
        not_run=[],
        report=REPORT,
        url="http://ui/dags/shop_daily_etl/runs/r1",
    )
    assert "orphan_order_lines" in alert.subject
    text = alert.text
    assert "clickstream       10,008      9,947       55        6" in text
    assert "  - orphan_order_lines: 9 of 140 have no dim_product row (allowed 5)" in text
    assert "row_count_orders" not in text  # a warning is not a failure
    assert "Full report: s3://bucket/reports/dt=2026-11-28/manual.json" in text


def test_only_the_report_failing_names_the_report() -> None:
    alert = compose_failure_alert(
        run_id="r",
        business_date="2026-11-28",
        failed=[FailedTask("report", "x", 1)],
        not_run=[],
        report=REPORT,
        url="u",
    )
    assert alert.subject.endswith(": report")


def test_the_html_escapes_what_it_shows() -> None:
    alert = compose_failure_alert(
        run_id="r<1>",
        business_date="2026-11-28",
        failed=[FailedTask("t", "<script>", 2)],
        not_run=[],
        report=None,
        url='http://ui/"x"',
    )
    assert "<script>" not in alert.html and "&lt;script&gt;" in alert.html
    assert 'href="http://ui/&quot;x&quot;"' in alert.html


def test_one_line_keeps_the_type_and_first_line_and_cuts_long_text() -> None:
    assert one_line(ValueError("bad\nsecond line")) == "ValueError: bad"
    assert one_line(None).startswith("no error recorded")
    assert len(one_line(RuntimeError("x" * 1000))) == alerts.MAX_ERROR_CHARS


def test_the_run_url_quotes_the_run_id() -> None:
    assert run_url("http://127.0.0.1:18090/", "manual__2026-11-29T01:00:00+00:00") == (
        "http://127.0.0.1:18090/dags/shop_daily_etl/runs/manual__2026-11-29T01%3A00%3A00%2B00%3A00"
    )


def test_the_audits_e_mail_names_its_dag_and_no_business_date_or_report() -> None:
    error = "AirflowFailException: shopflow quality check(s) failed: fct_click_event.event_id.x"
    url = run_url("http://ui", "scheduled__2026-11-29T03:00:00+00:00", AUDIT_DAG_ID)
    alert = compose_failure_alert(
        run_id="scheduled__2026-11-29T03:00:00+00:00",
        business_date=None,
        failed=[FailedTask("quality.fct_click_event_column_checks", error, 1)],
        not_run=[],
        report=None,
        url=url,
        dag_id=AUDIT_DAG_ID,
    )
    assert alert.subject == (
        "[shopflow] shop_warehouse_audit failed: fct_click_event_column_checks"
    )
    assert alert.text == (
        "The run scheduled__2026-11-29T03:00:00+00:00 of shop_warehouse_audit failed.\n\n"
        "Failed tasks:\n"
        f"  - quality.fct_click_event_column_checks (1 try): {error}\n\n"
        "Open the run: http://ui/dags/shop_warehouse_audit/runs/"
        "scheduled__2026-11-29T03%3A00%3A00%2B00%3A00"
    )


def test_the_daily_dags_e_mail_still_says_when_its_business_date_is_unknown() -> None:
    alert = compose_failure_alert(
        run_id="r", business_date=None, failed=[], not_run=[], report=None, url="u"
    )
    assert alert.subject == (
        "[shopflow] shop_daily_etl failed for business date unknown: no task failed"
    )
    assert "No run report: the report task did not finish." in alert.text


@pytest.mark.parametrize(
    ("context", "dag_id"),
    [
        ({"dag": SimpleNamespace(dag_id=AUDIT_DAG_ID)}, AUDIT_DAG_ID),
        ({"dag_run": SimpleNamespace(dag_id=AUDIT_DAG_ID)}, AUDIT_DAG_ID),
        ({"dag": None, "dag_run": SimpleNamespace(dag_id=AUDIT_DAG_ID)}, AUDIT_DAG_ID),
        ({}, DAG_ID),
    ],
    ids=["dag", "dag_run", "dag_none", "neither"],
)
def test_the_alert_names_the_dag_of_the_failing_run(context: dict[str, Any], dag_id: str) -> None:
    assert alerts.failed_dag_id(context) == dag_id


class RecordingTI:
    """A task instance that keeps what is pushed to XCom."""

    def __init__(self, task_id: str, try_number: int) -> None:
        self.task_id, self.try_number = task_id, try_number
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def test_a_task_failure_is_recorded_with_its_tries() -> None:
    ti = RecordingTI("extract.extract_sales", 3)
    alerts.record_task_failure({"ti": ti, "exception": ConnectionError("reset by peer")})
    pushed = ti.pushed
    assert pushed == {
        alerts.ERROR_XCOM_KEY: {"error": "ConnectionError: reset by peer", "tries": 3}
    }


def test_a_timed_out_run_says_so_with_its_budget_and_the_stopped_tasks() -> None:
    alert = compose_failure_alert(
        run_id="scheduled__x",
        business_date="2026-11-28",
        failed=[],
        not_run=[],
        report=None,
        url="u",
        reason=alerts.TIMED_OUT,
        stopped=["extract.extract_clickstream", "transform"],
        budget=timedelta(hours=6),
    )
    assert alert.subject == (
        "[shopflow] shop_daily_etl timed out for business date 2026-11-28: "
        "over its time budget of 6 h"
    )
    assert "Stopped unfinished by the time budget: extract.extract_clickstream, transform" in (
        alert.text
    )


def test_a_fail_fast_failure_is_recorded_as_the_permanent_error_behind_it() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from shopflow.sources.http_retry import RequestLog, RequestRejected

    ti = RecordingTI("extract.extract_interactions", 1)
    cause = RequestRejected(
        "marketing API rejected the token (401)", status=401, log=RequestLog("x")
    )
    try:
        raise AirflowFailException(str(cause)) from cause
    except AirflowFailException as exc:
        alerts.record_task_failure({"ti": ti, "exception": exc})
    assert ti.pushed[alerts.ERROR_XCOM_KEY] == {
        "error": "RequestRejected: marketing API rejected the token (401)",
        "tries": 1,
    }


def test_a_large_group_of_tasks_is_named_once_with_its_count() -> None:
    tasks = ["load", *(f"quality.check_{i}" for i in range(18)), "transform"]
    assert alerts.grouped(tasks) == "load, quality.* (18 tasks), transform"
    assert alerts.grouped(["quality.a", "quality.b"]) == "quality.a, quality.b"


@pytest.mark.parametrize(
    ("budget", "said"),
    [
        (timedelta(hours=6), "6 h"),
        (timedelta(seconds=90), "1.5 min"),
        (timedelta(seconds=20), "20 s"),
    ],
)
def test_the_time_budget_reads_in_its_natural_unit(budget: timedelta, said: str) -> None:
    alert = compose_failure_alert(
        run_id="r",
        business_date="2026-11-28",
        failed=[],
        not_run=[],
        report=None,
        url="u",
        reason=alerts.TIMED_OUT,
        budget=budget,
    )
    assert alert.subject.endswith(f"over its time budget of {said}")
