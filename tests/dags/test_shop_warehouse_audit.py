"""The weekly audit DAG: the daily checks' column and table checks over whole tables."""

from __future__ import annotations

import runpy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from shopflow import alerts
from shopflow.names import AUDIT_DAG_ID, CONN_WAREHOUSE
from shopflow.quality.checks import RUN_CHECKS, WHOLE_TABLE_CHECKS

pytestmark = pytest.mark.unit

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "shop_warehouse_audit.py"


@pytest.fixture(scope="module")
def dag(local_airflow: dict[str, str]) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags[AUDIT_DAG_ID]


def test_the_audit_runs_weekly_after_the_daily_run_without_catchup(dag: Any) -> None:
    from airflow.sdk import CronTriggerTimetable

    timetable = dag.timetable
    assert isinstance(timetable, CronTriggerTimetable)
    assert timetable.expression == "0 3 * * 0"  # Sundays 03:00, after the daily 01:00
    assert getattr(timetable.timezone, "name", timetable.timezone) == "UTC"
    assert dag.start_date == datetime(2025, 1, 1, tzinfo=UTC)
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.dagrun_timeout == timedelta(hours=2)
    assert set(dag.tags) == {"shopflow", "quality", "audit"}


def test_doc_md_is_the_module_docstring(dag: Any, local_airflow: dict[str, str]) -> None:
    assert dag.doc_md == runpy.run_path(str(DAG_FILE))["__doc__"]
    assert "docs/operations.md" in dag.doc_md


def test_the_tasks_are_the_whole_table_checks_and_no_run_check(dag: Any) -> None:
    expected = {f"quality.{t.table}_column_checks" for t in WHOLE_TABLE_CHECKS if t.columns} | {
        f"quality.{t.table}_table_checks" for t in WHOLE_TABLE_CHECKS if t.statements
    }
    assert set(dag.task_ids) == expected
    assert not {t.rsplit(".", 1)[-1] for t in dag.task_ids} & {c.name for c in RUN_CHECKS}
    assert "quality.fct_order_line_column_checks" in expected


def test_every_check_reads_its_whole_table(dag: Any) -> None:
    from airflow.providers.common.sql.operators.sql import (
        SQLColumnCheckOperator,
        SQLTableCheckOperator,
    )

    tables = {t.qualified for t in WHOLE_TABLE_CHECKS}
    for task in dag.tasks:
        assert isinstance(task, SQLColumnCheckOperator | SQLTableCheckOperator), task.task_id
        assert task.partition_clause is None, task.task_id
        assert task.scope_parameters == {}, task.task_id
        assert "$run_id" not in task.sql, task.task_id
        assert task.table in tables and task.conn_id == CONN_WAREHOUSE, task.task_id


def test_checks_retry_only_errors_and_run_side_by_side_in_the_default_pool(dag: Any) -> None:
    for task in dag.tasks:
        assert (task.retries, task.retry_on_failure) == (2, False), task.task_id
        assert task.pool == "default_pool", task.task_id
        assert task.upstream_task_ids == set() == task.downstream_task_ids, task.task_id


def test_a_failed_run_alerts_once_and_a_failed_task_only_records_its_error(dag: Any) -> None:
    assert dag.on_failure_callback in (alerts.alert_run_failed, [alerts.alert_run_failed])
    for task in dag.tasks:
        assert task.on_failure_callback == [alerts.record_task_failure], task.task_id
        assert not task.email, task.task_id


def test_the_run_alert_names_the_audit_and_its_failed_checks(dag: Any) -> None:
    failed_task = "quality.fct_order_line_column_checks"
    error = "AirflowFailException: shopflow quality check(s) failed: fct_order_line.quantity.min"
    states = {task_id: "success" for task_id in dag.task_ids} | {failed_task: "failed"}
    xcoms = {(failed_task, alerts.ERROR_XCOM_KEY): {"error": error, "tries": 1}}
    asked: list[str] = []
    sent: list[alerts.Alert] = []

    def task_states(dag_id: str, run_ids: list[str]) -> dict[str, Any]:
        asked.append(dag_id)
        return {"scheduled__1": states}

    def get_one(key: str, dag_id: str, task_id: str, **_: Any) -> Any:
        asked.append(dag_id)
        return xcoms.get((task_id, key))

    with (
        mock.patch(
            "airflow.sdk.execution_time.task_runner.RuntimeTaskInstance.get_task_states",
            side_effect=task_states,
        ),
        mock.patch("airflow.sdk.execution_time.xcom.XCom.get_one", side_effect=get_one),
        mock.patch.object(alerts, "send_alert", side_effect=sent.append),
        mock.patch.object(alerts, "_base_url", return_value="http://ui"),
        mock.patch.object(alerts, "_business_date", side_effect=AssertionError("no date")),
    ):
        alerts.alert_run_failed({"run_id": "scheduled__1", "dag": dag, "reason": "task_failure"})
    (alert,) = sent
    assert set(asked) == {AUDIT_DAG_ID}
    assert alert.subject == "[shopflow] shop_warehouse_audit failed: fct_order_line_column_checks"
    assert alert.text == (
        "The run scheduled__1 of shop_warehouse_audit failed.\n\n"
        "Failed tasks:\n"
        f"  - {failed_task} (1 try): {error}\n\n"
        "Open the run: http://ui/dags/shop_warehouse_audit/runs/scheduled__1"
    )
