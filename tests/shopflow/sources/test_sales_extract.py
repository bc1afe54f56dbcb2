"""The sales extract against a real SQLite file and a real MariaDB/MySQL database.

Each test writes a small, hand-written source through the database's own protocol,
using the generator's DDL file when it is there (otherwise a copy of the S1 tables of
docs/data-contract.md), and checks the staged tables against what the source holds for
the day.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pymysql
import pytest

import shopflow_local
from shopflow.errors import ShopflowError
from shopflow.sources.sales import extract_sales, redact_url
from shopflow.staging import Staging
from shopflow_local.devstack import aws_emulator
from shopflow_local.devstack.process import free_port

pytestmark = pytest.mark.integration

D = date(2025, 3, 4)
DDL_DIR = Path(shopflow_local.__file__).parent / "devstack" / "sql"
MYSQL_DB = "shop_test_extract"
MYSQL_USER = os.environ.get("SHOPFLOW_MYSQL_USER", "root")
MYSQL_PASSWORD = os.environ.get("SHOPFLOW_MYSQL_PASSWORD", "")

S1_DDL = """
create table customers (customer_id bigint primary key, email varchar(255) not null,
  full_name varchar(200), country char(2), created_at datetime(6), updated_at datetime(6));
create table orders (order_id bigint primary key, customer_id bigint not null,
  status varchar(16), currency char(3), order_ts datetime(6), updated_at datetime(6),
  shipping_amount decimal(12,2), discount_amount decimal(12,2));
create index orders_updated_at on orders (updated_at);
create table order_items (order_id bigint, line_no int, product_id varchar(32), quantity int,
  unit_price decimal(12,2), primary key (order_id, line_no));
create table fx_rates (rate_date date, currency char(3), usd_per_unit decimal(18,8),
  primary key (rate_date, currency));
"""


def ts(text: str) -> str:
    return text if "." in text else text + ".000000"


D0 = ts("2025-03-04 00:00:00")  # the first instant of D: inside
D_LAST = "2025-03-04 23:59:59.999999"  # the last instant of D: inside
D1 = ts("2025-03-05 00:00:00")  # the first instant of D+1: outside
BEFORE = "2025-03-03 23:59:59.999999"  # the last instant of D-1: outside
OLD_ORDER = ts("2025-02-23 08:00:00")  # placed 9 days before D: fx rates from D-16
CUSTOMERS = [
    (1, " Alice@Example.COM ", "Alice A", "DE", ts("2025-01-01 10:00:00"), D0),
    (2, "bob@example.com", "Bob B", "US", ts("2025-03-03 12:00:00"), BEFORE),
    (3, "carol@example.com", "Carol C", "FR", ts("2025-02-01 08:00:00"), D_LAST),
    (4, "dan@example.com", "Dan D", None, ts("2025-03-04 09:00:00"), D1),
    (5, "erin@example.com", None, "GB", ts("2024-12-01 00:00:00"), ts("2025-02-01 00:00:00")),
]
ORDERS = [
    (100, 1, "paid", "EUR", D0, D0, "4.99", "0.00"),
    (101, 2, "placed", "USD", ts("2025-03-03 23:00:00"), BEFORE, "0", "0"),
    (102, 3, "shipped", "GBP", OLD_ORDER, ts("2025-03-04 12:00:00"), "12.5", "1.25"),
    (103, 1, "delivered", "JPY", D_LAST, D1, "0", "0"),
    (104, 5, "cancelled", "USD", "2025-03-04 10:00:00.123456", D_LAST, "9999999999.99", "0.01"),
]
ITEMS = [
    (100, 1, "P1", 2, "19.99"),
    (100, 2, "P2", 1, "0.01"),
    (101, 1, "P1", 1, "5.00"),
    (102, 1, "P3", 3, "1234.56"),
    (103, 1, "P9", 1, "1.00"),
    (104, 1, "P4", 1, "9999999999.99"),
    (104, 2, "UNKNOWN-1", 5, "0.10"),
]
RATES = {"EUR": "1.08345678", "GBP": "1.26999999", "JPY": "0.00667891", "USD": "1.00000000"}
FX = [
    ((date(2025, 2, 10) + timedelta(days=n)).isoformat(), cur, rate)
    for n in range(25)
    for cur, rate in RATES.items()
]
IN_DAY_ORDERS = {100, 102, 104}
IN_DAY_CUSTOMERS = {1, 3}
FULL_REFRESH_CUSTOMERS = {1, 2, 3, 5}
FX_LO, FX_HI = date(2025, 2, 16), D  # min(order_date) = 2025-02-23, minus 7 days


@dataclass
class Source:
    url: str
    count: Callable[[str, tuple[Any, ...]], int]


def load_ddl(dialect: str) -> str:
    path = DDL_DIR / f"sales_schema_{dialect}.sql"
    return path.read_text() if path.is_file() else S1_DDL


def statements(ddl: str) -> list[str]:
    lines = [line for line in ddl.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def insert_all(execute: Callable[[str, list[tuple[Any, ...]]], None], mark: str) -> None:
    def sql(table: str, n: int) -> str:
        return f"insert into {table} values ({', '.join([mark] * n)})"

    execute(
        "insert into customers (customer_id, email, full_name, country, created_at, updated_at) "
        f"values ({', '.join([mark] * 6)})",
        CUSTOMERS,
    )
    execute(
        "insert into orders (order_id, customer_id, status, currency, order_ts, updated_at, "
        f"shipping_amount, discount_amount) values ({', '.join([mark] * 8)})",
        ORDERS,
    )
    execute(
        "insert into order_items (order_id, line_no, product_id, quantity, unit_price) "
        f"values ({', '.join([mark] * 5)})",
        ITEMS,
    )
    execute(
        f"insert into fx_rates (rate_date, currency, usd_per_unit) values ({mark}, {mark}, {mark})",
        FX,
    )
    del sql


@pytest.fixture
def sqlite_source(tmp_path: Path) -> Source:
    path = tmp_path / "sales.sqlite"
    with sqlite3.connect(path) as conn:
        for stmt in statements(load_ddl("sqlite")):
            conn.execute(stmt)
        insert_all(conn.executemany, "?")

    def count(sql: str, args: tuple[Any, ...]) -> int:
        with sqlite3.connect(path) as conn:
            return int(conn.execute(sql.replace("%s", "?"), args).fetchone()[0])

    return Source(f"sqlite://{path}", count)


@pytest.fixture
def mysql_source(mysql_port: int) -> Iterator[Source]:
    def connect(db: str | None = None) -> pymysql.Connection[Any]:
        return pymysql.connect(
            host="127.0.0.1", port=mysql_port, user=MYSQL_USER, password=MYSQL_PASSWORD,
            database=db, autocommit=True,
        )  # fmt: skip

    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"drop database if exists {MYSQL_DB}")
        cur.execute(f"create database {MYSQL_DB}")
    with connect(MYSQL_DB) as conn, conn.cursor() as cur:
        for stmt in statements(load_ddl("mysql")):
            cur.execute(stmt)
        insert_all(cur.executemany, "%s")

    def count(sql: str, args: tuple[Any, ...]) -> int:
        with connect(MYSQL_DB) as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            row = cur.fetchone()
            assert row is not None
            return int(row[0])

    auth = MYSQL_USER + (f":{MYSQL_PASSWORD}" if MYSQL_PASSWORD else "")
    try:
        yield Source(f"mysql://{auth}@127.0.0.1:{mysql_port}/{MYSQL_DB}", count)
    finally:
        with connect() as conn, conn.cursor() as cur:
            cur.execute(f"drop database if exists {MYSQL_DB}")


@pytest.fixture(params=["sqlite", "mysql"])
def source(request: pytest.FixtureRequest) -> Source:
    return request.getfixturevalue(f"{request.param}_source")  # type: ignore[no-any-return]


def day_bounds() -> tuple[str, str]:
    return f"{D} 00:00:00", f"{D + timedelta(days=1)} 00:00:00"


def test_day_d_extracts_exactly_the_rows_of_the_window(source: Source, tmp_path: Path) -> None:
    staging = Staging.from_uri(str(tmp_path / "staging"))
    result = extract_sales(D, url=source.url, staging=staging)

    orders = staging.read_table("sales", D, "orders")
    customers = staging.read_table("sales", D, "customers")
    items = staging.read_table("sales", D, "order_items")
    fx = staging.read_table("sales", D, "fx_rates")
    assert orders.column("order_id").to_pylist() == sorted(IN_DAY_ORDERS)
    assert customers.column("customer_id").to_pylist() == sorted(IN_DAY_CUSTOMERS)
    assert "full_name" not in customers.column_names
    assert {(r["order_id"], r["line_no"]) for r in items.to_pylist()} == {
        (i[0], i[1]) for i in ITEMS if i[0] in IN_DAY_ORDERS
    }
    assert set(fx.column("rate_date").to_pylist()) == {
        FX_LO + timedelta(days=n) for n in range((FX_HI - FX_LO).days + 1)
    }

    lo, hi = day_bounds()
    expected = {
        "orders": source.count(
            "select count(*) from orders where updated_at >= %s and updated_at < %s", (lo, hi)
        ),
        "customers": source.count(
            "select count(*) from customers where updated_at >= %s and updated_at < %s", (lo, hi)
        ),
        "order_items": source.count(
            "select count(*) from order_items i join orders o on o.order_id = i.order_id "
            "where o.updated_at >= %s and o.updated_at < %s",
            (lo, hi),
        ),
        "fx_rates": source.count(
            "select count(*) from fx_rates where rate_date >= %s and rate_date <= %s",
            (FX_LO.isoformat(), FX_HI.isoformat()),
        ),
    }
    assert result.tables == expected
    assert result.rows_in == sum(expected.values()) == result.rows_loaded
    assert result.rows_duplicate == result.rows_quarantined == 0
    assert staging.read_manifest("sales", D).counts["rows_in"] == result.rows_in


def test_decimals_and_timestamps_stay_exact(source: Source, tmp_path: Path) -> None:
    staging = Staging.from_uri(str(tmp_path / "staging"))
    extract_sales(D, url=source.url, staging=staging)
    orders = {r["order_id"]: r for r in staging.read_table("sales", D, "orders").to_pylist()}
    items = {
        (r["order_id"], r["line_no"]): r["unit_price"]
        for r in staging.read_table("sales", D, "order_items").to_pylist()
    }
    fx = {
        (r["rate_date"], r["currency"]): r["usd_per_unit"]
        for r in staging.read_table("sales", D, "fx_rates").to_pylist()
    }
    assert orders[104]["shipping_amount"] == Decimal("9999999999.99")
    assert orders[104]["discount_amount"] == Decimal("0.01")
    assert orders[104]["order_ts"] == datetime(2025, 3, 4, 10, 0, 0, 123456, tzinfo=UTC)
    assert orders[104]["updated_at"] == datetime(2025, 3, 4, 23, 59, 59, 999999, tzinfo=UTC)
    assert orders[100]["updated_at"] == datetime(2025, 3, 4, tzinfo=UTC)
    assert items[(100, 1)] == Decimal("19.99") and items[(100, 2)] == Decimal("0.01")
    assert items[(104, 1)] == Decimal("9999999999.99")
    assert fx[(D, "EUR")] == Decimal("1.08345678")
    assert fx[(D, "JPY")] == Decimal("0.00667891")
    schema = staging.read_table("sales", D, "order_items").schema
    assert str(schema.field("unit_price").type) == "decimal128(12, 2)"


def test_full_refresh_takes_every_customer_updated_before_the_next_day(
    source: Source, tmp_path: Path
) -> None:
    staging = Staging.from_uri(str(tmp_path / "staging"))
    result = extract_sales(D, url=source.url, staging=staging, customers_full_refresh=True)
    customers = staging.read_table("sales", D, "customers")
    assert customers.column("customer_id").to_pylist() == sorted(FULL_REFRESH_CUSTOMERS)
    hi = f"{D + timedelta(days=1)} 00:00:00"
    assert result.tables["customers"] == source.count(
        "select count(*) from customers where updated_at < %s", (hi,)
    )
    emails = dict(
        zip(customers["customer_id"].to_pylist(), customers["email"].to_pylist(), strict=True)
    )
    assert emails[1] == " Alice@Example.COM "  # staged as the source holds it; hashed later


def test_a_second_extract_stages_identical_parquet(source: Source, tmp_path: Path) -> None:
    staging = Staging.from_uri(str(tmp_path / "staging"))
    extract_sales(D, url=source.url, staging=staging, run_id="first")
    first = staging.read_manifest("sales", D)
    extract_sales(D, url=source.url, staging=staging, run_id="second", partition_num=2)
    second = staging.read_manifest("sales", D)
    assert second.run_id == "second"
    for name, entry in first.tables.items():
        assert [(f.key, f.sha256) for f in entry.files] == [
            (f.key, f.sha256) for f in second.tables[name].files
        ]


def test_a_day_without_changes_stages_empty_tables(source: Source, tmp_path: Path) -> None:
    staging = Staging.from_uri(str(tmp_path / "staging"))
    quiet = date(2025, 1, 15)
    result = extract_sales(quiet, url=source.url, staging=staging)
    assert result.tables == {"customers": 0, "orders": 0, "order_items": 0, "fx_rates": 0}
    orders = staging.read_table("sales", quiet, "orders")
    assert orders.num_rows == 0
    assert str(orders.schema.field("shipping_amount").type) == "decimal128(12, 2)"


def test_sales_staged_on_s3_match_local(sqlite_source: Source, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    try:
        endpoint = aws_emulator.start_s3(free_port(), run_dir)
        aws_emulator.ensure_bucket(endpoint, "staging-test")
        s3 = Staging.from_uri(
            "s3://staging-test/shopflow", s3=aws_emulator.aws_client("s3", endpoint)
        )
        local = Staging.from_uri(str(tmp_path / "staging"))
        on_s3 = extract_sales(D, url=sqlite_source.url, staging=s3)
        extract_sales(D, url=sqlite_source.url, staging=local)
        assert (
            on_s3.manifest_uri
            == "s3://staging-test/shopflow/raw/sales/dt=2025-03-04/_manifest.json"
        )
        for table in ("customers", "orders", "order_items", "fx_rates"):
            assert s3.read_table("sales", D, table).equals(local.read_table("sales", D, table))
        listed = aws_emulator.aws_client("s3", endpoint).list_objects_v2(
            Bucket="staging-test", Prefix="shopflow/raw/sales/dt=2025-03-04/"
        )
        assert len(listed["Contents"]) == 5  # four tables and the manifest
    finally:
        aws_emulator.stop_all(run_dir)


def test_a_failing_read_never_shows_the_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import connectorx

    secret = "n0t-the-Passw0rd"
    url = f"mysql://reader:{secret}@127.0.0.1:1/{MYSQL_DB}"

    def refuse(conn: str, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"cannot connect to {conn}")  # drivers may echo the URL

    monkeypatch.setattr(connectorx, "read_sql", refuse)
    with pytest.raises(ShopflowError) as caught:
        extract_sales(D, url=url, staging=Staging.from_uri(str(tmp_path / "s")))
    assert secret not in str(caught.value)
    assert "mysql://reader:***@127.0.0.1:1/" in str(caught.value)
    assert redact_url(url) == f"mysql://reader:***@127.0.0.1:1/{MYSQL_DB}"


def test_task_glue_resolves_the_airflow_connection(
    source: Source,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from shopflow.tasks import extract

    parts = urlsplit(source.url)
    if parts.scheme == "sqlite":
        conn: dict[str, Any] = {"conn_type": "sqlite", "host": parts.path}
    else:
        conn = {
            "conn_type": "mysql",
            "host": parts.hostname,
            "port": parts.port,
            "login": parts.username,
            "password": parts.password or "",
            "schema": parts.path.lstrip("/"),
        }
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_SALES", json.dumps(conn))
    monkeypatch.setenv("AIRFLOW_VAR_SHOPFLOW_STAGING_URI", str(tmp_path / "staging"))
    logged: list[str] = []
    monkeypatch.setattr(extract.log, "info", lambda fmt, *args: logged.append(fmt % args))
    summary = extract.extract_sales(D.isoformat(), full_refresh=True, run_id="manual__1")
    assert json.loads(json.dumps(summary)) == summary
    assert summary["business_date"] == "2025-03-04"
    assert summary["tables"]["customers"] == len(FULL_REFRESH_CUSTOMERS)
    assert summary["rows_in"] == sum(summary["tables"].values())
    staging = Staging.from_uri(str(tmp_path / "staging"))
    assert staging.read_manifest("sales", D).run_id == "manual__1"
    assert summary["manifest_uri"] == staging.manifest_uri("sales", D)
    (line,) = logged
    assert line.startswith("extract sales 2025-03-04: in=80 loaded=80 duplicate=0")
    assert (parts.password or "never-empty") not in line
