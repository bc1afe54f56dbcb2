"""Quality checks on Postgres, each test in throwaway databases ``shopflow_test_<random>``.

Also runs the real operators through PostgresHook (``%s`` parameters via psycopg 3).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import quality_scenarios as sc

from shopflow.quality.checks import RUN_CHECKS
from shopflow.quality.operators import FAILURE_PREFIX
from shopflow.warehouse.postgres import PostgresWarehouse

pytestmark = pytest.mark.integration


def _world(url: str) -> sc.World:
    def execute(sql: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql)

    return sc.World(PostgresWarehouse(url), execute)


@pytest.fixture
def make(databases: Callable[[], str]) -> Callable[[], sc.World]:
    return lambda: _world(databases())


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=lambda s: s.__name__)
def test_scenario(scenario: Callable[[sc.Make], None], make: sc.Make) -> None:
    scenario(make)


# -- the Airflow operators -------------------------------------------------------------------


@pytest.fixture
def connected(databases: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> sc.World:
    """A clean world whose database is the Airflow connection ``shop_warehouse``."""
    url = databases()
    parts = urlsplit(url)
    conn = {
        "conn_type": "postgres",
        "host": parts.hostname,
        "port": parts.port,
        "login": parts.username,
        "schema": parts.path.lstrip("/"),
    }
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_WAREHOUSE", json.dumps(conn))
    return sc.clean(lambda: _world(url))


def failing_tasks(run_id: str = sc.RUN) -> dict[str, str]:
    """Every operator of build_quality_checks rendered and executed; failures by task id."""
    from airflow.sdk import DAG
    from airflow.sdk.exceptions import AirflowFailException

    from shopflow.quality.operators import build_quality_checks

    with DAG("quality_test", schedule=None, start_date=datetime(2024, 1, 1)):
        operators: list[Any] = build_quality_checks("shop_warehouse")
    failed = {}
    for op in operators:
        context = {"run_id": run_id}
        op.render_template_fields(context)
        try:
            op.execute(context)
        except AirflowFailException as exc:
            failed[op.task_id] = str(exc)
    return failed


def test_operators_pass_on_the_clean_state(connected: sc.World) -> None:
    assert failing_tasks() == {}


def test_operators_fail_naming_the_checks(connected: sc.World) -> None:
    sc._orphan(connected, 2)
    connected.execute("update analytics.fct_order_line set unit_price = -0.01 where line_no = 3")
    failed = failing_tasks()
    assert sorted(failed) == ["fct_order_line_column_checks", "orphan_order_lines"]
    assert failed["orphan_order_lines"].startswith(f"{FAILURE_PREFIX} orphan_order_lines\n")
    assert failed["fct_order_line_column_checks"].startswith(
        f"{FAILURE_PREFIX} fct_order_line.unit_price.min\n"
    )


def test_operators_bind_the_run_id(connected: sc.World) -> None:
    assert set(failing_tasks(run_id="manual__it's-not-there")) == {c.name for c in RUN_CHECKS}
