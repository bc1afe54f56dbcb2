"""DAG integrity: every DAG in dags/ imports cleanly and follows the house rules."""

from __future__ import annotations

import json
import os
import runpy
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

import shopflow
from shopflow_local.airflow_runtime.home import airflow_env

pytestmark = pytest.mark.unit

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_FILE = DAGS / "shop_daily_etl.py"
DAG_ID = "shop_daily_etl"
EXTRACTS = ("extract_sales", "extract_interactions", "extract_products", "extract_clickstream")
HEAVY_MODULES = (
    "shopflow.tasks",
    "shopflow.sources",
    # the dialect modules; the table declarations (pure dataclasses) are light
    "shopflow.warehouse.base",
    "shopflow.warehouse.duckdb",
    "shopflow.warehouse.postgres",
    "shopflow.warehouse.redshift",
    "shopflow.warehouse.factory",
    "shopflow.transform",
    "duckdb",
    "pyarrow",
    "pandas",
    "numpy",
    "boto3",
    "botocore",
    "connectorx",
    "pymysql",
    "psycopg",
    "airflow.providers.smtp.notifications",
)


@pytest.fixture(scope="module")
def local_airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """airflow_env() of a throwaway SHOPFLOW_HOME (in effect unless Airflow is imported already)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPFLOW_HOME", str(tmp_path_factory.mktemp("shopflow-home")))
        env = airflow_env()
        for name, value in env.items():
            patch.setenv(name, value)
        yield env


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


def _deterministic(task_id: str) -> bool:
    """Quality checks and the report give the same answer on a retry: no retries."""
    return task_id.startswith("quality.") or task_id == "report"


def test_api_extract_retries_three_times_others_twice(dag: Any) -> None:
    retries = {task.task_id: task.retries for task in dag.tasks}
    assert retries.pop("extract.extract_interactions") == 3
    checks = {t: r for t, r in retries.items() if _deterministic(t)}
    assert "report" in checks and len(checks) > 10
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


def test_failure_alert_renders_recipients_at_run_time(dag: Any) -> None:
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    (callback,) = dag.get_task("extract.extract_sales").on_failure_callback
    sent: list[SmtpNotifier] = []

    def context(emails: dict[str, str]) -> dict[str, Any]:
        variables = {"value": mock.Mock(get=lambda key, default=None: emails.get(key, default))}
        return {"var": variables, "dag": None}

    def record(notifier: SmtpNotifier, context: Any) -> None:
        sent.append(notifier)

    with mock.patch.object(SmtpNotifier, "notify", autospec=True, side_effect=record):
        callback(context({}))
        callback(context({"shopflow_alert_emails": "ops@example.com,dba@example.com"}))
    assert [n.to for n in sent] == ["data-eng@example.com", "ops@example.com,dba@example.com"]
    assert {n.smtp_conn_id for n in sent} == {"smtp_default"}
    # a fresh notifier each time: rendering mutates it, so one shared instance would leak
    assert sent[0] is not sent[1]


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


def test_parsing_the_dag_imports_nothing_heavy(local_airflow: dict[str, str]) -> None:
    # A fresh interpreter: other tests may already have imported these modules here.
    probe = (
        "import json, runpy, sys; runpy.run_path(sys.argv[1]); "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(tuple(sys.argv[2:])))))"
    )
    source_root = str(Path(shopflow.__file__).resolve().parents[1])
    env = {**os.environ, **local_airflow}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, env.get("PYTHONPATH")]))
    prefixes = [f"{name}." for name in HEAVY_MODULES] + list(HEAVY_MODULES)
    result = subprocess.run(
        [sys.executable, "-c", probe, str(DAG_FILE), *prefixes],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = [m for m in json.loads(result.stdout.strip().splitlines()[-1]) if _is_heavy(m)]
    assert loaded == []


def _is_heavy(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in HEAVY_MODULES)
