"""The warehouse on DuckDB files in a temp directory."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from itertools import count
from pathlib import Path

import pytest
import warehouse_scenarios as sc

from shopflow.warehouse.base import Warehouse, WarehouseError
from shopflow.warehouse.duckdb import DuckDBWarehouse
from shopflow.warehouse.factory import warehouse_from_url

pytestmark = pytest.mark.integration


@pytest.fixture
def make(tmp_path: Path) -> Callable[[], Warehouse]:
    numbers = count()
    return lambda: DuckDBWarehouse(tmp_path / f"warehouse-{next(numbers)}.duckdb")


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=lambda s: s.__name__)
def test_scenario(scenario: Callable[[sc.Make], None], make: sc.Make) -> None:
    scenario(make)


def test_url_opens_the_file(tmp_path: Path) -> None:
    wh = warehouse_from_url(f"duckdb://{tmp_path / 'w.duckdb'}")
    assert isinstance(wh, DuckDBWarehouse)
    sc.day_one().load(wh)
    assert (tmp_path / "w.duckdb").exists()
    assert wh.dbapi_conn_id() is None


def test_waits_for_another_process_then_gives_up_clearly(tmp_path: Path) -> None:
    path = tmp_path / "held.duckdb"
    DuckDBWarehouse(path).ensure_schema()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
            " sys.stdin.readline()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseError, match="locked by another process"):
            sc.day_one().load(DuckDBWarehouse(path, lock_timeout=0.3))
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait()
    wh = DuckDBWarehouse(path, lock_timeout=0.3)
    sc.day_one().load(wh)
    assert wh.scalar("select count(*) from analytics.dim_customer") == 2


def test_threads_of_one_process_take_turns(make: sc.Make) -> None:
    """Two threads loading at once end as one of the two serial orders: no error, no loss.

    Which order the threads take is up to the scheduler, and these two scenario days
    do not commute: day two's catalog snapshot lacks p1, which only day one's older
    snapshot holds (the stale-snapshot case of ADR 0004), so the result is compared
    with both serial orders.
    """
    concurrent, one_two, two_one = make(), make(), make()
    for d in (sc.day_one(), sc.day_two()):
        d.load(one_two)
    for d in (sc.day_two(), sc.day_one()):
        d.load(two_one)
    errors: list[BaseException] = []

    def load(day: sc.Day) -> None:
        try:
            day.load(concurrent)
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(d,)) for d in (sc.day_one(), sc.day_two())]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sc.checksums(concurrent) in (sc.checksums(one_two), sc.checksums(two_one))


def test_airflow_connection_uses_the_duckdb_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "airflow.duckdb"
    conn = {"conn_type": "duckdb", "host": str(path)}
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_WAREHOUSE", json.dumps(conn))
    from airflow.providers.duckdb.hooks.duckdb import DuckDBHook

    from shopflow.warehouse.factory import warehouse_from_connection

    wh = warehouse_from_connection()
    assert isinstance(wh, DuckDBWarehouse) and wh.dbapi_conn_id() == "shop_warehouse"
    sc.day_one().load(wh)
    hook = DuckDBHook(duckdb_conn_id=wh.dbapi_conn_id())  # what the SQL check operators use
    assert hook.get_first("select count(*) from analytics.dim_customer") == (2,)
