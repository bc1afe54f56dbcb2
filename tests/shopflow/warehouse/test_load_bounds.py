"""The load's memory bounds: the Variable's size, and DuckDB opened within it."""

from __future__ import annotations

from pathlib import Path

import pytest
import warehouse_scenarios as sc

from shopflow.errors import ShopflowError
from shopflow.names import VAR_LOAD_MEMORY
from shopflow.tasks.load import MEMORY_LIMIT, memory_limit
from shopflow.warehouse.duckdb import DuckDBWarehouse
from shopflow.warehouse.postgres import PostgresWarehouse
from shopflow_local.in_process import airflow_environment_for

pytestmark = pytest.mark.unit

MEMORY_ENV = f"AIRFLOW_VAR_{VAR_LOAD_MEMORY.upper()}"


@pytest.mark.parametrize(
    ("value", "expected"), [("", MEMORY_LIMIT), ("800MB", "800MB"), (" 2 GiB ", "2 GiB")]
)
def test_the_load_memory_variable_is_a_size_or_the_default(
    tmp_path: Path, value: str, expected: str
) -> None:
    with airflow_environment_for({"SHOPFLOW_HOME": str(tmp_path), MEMORY_ENV: value}):
        assert memory_limit() == expected


def test_a_load_memory_variable_that_is_no_size_names_it(tmp_path: Path) -> None:
    with (
        airflow_environment_for({"SHOPFLOW_HOME": str(tmp_path), MEMORY_ENV: "1GB'; drop"}),
        pytest.raises(ShopflowError, match=VAR_LOAD_MEMORY),
    ):
        memory_limit()


def test_duckdb_within_a_budget_loads_with_it_and_spills_where_told(tmp_path: Path) -> None:
    plain = DuckDBWarehouse(tmp_path / "w.duckdb")
    bounded = plain.within(memory_limit="200MB", scratch=tmp_path / "spill")
    assert bounded.path == plain.path and plain.memory_limit is None
    sc.day_one().load(bounded)
    assert bounded.scalar("select current_setting('temp_directory')") == str(tmp_path / "spill")
    assert bounded.scalar("select current_setting('memory_limit')") == "190.7 MiB"
    assert plain.scalar("select current_setting('memory_limit')") != "190.7 MiB"
    assert bounded.scalar("select count(*) from analytics.dim_customer") == 2


def test_a_database_server_bounds_itself() -> None:
    server = PostgresWarehouse("postgresql://nobody@127.0.0.1:1/none")  # never connected
    assert server.within(memory_limit="1GB", scratch=None) is server
