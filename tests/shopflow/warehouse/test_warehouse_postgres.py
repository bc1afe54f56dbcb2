"""The warehouse on Postgres, each test in throwaway databases ``shopflow_test_<random>``.

Also runs the Redshift statement list against Postgres, with only the parts
Postgres lacks swapped (DISTKEY/SORTKEY DDL, COPY from S3).
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
import sqlglot
import warehouse_scenarios as sc
from sqlglot import exp

from shopflow.warehouse.base import Warehouse
from shopflow.warehouse.factory import warehouse_from_url
from shopflow.warehouse.postgres import PostgresWarehouse
from shopflow.warehouse.redshift import RedshiftWarehouse

pytestmark = pytest.mark.integration
ARN = "arn:aws:iam::123456789012:role/shopflow-loader"


@pytest.fixture
def make(databases: Callable[[], str]) -> Callable[[], Warehouse]:
    return lambda: warehouse_from_url(databases())


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=lambda s: s.__name__)
def test_scenario(scenario: Callable[[sc.Make], None], make: sc.Make) -> None:
    scenario(make)


def test_url_gives_postgres(make: sc.Make) -> None:
    wh = make()
    assert isinstance(wh, PostgresWarehouse)
    assert wh.scalar("select current_setting('TimeZone')") == "UTC"


HOLD_LOCK_UNTIL_ANOTHER_LOAD_WAITS = """
do $$
declare tries int := 0;
begin
  while not exists (
    select 1 from pg_locks
    where locktype = 'advisory' and not granted
      and database = (select oid from pg_database where datname = current_database())
  ) loop
    perform pg_sleep(0.02);
    tries := tries + 1;
    if tries > 3000 then raise exception 'no other load waited for the lock'; end if;
  end loop;
end $$
"""


def test_concurrent_loads_serialise(databases: Callable[[], str]) -> None:
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
    _wait_for_granted_advisory_lock(url)  # the first load merges, holding the lock
    b = threading.Thread(target=load, args=(second,))
    b.start()
    a.join()
    b.join()
    assert errors == []

    sequential = PostgresWarehouse(databases())
    for d in (sc.day_one(), sc.day_two()):
        d.load(sequential)
    assert sc.checksums(PostgresWarehouse(url)) == sc.checksums(sequential)


def _wait_for_granted_advisory_lock(url: str) -> None:
    sql = (
        "select count(*) from pg_locks where locktype = 'advisory' and granted"
        " and database = (select oid from pg_database where datname = current_database())"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(3000):
            row = conn.execute(sql).fetchone()
            if row and row[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the first load never took the lock")


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


def test_airflow_connection_uses_the_postgres_hook(
    databases: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = urlsplit(databases())
    conn = {
        "conn_type": "postgres",
        "host": url.hostname,
        "port": url.port,
        "login": url.username,
        "schema": url.path.lstrip("/"),
    }
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_WAREHOUSE", json.dumps(conn))
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from shopflow.warehouse.factory import warehouse_from_connection

    wh = warehouse_from_connection()
    assert isinstance(wh, PostgresWarehouse) and wh.dbapi_conn_id() == "shop_warehouse"
    sc.day_one().load(wh)
    hook = PostgresHook(postgres_conn_id=wh.dbapi_conn_id())  # what the SQL check operators use
    assert hook.get_first("select count(*) from analytics.dim_customer") == (2,)
