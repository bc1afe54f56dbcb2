"""Writers without services: SQLite sales files, MySQL literals, gzip files, DynamoDB items."""

from __future__ import annotations

import gzip
import sqlite3
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopflow.errors import ShopflowError
from shopflow_local.devstack.generator import (
    DaySummary,
    GenerateSummary,
    GeneratorConfig,
    generate_day,
)
from shopflow_local.devstack.generator.catalog import base_catalog
from shopflow_local.devstack.generator.customers import base_customers
from shopflow_local.devstack.generator.writers import sales_db
from shopflow_local.devstack.generator.writers.catalog_dynamodb import attribute, items_of
from shopflow_local.devstack.generator.writers.clickstream_s3 import (
    gzip_lines,
    hour_files,
    object_key,
)
from shopflow_local.devstack.generator.writers.interactions_files import (
    interactions_inventory,
    write_interactions,
)

pytestmark = pytest.mark.unit

CFG = GeneratorConfig(seed=2, scale=0.01)


def sales_tables(day: date) -> dict[str, pa.Table]:
    data = generate_day(day, CFG)
    return {
        "customers": data.customers,
        "orders": data.orders,
        "order_items": data.order_items,
        "fx_rates": data.fx_rates,
    }


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as conn:
        return {
            t: conn.execute(f"select * from {t} order by 1, 2").fetchall() for t in sales_db.TABLES
        }


def test_sales_url_parsing() -> None:
    url = sales_db.SalesUrl.parse("mysql://app:s%40cret@db.local:3307/shop_x")
    assert (url.user, url.password, url.host, url.port, url.database) == (
        "app", "s@cret", "db.local", 3307, "shop_x"
    )  # fmt: skip
    assert sales_db.SalesUrl.parse("sqlite:///tmp/x/sales.sqlite").path == Path(
        "/tmp/x/sales.sqlite"
    )
    with pytest.raises(ShopflowError):
        sales_db.SalesUrl.parse("postgres://x/y")
    with pytest.raises(ShopflowError):
        sales_db.SalesUrl.parse("mysql://root@h/bad-name")


def test_sqlite_days_in_any_order_give_the_same_tables(tmp_path: Path) -> None:
    days = [date(2025, 1, d) for d in (1, 2, 3)]
    tables = {d: sales_tables(d) for d in days}
    dumps = []
    for name, order in (("a", days), ("b", [days[2], days[0], days[1], days[1]])):
        url = f"sqlite:///{tmp_path / name}.sqlite"
        sales_db.prepare_sales(url, CFG)
        for day in order:
            sales_db.write_sales(url, day, tables[day])
        dumps.append(dump(tmp_path / f"{name}.sqlite"))
    assert dumps[0] == dumps[1]
    orders = dumps[0]["orders"]
    assert len(orders) == len({row[0] for row in orders})


def test_sqlite_decimals_and_instants_read_back_exact(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.sqlite"
    sales_db.prepare_sales(url, CFG)
    tables = sales_tables(date(2025, 1, 4))
    sales_db.write_sales(url, date(2025, 1, 4), tables)
    with sqlite3.connect(tmp_path / "s.sqlite") as conn:
        rate = conn.execute("select usd_per_unit from fx_rates where currency = 'JPY'").fetchone()
        (price,) = conn.execute(
            "select unit_price from order_items order by order_id, line_no limit 1"
        ).fetchone()
        (stamp,) = conn.execute(
            "select updated_at from orders order by order_id limit 1"
        ).fetchone()
    expected = tables["fx_rates"].filter(pa.compute.equal(tables["fx_rates"]["currency"], "JPY"))
    assert Decimal(rate[0]) == expected["usd_per_unit"][0].as_py()
    assert Decimal(price) == tables["order_items"]["unit_price"][0].as_py()
    assert datetime.fromisoformat(stamp) == tables["orders"]["updated_at"][0].as_py()


def test_newest_updated_at_wins_in_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.sqlite"
    base = base_customers(CFG)
    sales_db.prepare_sales(url, CFG)
    newer = base.slice(0, 1).set_column(2, "full_name", pa.array(["Newer Name"]))
    newer = newer.set_column(5, "updated_at", pa.array([datetime(2025, 3, 1)], pa.timestamp("us")))
    older = base.slice(0, 1).set_column(2, "full_name", pa.array(["Older Name"]))
    with sales_db.open_sales(url) as db:
        db.upsert("customers", newer)
        db.upsert("customers", older)
        db.commit()
    with sqlite3.connect(tmp_path / "s.sqlite") as conn:
        (name,) = conn.execute("select full_name from customers where customer_id = 1").fetchone()
    assert name == "Newer Name"


def test_mysql_statements_inline_escaped_literals() -> None:
    table = pa.table(
        {
            "customer_id": pa.array([1, 2], pa.int64()),
            "email": ["a@x.com", "o'brien@x.com"],
            "full_name": [None, "Seán O'Brien"],
            "country": ["US", "IE"],
            "created_at": pa.array([datetime(2025, 1, 1, 2, 3, 4, 5)] * 2, pa.timestamp("us")),
            "updated_at": pa.array([datetime(2025, 1, 2)] * 2, pa.timestamp("us")),
        }
    )
    upsert = sales_db.named_statements(sales_db.SQL_DIR / "sales_upserts_mysql.sql")["customers"]
    statements = sales_db.mysql_statements(upsert, table)
    assert statements is not None and len(statements) == 1
    text = statements[0]
    assert "values (1,'a@x.com',NULL,'US','2025-01-01 02:03:04.000005'," in text.replace("\n", " ")
    assert "'o''brien@x.com','Seán O''Brien'" in text
    assert text.rstrip().endswith("values(updated_at), updated_at)")
    risky = table.set_column(2, "full_name", pa.array(["back\\slash", None]))
    assert sales_db.mysql_statements(upsert, risky) is None


def test_click_files_are_deterministic_gzip_ndjson() -> None:
    data = generate_day(date(2025, 1, 3), CFG)
    files = hour_files(date(2025, 1, 3), data.click_lines)
    assert len(files) == 24 and object_key(date(2025, 1, 3), 7) in files
    bodies = {key: gzip_lines(lines) for key, lines in files.items()}
    assert bodies == {key: gzip_lines(lines) for key, lines in files.items()}
    text = gzip.decompress(bodies[object_key(date(2025, 1, 3), 7)]).decode()
    assert text.endswith("\n") and not text.endswith("\n\n")
    lines = text.splitlines()
    assert len(lines) == len(files[object_key(date(2025, 1, 3), 7)])
    total = sum(len(gzip.decompress(b).decode().splitlines()) for b in bodies.values())
    assert total == data.click_lines.num_rows


def test_dynamodb_items_keep_exact_numbers_and_optional_attributes() -> None:
    base = base_catalog(CFG)
    items = items_of(base)
    assert len(items) == base.num_rows
    first = base.slice(0, 1).to_pylist()[0]
    assert items[0]["price"] == {"N": str(first["price"])}
    assert Decimal(items[0]["price"]["N"]) == first["price"]
    assert any("brand" not in i for i in items) and any("attributes" in i for i in items)
    assert attribute({"rating": Decimal("4.1"), "tags": ["a"], "ok": True}) == {
        "M": {"rating": {"N": "4.1"}, "tags": {"L": [{"S": "a"}]}, "ok": {"BOOL": True}}
    }


def test_interaction_files_are_replaced_atomically(tmp_path: Path) -> None:
    data = generate_day(date(2025, 1, 3), CFG)
    path = write_interactions(tmp_path, date(2025, 1, 3), data.interactions)
    write_interactions(tmp_path, date(2025, 1, 3), data.interactions)
    assert path.name == "dt=2025-01-03.parquet"
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert pq.read_table(path).equals(data.interactions)
    assert interactions_inventory(tmp_path) == {
        "files": 1,
        "interactions": data.interactions.num_rows,
    }


def test_summary_totals_and_table() -> None:
    days = tuple(
        DaySummary(date(2025, 1, d), {"orders": 10 * d, "click_bytes": 5}, {"generate_sales": 1.0})
        for d in (1, 2)
    )
    summary = GenerateSummary(CFG, days, seconds=2.5)
    assert summary.totals()["orders"] == 30 and summary.totals()["click_bytes"] == 10
    text = str(summary)
    assert "2 day(s) at scale 0.01" in text
    assert text.splitlines()[-1].split()[:3] == ["total", "0", "30"]
