"""The runner drives a real Airflow 3 (dag.test in a child process) for one business date."""

from __future__ import annotations

import email
import json
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest

from local_stack import embedded_stack
from shopflow.errors import ShopflowError
from shopflow.warehouse.factory import warehouse_from_url
from shopflow_local.airflow_runtime.dag_test import run_business_date
from shopflow_local.airflow_runtime.home import (
    airflow_env,
    dags_folder,
    metadata_db,
    migrate_db,
    redacted,
)
from shopflow_local.home import shopflow_home

pytestmark = pytest.mark.e2e

EXTRACT_TASKS = {
    "extract.extract_sales",
    "extract.extract_interactions",
    "extract.extract_products",
    "extract.extract_clickstream",
}
DAY = date(2025, 1, 2)


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A local Airflow in a throwaway SHOPFLOW_HOME, migrated once for the module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPFLOW_HOME", str(tmp_path_factory.mktemp("shopflow-home")))
        env = airflow_env(connections={"smtp_default": {"conn_type": "smtp", "password": "x1y2z3"}})
        migrate_db(env)
        yield env


@pytest.fixture(scope="module")
def stack_env(
    airflow: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """Airflow's environment plus the connections of an embedded stack holding day DAY."""
    from shopflow_local.devstack.connections import airflow_environment

    with embedded_stack(tmp_path_factory, DAY, 1, home=shopflow_home()) as info:
        yield {**airflow, **airflow_environment(info)}


def test_airflow_env_points_at_the_shopflow_home(airflow: dict[str, str]) -> None:
    home = Path(airflow["AIRFLOW_HOME"])
    assert home.name == "airflow"
    assert airflow["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{metadata_db(home)}"
    assert airflow["AIRFLOW__CORE__DAGS_FOLDER"] == str(dags_folder())
    assert airflow["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert json.loads(airflow["AIRFLOW_CONN_SMTP_DEFAULT"])["password"] == "x1y2z3"
    assert "x1y2z3" not in json.dumps(redacted(airflow))


def test_migrate_db_runs_once(airflow: dict[str, str]) -> None:
    db = metadata_db(Path(airflow["AIRFLOW_HOME"]))
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("select name from sqlite_master")}
    assert {"dag_run", "task_instance", "serialized_dag"} <= tables
    assert migrate_db(airflow) is False  # cached by the marker for this Airflow version


def test_a_date_before_the_dag_start_is_refused(airflow: dict[str, str]) -> None:
    # Airflow would create a run without task instances and report success.
    with pytest.raises(ShopflowError, match="before the first business date"):
        run_business_date(date(2024, 6, 1), env=airflow, retries=0, timeout=300)
    with sqlite3.connect(metadata_db(Path(airflow["AIRFLOW_HOME"]))) as conn:
        runs = conn.execute("select count(*) from dag_run where logical_date like '2024-06-02%'")
        assert runs.fetchone() == (0,)


def test_a_dag_import_error_is_reported(airflow: dict[str, str], tmp_path: Path) -> None:
    broken = "from airflow.sdk import dag\nimport shopflow_no_such_module\n"
    (tmp_path / "shop_daily_etl.py").write_text(broken)
    env = {**airflow, "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path)}
    with pytest.raises(ShopflowError, match="shopflow_no_such_module"):
        run_business_date(DAY, env=env, timeout=300)


def test_run_reports_every_task_and_rerunning_the_date_works(
    stack_env: dict[str, str], declared_quality_tasks: set[str]
) -> None:
    first = run_business_date(DAY, env=stack_env, timeout=900)
    assert first.ok, first.summary()
    assert first.business_date == DAY
    assert set(first.tasks) >= EXTRACT_TASKS | {"transform", "load", "report"}
    assert {t for t in first.tasks if t.startswith("quality.")} == {
        f"quality.{t}" for t in declared_quality_tasks
    }
    assert set(first.tasks.values()) == {"success"}
    path = json.loads(stack_env["AIRFLOW_CONN_SHOP_WAREHOUSE"])["host"]
    warehouse = warehouse_from_url(f"duckdb://{path}")
    for table in ("dim_customer", "fct_order_line", "fct_click_event", "customer_daily"):
        assert warehouse.scalar(f"select count(*) from analytics.{table}") > 0, table
    reports = list((shopflow_home() / "staging" / "reports" / f"dt={DAY}").glob("*.json"))
    assert len(reports) == 1 and json.loads(reports[0].read_text())["checks"]
    again = run_business_date(DAY, env=stack_env, full_refresh=True, timeout=900)
    assert again.ok, again.summary()
    assert again.run_id != first.run_id
    # dag.test() replaced the earlier run of the same logical date (D+1 01:00)
    with sqlite3.connect(metadata_db(Path(stack_env["AIRFLOW_HOME"]))) as conn:
        runs = conn.execute("select run_id from dag_run where logical_date like '2025-01-03%'")
        assert runs.fetchall() == [(again.run_id,)]


def test_a_failing_task_fails_the_run_and_sends_an_alert(stack_env: dict[str, str]) -> None:
    api = json.loads(stack_env["AIRFLOW_CONN_MARKETING_API"])
    env = {**stack_env, "AIRFLOW_CONN_MARKETING_API": json.dumps({**api, "password": "wrong"})}
    mailbox = shopflow_home() / "mailbox"
    before = set(mailbox.glob("*.eml"))
    outcome = run_business_date(DAY, env=env, retries=0, timeout=900)
    assert not outcome.ok
    assert outcome.state == "failed"
    states = outcome.tasks
    assert states["extract.extract_interactions"] == "failed"
    assert states["extract.extract_sales"] == "success"
    # everything downstream is skipped as upstream_failed; the report still runs and fails
    assert states["transform"] == states["load"] == "upstream_failed"
    assert {s for t, s in states.items() if t.startswith("quality.")} == {"upstream_failed"}
    assert states["report"] == "failed"
    (path,) = set(mailbox.glob("*.eml")) - before  # one alert for the run
    message = email.message_from_bytes(path.read_bytes())
    # dag.test() hands the DAG callback only its last task: the alert names that one (ADR 0008)
    assert message["Subject"].startswith(
        f"[shopflow] shop_daily_etl failed for business date {DAY}"
    )
    parts = [p.get_payload(decode=True) for p in message.walk()]
    body = "\n".join(p.decode() for p in parts if isinstance(p, bytes))
    assert f"/dags/shop_daily_etl/runs/{quote(outcome.run_id, safe='')}" in body
