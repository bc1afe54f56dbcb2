"""The warehouse on every dialect: DuckDB files (unit) and Postgres databases (integration).

The scenarios of warehouse_scenarios.py run on each dialect (tests/shopflow/conftest.py);
the tests named after a dialect show what only it has: DuckDB's file lock between
processes and between threads, Postgres's advisory lock, and the Redshift statement
list run against Postgres, with only the parts Postgres lacks swapped (DISTKEY/SORTKEY
DDL, COPY from S3).
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
import sqlglot
import warehouse_scenarios as sc
from sqlglot import exp

from shopflow.names import CONN_WAREHOUSE
from shopflow.warehouse import ddl
from shopflow.warehouse.base import Warehouse, WarehouseError
from shopflow.warehouse.duckdb import DuckDBWarehouse
from shopflow.warehouse.factory import warehouse_from_connection, warehouse_from_url
from shopflow.warehouse.postgres import PostgresWarehouse
from shopflow.warehouse.redshift import RedshiftWarehouse

ARN = "arn:aws:iam::123456789012:role/shopflow-loader"
CLASSES: dict[str, tuple[type[Warehouse], str]] = {
    "duckdb": (DuckDBWarehouse, "DuckDBHook"),
    "postgresql": (PostgresWarehouse, "PostgresHook"),
}
"""Per URL scheme: the warehouse class, and the hook class the check operators get."""


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=lambda s: s.__name__)
def test_scenario(scenario: Callable[[sc.Make], None], warehouse: sc.Make) -> None:
    scenario(warehouse)


def test_airflow_connection_uses_the_dialects_hook(connected_warehouse_url: str) -> None:
    """The warehouse and the hook of the SQL check operators both come from the connection."""
    from airflow.sdk import BaseHook

    warehouse_class, hook_class = CLASSES[connected_warehouse_url.split(":", 1)[0]]
    wh = warehouse_from_connection()
    assert type(wh) is warehouse_class and wh.dbapi_conn_id() == CONN_WAREHOUSE
    sc.day_one().load(wh)
    hook = BaseHook.get_connection(CONN_WAREHOUSE).get_hook()  # what the check operators use
    assert type(hook).__name__ == hook_class
    assert hook.get_first("select count(*) from analytics.dim_customer") == (2,)


# -- DuckDB ----------------------------------------------------------------------------------


@pytest.mark.unit
def test_duckdb_url_opens_the_file(tmp_path: Path) -> None:
    wh = warehouse_from_url(f"duckdb://{tmp_path / 'w.duckdb'}")
    assert isinstance(wh, DuckDBWarehouse)
    sc.day_one().load(wh)
    assert (tmp_path / "w.duckdb").exists()
    assert wh.dbapi_conn_id() is None


@pytest.mark.integration  # a second process holds the file
def test_duckdb_waits_for_another_process_then_gives_up_clearly(tmp_path: Path) -> None:
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


@pytest.mark.unit
def test_duckdb_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    """Two threads loading at once end as one of the two serial orders: no error, no loss.

    Which order the threads take is up to the scheduler, and these two scenario days
    do not commute: day two's catalog snapshot lacks p1, which only day one's older
    snapshot holds (the stale-snapshot case of ADR 0004), so the result is compared
    with both serial orders.
    """
    concurrent, one_two, two_one = [DuckDBWarehouse(tmp_path / f"{n}.duckdb") for n in "abc"]
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


# -- Postgres ------------------------------------------------------------------------------


@pytest.mark.integration
def test_postgres_url_gives_postgres_in_utc(databases: Callable[[], str]) -> None:
    wh = warehouse_from_url(databases())
    assert isinstance(wh, PostgresWarehouse)
    assert wh.scalar("select current_setting('TimeZone')") == "UTC"


@pytest.mark.integration
def test_postgres_upgrades_text_columns_to_collate_c(databases: Callable[[], str]) -> None:
    """A warehouse of an earlier version (text in the database's collation, an index no
    longer declared) loads as a new one does, and is upgraded by the load."""
    url = databases()
    dropped = "analytics.fct_click_event_session_id_idx"
    with psycopg.connect(url, autocommit=True) as conn:
        for sql in ddl.create_all("postgres"):
            conn.execute(sql.replace(' collate "C"', ""))
        index = dropped.split(".")[1]
        conn.execute(f"create index {index} on analytics.fct_click_event (session_id)")
        assert _collations(conn) == {None}
    old = PostgresWarehouse(url)
    new = PostgresWarehouse(databases())
    for d in (sc.day_one(), sc.day_two()):
        d.load(old)
        d.load(new)
    assert sc.checksums(old) == sc.checksums(new)
    with psycopg.connect(url) as conn:
        assert _collations(conn) == {"C"}
        assert conn.execute("select to_regclass(%s)", (dropped,)).fetchone() == (None,)


def _collations(conn: psycopg.Connection[Any]) -> set[str | None]:
    rows = conn.execute(
        "select distinct collation_name from information_schema.columns"
        " where table_schema = 'analytics' and data_type = 'text'"
    ).fetchall()
    return {r[0] for r in rows}


# Run by the first load while it holds the load lock: the second load, started only now,
# must wait for a lock of this transaction (the load lock, or a table lock before it).
HOLD_LOCK_UNTIL_ANOTHER_LOAD_WAITS = """
do $$
declare tries int := 0;
begin
  while not exists (
    select 1 from pg_locks
    where not granted
      and database = (select oid from pg_database where datname = current_database())
  ) loop
    perform pg_sleep(0.02);
    tries := tries + 1;
    if tries > 3000 then raise exception 'no other load waited for the lock'; end if;
  end loop;
end $$
"""


@pytest.mark.integration
def test_postgres_concurrent_loads_serialise(databases: Callable[[], str]) -> None:
    """Two loads with overlapping keys at once: both succeed, as if run one after the other."""
    url = databases()
    first, second = sc.day_one(), sc.day_two()
    first.derive = (*sc.DERIVE, HOLD_LOCK_UNTIL_ANOTHER_LOAD_WAITS)
    errors: list[BaseException] = []

    def load(day: sc.Day) -> None:
        try:
            day.load(PostgresWarehouse(url))
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    a = threading.Thread(target=load, args=(first,))
    a.start()
    _wait_until_holding(url)  # the first load has merged and holds the load lock
    b = threading.Thread(target=load, args=(second,))
    b.start()
    a.join()
    b.join()
    assert errors == []

    sequential = PostgresWarehouse(databases())
    for d in (sc.day_one(), sc.day_two()):
        d.load(sequential)
    assert sc.checksums(PostgresWarehouse(url)) == sc.checksums(sequential)


def _wait_until_holding(url: str) -> None:
    """Until the first load runs its holding derive step (so it holds the load lock)."""
    sql = (
        "select count(*) from pg_stat_activity where state = 'active'"
        " and datname = current_database() and query like '%no other load waited%'"
        " and pid <> pg_backend_pid()"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(3000):
            row = conn.execute(sql).fetchone()
            if row and row[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the first load never reached its holding step")


# -- Redshift's statements on Postgres ------------------------------------------------------

_COPY = re.compile(
    r"copy (\"delta_\w+\")\nfrom '(s3://[^']+)'\niam_role '[^']+'\nformat as parquet"
)


class _PostgresAsRedshift:
    """A DBAPI connection that runs Redshift statements on Postgres, swapping what differs."""

    def __init__(self, url: str, bucket: dict[str, bytes]) -> None:
        self.conn = psycopg.connect(url)
        self.bucket = bucket

    @property
    def autocommit(self) -> bool:
        return self.conn.autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self.conn.autocommit = value

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    def close(self) -> None:
        self.conn.close()


class _Cursor:
    def __init__(self, owner: _PostgresAsRedshift) -> None:
        self.owner = owner
        self.cur = owner.conn.cursor()

    @property
    def rowcount(self) -> int:
        return self.cur.rowcount

    @property
    def description(self) -> Any:
        return self.cur.description

    def execute(self, sql: str, params: Any = None) -> None:
        copy = _COPY.fullmatch(sql)
        if copy:
            data = pq.read_table(io.BytesIO(self.owner.bucket[copy[2]]))
            buf = io.BytesIO()
            pa_csv.write_csv(data, buf, pa_csv.WriteOptions(include_header=False))
            with self.cur.copy(f"copy {copy[1]} from stdin (format csv)") as pg_copy:
                pg_copy.write(buf.getvalue())
            return
        if sql.startswith("create table"):
            sql = _without_redshift_properties(sql)
        self.cur.execute(sql, params)

    def fetchone(self) -> Any:
        return self.cur.fetchone()

    def fetchall(self) -> Any:
        return self.cur.fetchall()

    def close(self) -> None:
        self.cur.close()


def _without_redshift_properties(sql: str) -> str:
    """Transpile Redshift DDL to Postgres, dropping DISTKEY/DISTSTYLE/SORTKEY."""
    tree = sqlglot.parse_one(sql, read="redshift")
    for prop in list(
        tree.find_all(exp.DistKeyProperty, exp.DistStyleProperty, exp.SortKeyProperty)
    ):
        prop.pop()
    return tree.sql("postgres")


@pytest.mark.integration
def test_redshift_statements_match_postgres(databases: Callable[[], str]) -> None:
    bucket: dict[str, bytes] = {}
    url = databases()
    redshift = RedshiftWarehouse(
        lambda: _PostgresAsRedshift(url, bucket),
        iam_role_arn=ARN,
        staging_prefix="s3://shop-staging/warehouse",
        upload=bucket.__setitem__,
    )
    postgres = PostgresWarehouse(databases())
    for d in (sc.day_one(), sc.day_two()):
        r_report = d.load(redshift)
        p_report = d.load(postgres)
        assert _counts(r_report) == _counts(p_report)
    assert sc.checksums(PostgresWarehouse(url)) == sc.checksums(postgres)
    assert any(key.endswith("/fct_click_event.parquet") for key in bucket)


def _counts(report: Any) -> dict[str, tuple[int, ...]]:
    return {
        name: (t.staged, t.inserted, t.updated, t.deactivated, t.deleted)
        for name, t in report.tables.items()
    }
