"""DAG integrity: every DAG in dags/ imports cleanly and follows the house rules."""

from __future__ import annotations

import runpy
import socket
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

pytestmark = pytest.mark.unit

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_FILE = DAGS / "shop_daily_etl.py"
DAG_ID = "shop_daily_etl"
EXTRACTS = ("extract_sales", "extract_interactions", "extract_products", "extract_clickstream")


@pytest.fixture(scope="module")
def dagbag(local_airflow: dict[str, str]) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


@pytest.fixture(scope="module")
def dag(dagbag: Any) -> Any:
    return dagbag.dags[DAG_ID]


@pytest.fixture(scope="module")
def dag_module(local_airflow: dict[str, str]) -> dict[str, Any]:
    """The DAG file's globals (its helper functions)."""
    return runpy.run_path(str(DAG_FILE))


def test_dags_import_without_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert DAG_ID in dagbag.dags


def test_every_dag_has_owner_tags_docs_and_retries(dagbag: Any) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, dag_id
        assert dag.doc_md and len(dag.doc_md.strip()) > 200, dag_id
        for task in dag.tasks:
            assert task.owner == "data-eng", task.task_id
            if not _deterministic(task.task_id):
                assert task.retries > 0, task.task_id
            assert task.retry_exponential_backoff >= 2, task.task_id
            assert task.retry_delay.total_seconds() == 30, task.task_id
            assert task.max_retry_delay.total_seconds() == 600, task.task_id
            assert task.on_failure_callback, task.task_id


def test_doc_md_is_the_module_docstring(dag: Any, dag_module: dict[str, Any]) -> None:
    assert dag.doc_md == dag_module["__doc__"]
    for name in EXTRACTS:
        assert name in dag.doc_md


def test_the_quality_group_holds_exactly_the_declared_checks(
    dag: Any, declared_quality_tasks: set[str]
) -> None:
    group = {t.task_id for t in dag.tasks if t.task_id.startswith("quality.")}
    assert group == {f"quality.{t}" for t in declared_quality_tasks}
    assert {"quality.fct_order_line_column_checks", "quality.reconciliation"} <= group
    for task_id in group:
        assert dag.get_task(task_id).downstream_task_ids == {"report"}, task_id
        assert dag.get_task(task_id).upstream_task_ids == {"load"}, task_id


def _deterministic(task_id: str) -> bool:
    """Quality checks and the report give the same answer on a retry: no retries."""
    return task_id.startswith("quality.") or task_id == "report"


def test_api_extract_retries_three_times_others_twice(
    dag: Any, declared_quality_tasks: set[str]
) -> None:
    retries = {task.task_id: task.retries for task in dag.tasks}
    assert retries.pop("extract.extract_interactions") == 3
    checks = {t: r for t, r in retries.items() if _deterministic(t)}
    assert set(checks) == {"report"} | {f"quality.{t}" for t in declared_quality_tasks}
    assert set(checks.values()) == {0}
    others = {t: r for t, r in retries.items() if not _deterministic(t)}
    assert {"transform", "load", "extract.extract_sales"} <= set(others)
    assert set(others.values()) == {2}


def test_schedule_is_daily_at_one_utc_without_catchup(dag: Any) -> None:
    from airflow.sdk import CronTriggerTimetable

    timetable = dag.timetable
    assert isinstance(timetable, CronTriggerTimetable)
    assert timetable.expression == "0 1 * * *"
    assert getattr(timetable.timezone, "name", timetable.timezone) == "UTC"
    assert dag.timezone.name == "UTC"
    assert dag.catchup is False
    assert dag.start_date == datetime(2025, 1, 1, tzinfo=UTC)
    assert dag.max_active_runs == 1


def test_params_business_date_and_full_refresh(dag: Any) -> None:
    business = dag.params.get_param("business_date")
    assert business.value is None
    assert business.schema["type"] == ["null", "string"]
    assert business.schema["format"] == "date"
    full_refresh = dag.params.get_param("full_refresh")
    assert full_refresh.value is False
    assert full_refresh.schema["type"] == "boolean"


def test_four_extracts_run_in_parallel_in_one_group(dag: Any) -> None:
    ids = [f"extract.{name}" for name in EXTRACTS]
    for task_id in ids:
        task = dag.get_task(task_id)
        assert task.task_group.group_id == "extract"
        assert task.upstream_task_ids == set(), task_id
        # parallel: no extract depends on another, directly or not
        assert not (task.get_flat_relative_ids(upstream=False) & set(ids)), task_id


def test_the_report_waits_for_every_task(dag: Any) -> None:
    report = dag.get_task("report")
    assert report.trigger_rule == "all_done"
    assert {f"extract.{name}" for name in EXTRACTS} <= report.upstream_task_ids
    others = {t.task_id for t in dag.tasks} - {"report"}
    assert report.get_flat_relative_ids(upstream=True) == others


def test_the_sales_and_api_extracts_hold_their_pools_nothing_else_is_pooled(dag: Any) -> None:
    from shopflow.names import POOL_MARKETING_API, POOL_SALES_DB
    from shopflow.pools import POOLS

    pooled = {t.task_id: t.pool for t in dag.tasks if t.pool != "default_pool"}
    assert pooled == {
        "extract.extract_sales": POOL_SALES_DB,
        "extract.extract_interactions": POOL_MARKETING_API,
    }
    assert set(pooled.values()) == {pool.name for pool in POOLS}  # every pool is defined
    assert {t.pool_slots for t in dag.tasks} == {1}


def test_transform_and_load_go_to_the_heavy_queue_the_rest_to_the_default(dag: Any) -> None:
    from airflow.configuration import conf

    from shopflow.names import QUEUE_HEAVY

    default_queue = conf.get("operators", "default_queue")

    assert QUEUE_HEAVY == "shopflow_heavy"
    queues = {t.task_id: t.queue for t in dag.tasks}
    assert {t for t, q in queues.items() if q == QUEUE_HEAVY} == {"transform", "load"}
    assert {q for t, q in queues.items() if t not in {"transform", "load"}} == {default_queue}


def test_doc_md_names_the_pools_and_the_queue(dag: Any) -> None:
    from shopflow.names import POOL_MARKETING_API, POOL_SALES_DB, QUEUE_HEAVY

    for name in (POOL_SALES_DB, POOL_MARKETING_API, QUEUE_HEAVY, "docs/deployment.md"):
        assert name in dag.doc_md, name


def test_run_arguments_resolve_business_date_from_context(dag_module: dict[str, Any]) -> None:
    context = {
        "logical_date": datetime(2025, 3, 2, 1, tzinfo=UTC),
        "params": {"business_date": None, "full_refresh": True},
        "run_id": "scheduled__2025-03-02T01:00:00+00:00",
    }
    args = dag_module["run_arguments"](context)
    assert args.business_date == date(2025, 3, 1)
    assert args.full_refresh is True
    assert args.run_id == "scheduled__2025-03-02T01:00:00+00:00"
    context["params"] = {"business_date": "2025-01-15", "full_refresh": False}
    assert dag_module["run_arguments"](context)[:2] == (date(2025, 1, 15), False)


def test_a_failed_run_alerts_once_and_a_failed_task_only_records_its_error(dag: Any) -> None:
    from shopflow import alerts

    assert dag.on_failure_callback in (alerts.alert_run_failed, [alerts.alert_run_failed])
    for task in dag.tasks:
        assert task.on_failure_callback == [alerts.record_task_failure], task.task_id
        assert not task.email, task.task_id


def test_a_run_over_its_budget_is_stopped_and_alerts(dag: Any, dag_module: dict[str, Any]) -> None:
    from shopflow import alerts

    assert dag.dagrun_timeout == dag_module["RUN_BUDGET"] == timedelta(hours=6)
    assert not dag.deadline  # Airflow 3.3.2's deadlines break clearing tasks (ADR 0008)
    assert dag.on_failure_callback in (alerts.alert_run_failed, [alerts.alert_run_failed])


def test_the_run_alert_names_failed_tasks_their_errors_and_the_report(dag: Any) -> None:
    from shopflow import alerts

    states = {
        "extract.extract_interactions": "failed",
        "extract.extract_sales": "success",
        "transform": "upstream_failed",
        "report": "failed",
    }
    xcoms = {
        ("extract.extract_interactions", alerts.ERROR_XCOM_KEY): {
            "error": "RetriesExhausted: the marketing API answered 503",
            "tries": 4,
        },
        ("report", alerts.REPORT_XCOM_KEY): {
            "business_date": "2026-11-28",
            "audit": [],
            "checks": [],
            "unfinished": ["transform"],
        },
    }
    sent: list[dict[str, Any]] = []

    class Hook:
        def __init__(self, smtp_conn_id: str) -> None:
            assert smtp_conn_id == "smtp_default"

        def __enter__(self) -> Hook:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def send_email_smtp(self, **kwargs: Any) -> None:
            sent.append(kwargs)

    with (
        mock.patch(
            "airflow.sdk.execution_time.task_runner.RuntimeTaskInstance.get_task_states",
            return_value={"manual__1": states},
        ),
        mock.patch(
            "airflow.sdk.execution_time.xcom.XCom.get_one",
            side_effect=lambda key, task_id, **_: xcoms.get((task_id, key)),
        ),
        mock.patch("airflow.providers.smtp.hooks.smtp.SmtpHook", Hook),
        mock.patch("airflow.sdk.Variable.get", side_effect=lambda key, default=None: default),
        mock.patch.object(alerts, "_base_url", return_value="http://127.0.0.1:18090"),
    ):
        alerts.alert_run_failed({"run_id": "manual__1", "dag": dag, "reason": "task_failure"})
    (mail,) = sent
    assert mail["subject"] == (
        "[shopflow] shop_daily_etl failed for business date 2026-11-28: extract_interactions"
    )
    assert mail["to"] == ["data-eng@example.com"]
    body = mail["html_content"]
    assert "extract.extract_interactions (4 tries): RetriesExhausted: the marketing API" in body
    assert "report (tries unknown): no error recorded" in body
    assert "Not run because of them: transform" in body
    assert "http://127.0.0.1:18090/dags/shop_daily_etl/runs/manual__1" in body


def test_parsing_the_dag_opens_no_socket_and_reads_no_variable(
    local_airflow: dict[str, str],
) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import Variable

    touched: list[str] = []

    def refuse(what: str) -> Any:
        def _refuse(*args: Any, **kwargs: Any) -> Any:
            touched.append(what)
            raise AssertionError(f"DAG parsing must not use {what}")

        return _refuse

    with (
        mock.patch.object(socket.socket, "connect", refuse("socket.connect")),
        mock.patch.object(socket.socket, "connect_ex", refuse("socket.connect_ex")),
        mock.patch.object(socket, "create_connection", refuse("socket.create_connection")),
        mock.patch.object(Variable, "get", refuse("Variable.get")),
    ):
        bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    assert DAG_ID in bag.dags
    assert touched == []
