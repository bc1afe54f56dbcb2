"""Quality checks on DuckDB warehouse files: through evaluate, and through the real operators."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import Any

import duckdb
import pytest
import quality_scenarios as sc
import structlog

from shopflow.quality.checks import RUN_CHECKS, TABLE_CHECKS
from shopflow.quality.operators import FAILURE_PREFIX
from shopflow.warehouse.duckdb import DuckDBWarehouse

pytestmark = pytest.mark.integration


def _world(path: Path) -> sc.World:
    def execute(sql: str) -> None:
        with duckdb.connect(str(path)) as conn:
            conn.execute(sql)

    return sc.World(DuckDBWarehouse(path), execute)


@pytest.fixture
def make(tmp_path: Path) -> Callable[[], sc.World]:
    numbers = count()
    return lambda: _world(tmp_path / f"quality-{next(numbers)}.duckdb")


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=lambda s: s.__name__)
def test_scenario(scenario: Callable[[sc.Make], None], make: sc.Make) -> None:
    scenario(make)


# -- the Airflow operators -------------------------------------------------------------------


@pytest.fixture
def connected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], sc.World]:
    """Worlds whose DuckDB file is the Airflow connection ``shop_warehouse``."""
    path = tmp_path / "airflow.duckdb"
    monkeypatch.setenv(
        "AIRFLOW_CONN_SHOP_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": str(path)})
    )
    return lambda: _world(path)


def operators() -> dict[str, Any]:
    """Fresh operators from build_quality_checks, in a throwaway DAG."""
    from airflow.sdk import DAG

    from shopflow.quality.operators import build_quality_checks

    with DAG("quality_test", schedule=None, start_date=datetime(2024, 1, 1)):
        return {op.task_id: op for op in build_quality_checks("shop_warehouse")}


def execute(op: Any, run_id: str = sc.RUN) -> None:
    """What the task runner does for one operator: render templates, then execute."""
    context = {"run_id": run_id}
    op.render_template_fields(context)
    op.execute(context)


def failing_tasks(run_id: str = sc.RUN) -> dict[str, str]:
    """Every operator executed; the task ids that failed, with their messages."""
    from airflow.sdk.exceptions import AirflowFailException

    failed = {}
    for task_id, op in operators().items():
        try:
            execute(op, run_id)
        except AirflowFailException as exc:
            failed[task_id] = str(exc)
    return failed


def test_operators_cover_every_declaration() -> None:
    tasks = set(operators())
    assert {c.name for c in RUN_CHECKS} <= tasks
    assert {f"{t.table}_column_checks" for t in TABLE_CHECKS if t.columns} <= tasks


def test_operators_pass_on_the_clean_state(connected: sc.Make) -> None:
    sc.clean(connected)
    assert failing_tasks() == {}


@pytest.mark.parametrize(
    ("plant", "task_id", "check"),
    [
        (lambda w: sc._orphan(w, 2), "orphan_order_lines", "orphan_order_lines"),
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


def test_operator_fails_a_run_without_audit_rows(connected: sc.Make) -> None:
    sc.clean(connected)
    failed = failing_tasks(run_id="manual__never-ran")
    assert set(failed) == {c.name for c in RUN_CHECKS}


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


def test_checks_open_duckdb_read_only(connected: sc.Make) -> None:
    sc.clean(connected)
    op = operators()["reconciliation"]
    execute(op)
    assert op.hook_params == {"read_only": True}
    assert op.get_db_hook().read_only is True
