"""Quality checks on every dialect, through evaluate and through the real operators.

DuckDB files are unit tests, throwaway Postgres databases integration tests
(tests/shopflow/conftest.py); on Postgres the operators run through PostgresHook
(``%s`` parameters via psycopg 3). The scenarios are in quality_scenarios.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import psycopg
import pytest
import quality_scenarios as sc
import structlog

from shopflow.names import CONN_WAREHOUSE
from shopflow.quality.checks import RUN_CHECKS, RUN_SCOPES
from shopflow.quality.evaluate import RESULTS_XCOM_KEY, check_tasks, run_checks
from shopflow.quality.operators import FAILURE_PREFIX
from shopflow.warehouse.factory import warehouse_from_url


def writer(url: str) -> Callable[[str], None]:
    """Runs one write statement on the warehouse database of ``url``, outside the warehouse."""
    if url.startswith("duckdb:"):
        path = urlsplit(url).path

        def execute_duckdb(sql: str) -> None:
            with duckdb.connect(path) as conn:
                conn.execute(sql)

        return execute_duckdb

    def execute_postgres(sql: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql)

    return execute_postgres


def world(url: str) -> sc.World:
    return sc.World(warehouse_from_url(url), writer(url))


@pytest.fixture
def make(new_warehouse_url: Callable[[], str]) -> sc.Make:
    """Worlds, each on a fresh warehouse of the dialect."""
    return lambda: world(new_warehouse_url())


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=lambda s: s.__name__)
def test_scenario(scenario: Callable[[sc.Make], None], make: sc.Make) -> None:
    scenario(make)


# -- the Airflow operators -------------------------------------------------------------------


@pytest.fixture
def connected(connected_warehouse_url: str) -> sc.Make:
    """Worlds on the one warehouse that is the Airflow connection ``shop_warehouse``."""
    return lambda: world(connected_warehouse_url)


def build_operators(*, whole_tables: bool = False) -> list[Any]:
    """Fresh operators from build_quality_checks, in a throwaway DAG."""
    from airflow.sdk import DAG

    from shopflow.quality.operators import build_quality_checks

    with DAG("quality_test", schedule=None, start_date=datetime(2024, 1, 1)):
        return build_quality_checks(CONN_WAREHOUSE, whole_tables=whole_tables)


def operators(*, whole_tables: bool = False) -> dict[str, Any]:
    """The operators by task id (the audit's with ``whole_tables``)."""
    return {op.task_id: op for op in build_operators(whole_tables=whole_tables)}


class RecordingTI:
    """The task instance's ``xcom_push``, keeping what was pushed."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = json.loads(json.dumps(value))  # XCom keeps JSON


def execute(op: Any, run_id: str = sc.RUN, ti: RecordingTI | None = None) -> None:
    """What the task runner does for one operator: render templates, then execute."""
    context = {"run_id": run_id, "ti": ti or RecordingTI()}
    op.render_template_fields(context)
    op.execute(context)


def run_operators(
    run_id: str = sc.RUN, *, whole_tables: bool = False
) -> tuple[dict[str, str], dict[str, Any]]:
    """Every operator executed: (failed task id -> message, task id -> its recorded results)."""
    from airflow.sdk.exceptions import AirflowFailException

    failed, recorded = {}, {}
    for task_id, op in operators(whole_tables=whole_tables).items():
        ti = RecordingTI()
        try:
            execute(op, run_id, ti)
        except AirflowFailException as exc:
            failed[task_id] = str(exc)
        recorded[task_id] = ti.pushed.get(RESULTS_XCOM_KEY)
    return failed, recorded


def failing_tasks(run_id: str = sc.RUN, *, whole_tables: bool = False) -> dict[str, str]:
    """Every operator executed; the task ids that failed, with their messages."""
    return run_operators(run_id, whole_tables=whole_tables)[0]


def assert_records_match_evaluate(world: sc.World, run_id: str = sc.RUN) -> dict[str, Any]:
    """Each task recorded, also when failing, exactly what evaluate computes for its checks."""
    failed, recorded = run_operators(run_id)
    expected = {r.name: r.to_dict() for r in run_checks(world.warehouse, run_id=run_id)}
    for task_id, names in check_tasks().items():
        record = recorded[task_id]
        assert record is not None, f"{task_id} recorded nothing"
        assert record["seconds"] >= 0
        assert [r["name"] for r in record["results"]] == names
        for result in record["results"]:
            assert result == expected[result["name"]], task_id
        assert (task_id in failed) == any(r["status"] == "fail" for r in record["results"])
    return recorded


@pytest.mark.unit
def test_operators_are_exactly_the_declared_checks(declared_quality_tasks: set[str]) -> None:
    task_ids = [op.task_id for op in build_operators()]
    assert len(task_ids) == len(set(task_ids))
    assert set(task_ids) == declared_quality_tasks
    assert {"fct_order_line_column_checks", "fct_order_line_table_checks"} <= set(task_ids)


def test_operators_pass_on_the_clean_state(connected: sc.Make) -> None:
    sc.clean(connected)
    assert failing_tasks() == {}


def test_operators_record_what_evaluate_finds_passing_or_failing(connected: sc.Make) -> None:
    world = sc.clean(connected)
    recorded = assert_records_match_evaluate(world)
    assert {r["status"] for rec in recorded.values() for r in rec["results"]} == {"pass"}
    sc.plant_orphans(world, sc.ORPHANS_OVER_LIMIT)
    world.execute("update analytics.fct_order_line set unit_price = -0.01 where line_no = 3")
    recorded = assert_records_match_evaluate(world)
    failed = [
        r["name"] for rec in recorded.values() for r in rec["results"] if r["status"] == "fail"
    ]
    assert failed == ["fct_order_line.unit_price.min", "orphan_order_lines"]


def test_a_warning_is_recorded_as_warn(connected: sc.Make) -> None:
    world = sc.with_history(connected, days=3, lines=sc.LINES // 4)
    recorded = assert_records_match_evaluate(world)
    (result,) = recorded["row_count_order_lines"]["results"]
    assert result["status"] == "warn" and result["severity"] == "warning"


def test_a_query_error_is_recorded_before_the_task_fails(connected: sc.Make) -> None:
    world = sc.clean(connected)
    world.execute("drop table analytics.load_audit")
    op, ti = operators()["reconciliation"], RecordingTI()
    with pytest.raises(Exception, match="load_audit"):
        execute(op, ti=ti)
    (result,) = ti.pushed[RESULTS_XCOM_KEY]["results"]
    assert (result["name"], result["status"]) == ("reconciliation", "fail")
    assert result["detail"].startswith("could not run reconciliation: ")
    assert "load_audit" in result["detail"]


@pytest.mark.parametrize(
    ("plant", "task_id", "check"),
    [
        (
            lambda w: sc.plant_orphans(w, sc.ORPHANS_OVER_LIMIT),
            "orphan_order_lines",
            "orphan_order_lines",
        ),
        (
            lambda w: w.execute("update analytics.fct_order_line set quantity = 0"),
            "fct_order_line_column_checks",
            "fct_order_line.quantity.min",
        ),
        (
            lambda w: w.execute(
                "update analytics.fct_order_line set fx_rate = null\n"
                f"where order_id = {sc.OLD_ORDER}"
            ),
            "fct_order_line_table_checks",
            "order_line_has_fx_rate",
        ),
    ],
    ids=["run_check", "column_check", "table_check"],
)
def test_operator_fails_naming_the_check(
    connected: sc.Make, plant: Callable[[sc.World], None], task_id: str, check: str
) -> None:
    plant(sc.clean(connected))
    failed = failing_tasks()
    assert list(failed) == [task_id]
    assert failed[task_id].startswith(f"{FAILURE_PREFIX} {check}\n")


def test_operators_fail_each_naming_its_check(connected: sc.Make) -> None:
    world = sc.clean(connected)
    sc.plant_orphans(world, sc.ORPHANS_OVER_LIMIT)
    world.execute("update analytics.fct_order_line set unit_price = -0.01 where line_no = 3")
    failed = failing_tasks()
    assert sorted(failed) == ["fct_order_line_column_checks", "orphan_order_lines"]
    assert failed["orphan_order_lines"].startswith(f"{FAILURE_PREFIX} orphan_order_lines\n")
    assert failed["fct_order_line_column_checks"].startswith(
        f"{FAILURE_PREFIX} fct_order_line.unit_price.min\n"
    )


def test_only_the_audit_operators_see_violations_before_the_run_scope(
    connected: sc.Make,
) -> None:
    sc.plant_before_the_run_scope(sc.with_history(connected, days=3, lines=sc.LINES))
    assert failing_tasks() == {}
    audit = failing_tasks(whole_tables=True)
    assert sorted(audit) == ["fct_click_event_column_checks", "fct_order_line_column_checks"]
    assert audit["fct_click_event_column_checks"].startswith(
        f"{FAILURE_PREFIX} fct_click_event.event_id.unique_check\n"
    )


@pytest.mark.parametrize("run_id", ["manual__never-ran", "manual__it's-not-there"])
def test_operators_fail_a_run_without_audit_rows(connected: sc.Make, run_id: str) -> None:
    """The run checks and the scoped column checks bind the run id (a quote in it is
    harmless) and find no audit rows: no scope, so NULL null counts and minimums."""
    sc.clean(connected)
    scoped = {f"{table}_column_checks" for table in RUN_SCOPES}
    assert set(failing_tasks(run_id=run_id)) == {c.name for c in RUN_CHECKS} | scoped


def test_row_count_operator_warns_without_failing(connected: sc.Make) -> None:
    sc.with_history(connected, days=3, lines=sc.LINES // 4)
    op = operators()["row_count_order_lines"]
    with structlog.testing.capture_logs() as logs:
        execute(op)
    warnings = [
        e["event"]
        for e in logs
        if e.get("log_level") == "warning" and e["event"].startswith("quality warning")
    ]
    assert len(warnings) == 1
    assert warnings[0].startswith("quality warning row_count_order_lines (run scheduled__")
    assert "over 3 earlier day(s) of 7, outside a factor of 3" in warnings[0]


def test_row_count_operator_fails_with_seven_earlier_days(connected: sc.Make) -> None:
    sc.with_history(connected, days=7, lines=sc.LINES // 4)
    assert list(failing_tasks()) == ["row_count_order_lines"]


@pytest.mark.unit
def test_duckdb_checks_open_the_file_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "airflow.duckdb"
    conn = {"conn_type": "duckdb", "host": str(path)}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_WAREHOUSE.upper()}", json.dumps(conn))
    sc.clean(lambda: world(f"duckdb://{path}"))
    op = operators()["reconciliation"]
    execute(op)
    assert op.hook_params == {"read_only": True}
    assert op.get_db_hook().read_only is True
