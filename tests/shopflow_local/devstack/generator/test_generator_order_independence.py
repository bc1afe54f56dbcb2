"""Generating days in any order, or again, leaves every source byte-for-byte the same.

Runs against an in-process moto server (S3 and DynamoDB), SQLite files, and MariaDB
when it is running.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pymysql
import pytest
from moto.server import ThreadedMotoServer

from shopflow_local.devstack.aws_emulator import aws_client
from shopflow_local.devstack.generator import GeneratorConfig, Targets, generate, inventory
from shopflow_local.devstack.generator.writers.sales_db import TABLES
from shopflow_local.devstack.process import free_port

pytestmark = pytest.mark.integration

CFG = GeneratorConfig(seed=13, scale=0.01)
D1, D2, D3 = date(2025, 1, 6), date(2025, 1, 7), date(2025, 1, 8)
KEYS = {"customers": "customer_id", "orders": "order_id",
        "order_items": "order_id, line_no", "fx_rates": "rate_date, currency"}  # fmt: skip


@pytest.fixture(scope="module")
def aws() -> Iterator[str]:
    """One moto server for S3 and DynamoDB on a free port."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def fx_rows_expected(days: list[date]) -> int:
    """6 rates per generated day, plus 5 non-USD rates of each earlier day in the
    14-day history that generated days carry (fx.FX_HISTORY_DAYS); EPOCH bounds it."""
    from datetime import timedelta

    from shopflow_local.devstack.generator.config import EPOCH

    history = {
        d - timedelta(days=k) for d in days for k in range(1, 15) if d - timedelta(days=k) >= EPOCH
    } - set(days)
    return 6 * len(days) + 5 * len(history)


def targets(aws: str, root: Path, name: str, sales_url: str) -> Targets:
    return Targets(
        sales_url=sales_url,
        api_data_dir=root / name / "api",
        aws_s3_endpoint=aws,
        aws_dynamodb_endpoint=aws,
        bucket=f"shopflow-{name}",
        products_table=f"products_{name}",
    )


def run(days: list[date], t: Targets) -> None:
    for day in days:
        generate(day, 1, CFG, t, progress=False)


def digest(rows: Any) -> str:
    return hashlib.sha256(repr(list(rows)).encode()).hexdigest()


def sales_snapshot(t: Targets) -> dict[str, str]:
    if t.sales_url.startswith("sqlite"):
        with sqlite3.connect(t.sales_url.removeprefix("sqlite://")) as conn:
            return {
                table: digest(conn.execute(f"select * from {table} order by {KEYS[table]}"))
                for table in TABLES
            }
    database = t.sales_url.rsplit("/", 1)[1]
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database=database)
    try:
        with conn.cursor() as cur:
            snapshot = {}
            for table in TABLES:
                cur.execute(f"select * from {table} order by {KEYS[table]}")
                snapshot[table] = digest(cur.fetchall())
            return snapshot
    finally:
        conn.close()


def snapshot(t: Targets) -> dict[str, Any]:
    """A digest of everything the four sources hold."""
    s3 = aws_client("s3", t.aws_s3_endpoint)
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=t.bucket):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=t.bucket, Key=obj["Key"])["Body"].read()
            objects[obj["Key"]] = hashlib.sha256(body).hexdigest()
    ddb = aws_client("dynamodb", t.aws_dynamodb_endpoint)
    items = []
    for page in ddb.get_paginator("scan").paginate(TableName=t.products_table):
        items += page["Items"]
    items.sort(key=lambda item: item["product_id"]["S"])
    files = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((t.api_data_dir / "interactions").iterdir())
    }
    return {
        "sales": sales_snapshot(t),
        "clickstream": objects,
        "catalog": digest(items),
        "interactions": files,
    }


def assert_order_does_not_matter(in_order: Targets, shuffled: Targets) -> None:
    run([D1, D2, D3], in_order)
    run([D3, D1, D2, D2], shuffled)
    first, second = snapshot(in_order), snapshot(shuffled)
    assert first == second
    assert len(first["clickstream"]) == 3 * 24
    assert sorted(first["interactions"]) == [f"dt={d}.parquet" for d in (D1, D2, D3)]
    counts = inventory(in_order)
    assert counts == inventory(shuffled)
    assert counts["sales"]["fx_rates"] == fx_rows_expected([D1, D2, D3])
    assert counts["catalog"]["products"] == CFG.volumes.products


def test_sqlite_and_aws_sources_ignore_generation_order(aws: str, tmp_path: Path) -> None:
    assert_order_does_not_matter(
        targets(aws, tmp_path, "a", f"sqlite:///{tmp_path}/a.sqlite"),
        targets(aws, tmp_path, "b", f"sqlite:///{tmp_path}/b.sqlite"),
    )


def test_regenerating_a_day_replaces_it(aws: str, tmp_path: Path) -> None:
    t = targets(aws, tmp_path, "c", f"sqlite:///{tmp_path}/c.sqlite")
    run([D1, D2], t)
    before = snapshot(t)
    s3 = aws_client("s3", aws)
    stale = f"clickstream/dt={D2}/hour=24/part-0000.json.gz"
    s3.put_object(Bucket=t.bucket, Key=stale, Body=b"stale")
    run([D2], t)
    generate(D1, 2, CFG, t, progress=False)
    assert snapshot(t) == before
    counts = inventory(t)["sales"]
    assert counts["fx_rates"] == fx_rows_expected([D1, D2])


@pytest.fixture
def mysql_databases(mysql_port: int) -> Iterator[list[str]]:
    suffix = secrets.token_hex(4)  # two test processes never share a database
    names = [f"shop_test_gen_a_{suffix}", f"shop_test_gen_b_{suffix}"]
    yield [f"mysql://root@127.0.0.1:{mysql_port}/{name}" for name in names]
    conn = pymysql.connect(host="127.0.0.1", port=mysql_port, user="root")
    try:
        with conn.cursor() as cur:
            for name in names:
                cur.execute(f"drop database if exists {name}")
    finally:
        conn.close()


def test_mysql_sources_ignore_generation_order(
    aws: str, tmp_path: Path, mysql_databases: list[str]
) -> None:
    assert_order_does_not_matter(
        targets(aws, tmp_path, "ma", mysql_databases[0]),
        targets(aws, tmp_path, "mb", mysql_databases[1]),
    )
