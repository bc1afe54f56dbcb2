"""The warehouse of a scenario suite, one dialect per test case: DuckDB or Postgres.

A test taking ``warehouse`` (or ``new_warehouse_url``) runs once per dialect and
takes its tier from the dialect: DuckDB files in a temp directory are ``unit``,
throwaway Postgres databases ``integration`` (skipped without Postgres, failed in
CI). Such a test carries no tier marker of its own, nor does its module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import count
from pathlib import Path

import pytest

from shopflow.names import CONN_WAREHOUSE
from shopflow.warehouse.base import Warehouse
from shopflow.warehouse.factory import warehouse_from_url
from shopflow_local.devstack.connections import warehouse_connection

DIALECTS = (
    pytest.param("duckdb", marks=pytest.mark.unit, id="duckdb"),
    pytest.param("postgres", marks=pytest.mark.integration, id="postgres"),
)


@pytest.fixture(params=DIALECTS)
def new_warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Makes the URL of a fresh, empty warehouse of the dialect at each call."""
    if request.param == "postgres":
        databases: Callable[[], str] = request.getfixturevalue("databases")
        return databases
    numbers = count()
    return lambda: f"duckdb://{tmp_path / f'warehouse-{next(numbers)}.duckdb'}"


@pytest.fixture
def warehouse(new_warehouse_url: Callable[[], str]) -> Callable[[], Warehouse]:
    """Makes a fresh, empty warehouse of the dialect at each call."""
    return lambda: warehouse_from_url(new_warehouse_url())


@pytest.fixture
def connected_warehouse_url(
    new_warehouse_url: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> str:
    """A fresh warehouse of the dialect as the Airflow connection ``shop_warehouse``; its URL.

    Set through ``AIRFLOW_CONN_SHOP_WAREHOUSE``: outside a task the Task SDK reads the
    environment (src/shopflow_local/in_process.py).
    """
    url = new_warehouse_url()
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_WAREHOUSE.upper()}", json.dumps(warehouse_connection(url))
    )
    return url
