"""Extract throughput: each source client next to the plainest client reading the same data.

Two ways to get sources:

* synthetic (the default, no flag): builds its own day of data at ``--scale`` (the volumes
  of docs/data-contract.md: SF1 = 155k orders updated on the day with ~390k lines, 200k
  customers read as a full refresh, 20k products, 1M click events in 24 gzip files) into
  a SQLite file, the local MariaDB/MySQL (database ``shop_bench_extract``, skipped when
  the port is closed), dynalite and moto S3, all started and removed by the bench.
* ``--connections``: reads the stack the ``AIRFLOW_CONN_*``/``AIRFLOW_VAR_*`` variables
  describe (e.g. ``source .shopflow/airflow-connections.env`` after ``shopflow devstack
  up`` and a generate) for ``--date``; nothing is written to the sources.

Clients compared (ours write Parquet to a temporary local staging; the plain ones only
read into Python objects):

* sales: ``extract_sales`` (connectorx -> Arrow, p = partition_num) vs pymysql/sqlite3
  ``fetchall`` of the same four SELECTs;
* products: ``extract_products`` (4-segment parallel scan) vs one unparallelised boto3
  scan with ``TypeDeserializer``;
* clickstream: ``extract_clickstream`` (gunzip stream + DuckDB) vs get + gunzip +
  ``json.loads`` per line + a set for duplicates.

MB/s is over the source bytes: Arrow bytes read (sales), scan response bytes (products),
compressed object bytes (clickstream). Figures are medians of ``--repeat`` runs.

    .venv/bin/python bench/extract_throughput.py --scale 0.1 --repeat 3 --sources sales,clickstream
    .venv/bin/python bench/extract_throughput.py --connections --date 2025-01-03
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import pymysql

from shopflow.sources import clickstream, products, sales
from shopflow.staging import Staging
from shopflow_local.devstack import aws_emulator
from shopflow_local.devstack.process import free_port, port_open
from shopflow_local.home import shopflow_home

DAY = date(2025, 3, 4)
MYSQL_DB = "shop_bench_extract"
BUCKET = "bench-extract"
TABLE = "products_bench"
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD")
TYPES = (
    "page_view",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "checkout_start",
    "purchase",
)
SQL_DIR = Path(sales.__file__).parents[1] / "devstack" / "sql"


@dataclass
class Row:
    """One line of the result table."""

    source: str
    client: str
    rows: int
    bytes: int
    seconds: list[float] = field(default_factory=list)

    def line(self) -> str:
        med = statistics.median(self.seconds)
        return (
            f"{self.source:<18} {self.client:<34} {self.rows:>10,} {med:>8.2f} "
            f"{self.rows / med:>12,.0f} {self.bytes / med / 1e6:>8.1f}"
        )


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def measure(
    source: str,
    client: str,
    fn: Callable[[], tuple[int, int]],
    repeat: int,
    source_bytes: int | None = None,
) -> Row:
    """Run fn (returning rows, bytes) repeat times; print and return the row."""
    row: Row | None = None
    for _ in range(repeat):
        seconds, (rows, size) = timed(fn)
        row = row or Row(source, client, rows, size if source_bytes is None else source_bytes)
        row.seconds.append(seconds)
    assert row is not None
    print(row.line(), flush=True)
    return row


@contextmanager
def scratch_staging() -> Iterator[Staging]:
    with tempfile.TemporaryDirectory(prefix="bench-staging-") as tmp:
        yield Staging.from_uri(tmp)


# -- synthetic sources ----------------------------------------------------------------


def _ts(base: np.datetime64, us: np.ndarray) -> list[str]:
    stamps = (base + us.astype("timedelta64[us]")).astype(str)
    return [s.replace("T", " ") for s in stamps]


def sales_rows(scale: float, seed: int = 1) -> dict[str, list[tuple[Any, ...]]]:
    """A day of S1 rows at scale; every order and customer updated on DAY."""
    rng = np.random.default_rng(seed)
    n_cust, n_orders = max(1, int(200_000 * scale)), max(1, int(155_000 * scale))
    day0 = np.datetime64(DAY.isoformat(), "us")
    cust_upd = _ts(day0, rng.integers(0, 86_400_000_000, n_cust))
    customers = [
        (i, f" User{i}@Example.com ", f"Name {i}", "DE", "2024-01-01 00:00:00.000000", u)
        for i, u in enumerate(cust_upd, start=1)
    ]
    order_ts = _ts(day0, rng.integers(-7 * 86_400_000_000, 86_400_000_000, n_orders))
    order_upd = _ts(day0, rng.integers(0, 86_400_000_000, n_orders))
    cur = rng.integers(0, len(CURRENCIES), n_orders)
    orders = [
        (i, int(c % n_cust) + 1, "paid", CURRENCIES[k], t, u, f"{c % 20}.99", "0.00")
        for i, (c, k, t, u) in enumerate(
            zip(rng.integers(0, n_cust, n_orders), cur, order_ts, order_upd, strict=True), start=1
        )
    ]
    lines = rng.integers(1, 6, n_orders)
    items = [
        (
            o,
            n,
            f"P{(o * 7 + n) % 20_000:07d}",
            int(1 + (o + n) % 4),
            f"{(o * 13 + n) % 500}.{n:02d}",
        )
        for o, count in enumerate(lines, start=1)
        for n in range(1, int(count) + 1)
    ]
    fx = [
        ((DAY - timedelta(days=d)).isoformat(), c, f"{1 + k / 7:.8f}")
        for d in range(40)
        for k, c in enumerate(CURRENCIES)
    ]
    return {"customers": customers, "orders": orders, "order_items": items, "fx_rates": fx}


def _ddl(dialect: str) -> list[str]:
    text = (SQL_DIR / f"sales_schema_{dialect}.sql").read_text()
    text = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


def load_sqlite(path: Path, data: dict[str, list[tuple[Any, ...]]]) -> str:
    with sqlite3.connect(path) as conn:
        for stmt in _ddl("sqlite"):
            conn.execute(stmt)
        for table, rows in data.items():
            marks = ", ".join("?" * len(rows[0]))
            conn.executemany(f"insert into {table} values ({marks})", rows)
    return f"sqlite://{path}"


def load_mysql(port: int, data: dict[str, list[tuple[Any, ...]]]) -> str:
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"drop database if exists {MYSQL_DB}")
        cur.execute(f"create database {MYSQL_DB}")
        cur.execute(f"use {MYSQL_DB}")
        for stmt in _ddl("mysql"):
            cur.execute(stmt)
        cur.max_stmt_length = 4_000_000
        for table, rows in data.items():
            marks = ", ".join(["%s"] * len(rows[0]))
            cur.executemany(f"insert into {table} values ({marks})", rows)
    conn.close()
    return f"mysql://root@127.0.0.1:{port}/{MYSQL_DB}"


def drop_mysql(port: int) -> None:
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"drop database if exists {MYSQL_DB}")
    conn.close()


def product_items(scale: float) -> list[dict[str, Any]]:
    rng = np.random.default_rng(3)
    items = []
    for i in range(max(1, int(20_000 * scale))):
        cents = int(rng.integers(99, 99_999))
        item: dict[str, Any] = {
            "product_id": {"S": f"P{i:07d}"},
            "sku": {"S": f"SKU-{i:08d}"},
            "name": {"S": f"Product {i}"},
            "category": {"S": "toys"},
            "price": {"N": f"{cents // 100}.{cents % 100:02d}"},
            "currency": {"S": CURRENCIES[i % 6]},
            "active": {"BOOL": bool(i % 20)},
            "updated_at": {"S": "2025-03-01T10:00:00Z"},
        }
        if i % 10:
            item["brand"] = {"S": f"Brand{i % 400}"}
            item["attributes"] = {"M": {"color": {"S": "red"}, "weight_g": {"N": str(i % 5000)}}}
        items.append(item)
    return items


def load_products(endpoint: str, items: list[dict[str, Any]]) -> None:
    aws_emulator.ensure_products_table(endpoint, TABLE)
    ddb = aws_emulator.aws_client("dynamodb", endpoint)

    def put(start: int) -> None:
        request: Any = {TABLE: [{"PutRequest": {"Item": it}} for it in items[start : start + 25]]}
        while request:
            request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(0, len(items), 25)))


def click_files(scale: float) -> dict[str, bytes]:
    """24 hourly gzip NDJSON objects; 0.1 % malformed lines, 0.5 % duplicates."""
    rng = np.random.default_rng(5)
    n = max(24, int(1_000_000 * scale))
    per_hour = np.array_split(np.arange(n), 24)
    files = {}
    for hour, ids in enumerate(per_hour):
        lines = []
        for i in ids:
            line = json.dumps(
                {
                    "event_id": f"ev-{i:09d}",
                    "event_type": TYPES[i % 6],
                    "ts": f"{DAY}T{hour:02d}:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}Z",
                    "session_id": f"s-{i // 10}",
                    "anonymous_id": f"a-{i // 10}",
                    "customer_id": int(i % 200_000) if i % 3 else None,
                    "product_id": f"P{i % 20_000:07d}" if i % 2 else None,
                    "order_id": None,
                    "page_url": f"https://shop.example/p/{i % 977}",
                    "referrer": "https://search.example/" if i % 5 == 0 else None,
                    "utm_source": "mail" if i % 4 == 0 else None,
                    "utm_campaign": f"c-{i % 30}" if i % 4 == 0 else None,
                    "device": ("desktop", "mobile", "tablet")[i % 3],
                }
            )
            roll = rng.random()
            if roll < 0.001:
                line = line[:40]
            lines.append(line)
            if 0.001 <= roll < 0.006:
                lines.append(line)
        body = gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=6)
        files[f"clickstream/dt={DAY}/hour={hour:02d}/collector-1.json.gz"] = body
    return files


# -- plain clients --------------------------------------------------------------------


def plain_sales(url: str, day: date) -> tuple[int, int]:
    dialect = sales.dialect_of(url)
    queries = list(sales.build_queries(day, dialect, customers_full_refresh=True).values())
    lo, hi = day - timedelta(days=14), day
    queries.append(sales.fx_query(lo, hi, dialect))
    rows = 0
    if dialect == "sqlite":
        with sqlite3.connect(unquote(url[len("sqlite://") :])) as conn:
            for q in queries:
                rows += len(conn.execute(q).fetchall())
    else:
        parts = urlsplit(url)
        conn = pymysql.connect(
            host=parts.hostname,
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=parts.path.lstrip("/"),
        )
        with conn.cursor() as cur:
            for q in queries:
                cur.execute(q)
                rows += len(cur.fetchall())
        conn.close()
    return rows, 0


def plain_scan(client: Any, table: str) -> tuple[int, int]:
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    size = 0
    while True:
        page = client.scan(**kwargs)
        items.extend({k: des.deserialize(v) for k, v in it.items()} for it in page["Items"])
        size += int(page["ResponseMetadata"]["HTTPHeaders"].get("content-length", 0))
        if "LastEvaluatedKey" not in page:
            return len(items), size
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def plain_clicks(s3: Any, bucket: str, day: date) -> tuple[int, int]:
    refs = clickstream.list_objects(s3, bucket, day)
    seen: set[str] = set()
    lines = 0
    for ref in refs:
        data = gzip.decompress(s3.get_object(Bucket=bucket, Key=ref.key)["Body"].read())
        for line in data.splitlines():
            lines += 1
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("event_id"):
                seen.add(record["event_id"])
    return lines, sum(ref.size for ref in refs)


# -- benchmarks -----------------------------------------------------------------------


def bench_sales(url: str, label: str, day: date, repeat: int) -> list[Row]:
    out: list[Row] = []

    def ours(partitions: int) -> Callable[[], tuple[int, int]]:
        def run() -> tuple[int, int]:
            with scratch_staging() as staging:
                r = sales.extract_sales(
                    day, url=url, staging=staging, customers_full_refresh=True,
                    partition_num=partitions,
                )  # fmt: skip
            return r.rows_in, r.bytes_in

        return run

    first = measure(f"sales/{label}", "extract_sales p=1 (connectorx)", ours(1), repeat)
    out.append(first)
    out.append(measure(f"sales/{label}", "extract_sales p=2 (connectorx)", ours(2), repeat))
    plain = measure(
        f"sales/{label}",
        "pymysql fetchall" if label == "mysql" else "sqlite3 fetchall",
        lambda: plain_sales(url, day),
        repeat,
        source_bytes=first.bytes,
    )
    out.append(plain)
    return out


def bench_products(endpoint: str, table: str, day: date, repeat: int) -> list[Row]:
    client = aws_emulator.aws_client("dynamodb", endpoint)

    def ours() -> tuple[int, int]:
        with scratch_staging() as staging:
            r = products.extract_products(day, dynamodb=client, staging=staging, table=table)
        return r.rows_in, r.bytes_in

    return [
        measure("products", "extract_products (4 segments)", ours, repeat),
        measure("products", "boto3 scan, 1 thread", lambda: plain_scan(client, table), repeat),
    ]


def bench_clicks(endpoint: str, bucket: str, day: date, repeat: int) -> list[Row]:
    s3 = aws_emulator.aws_client("s3", endpoint)

    def ours() -> tuple[int, int]:
        with scratch_staging() as staging:
            r = clickstream.extract_clickstream(day, s3=s3, bucket=bucket, staging=staging)
        return r.rows_in, r.bytes_in

    return [
        measure("clickstream", "extract_clickstream (DuckDB)", ours, repeat),
        measure(
            "clickstream",
            "gunzip + json.loads per line",
            lambda: plain_clicks(s3, bucket, day),
            repeat,
        ),
    ]


def header() -> None:
    print(f"{'source':<18} {'client':<34} {'rows':>10} {'median s':>8} {'rows/s':>12} {'MB/s':>8}")


def synthetic(args: argparse.Namespace) -> None:
    wanted = set(args.sources.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-extract-") as tmp:
        root = Path(tmp)
        run_dir = root / "run"
        try:
            if "sales" in wanted:
                t, data = timed(lambda: sales_rows(args.scale))
                counts = {k: len(v) for k, v in data.items()}
                print(f"# sales rows {counts} built in {t:.1f}s")
                url = load_sqlite(root / "sales.sqlite", data)
                header()
                bench_sales(url, "sqlite", DAY, args.repeat)
                if port_open(args.mysql_port):
                    t, url = timed(lambda: load_mysql(args.mysql_port, data))
                    print(f"# loaded MariaDB/MySQL in {t:.1f}s")
                    try:
                        bench_sales(url, "mysql", DAY, args.repeat)
                    finally:
                        drop_mysql(args.mysql_port)
                else:
                    print(f"# no MySQL on port {args.mysql_port}: skipped")
            if "products" in wanted:
                endpoint = aws_emulator.start_dynamodb(free_port(), run_dir, shopflow_home())
                items = product_items(args.scale)
                t, _ = timed(lambda: load_products(endpoint, items))
                print(f"# {len(items)} products loaded into dynalite in {t:.1f}s")
                header()
                bench_products(endpoint, TABLE, DAY, args.repeat)
            if "clickstream" in wanted:
                endpoint = aws_emulator.start_s3(free_port(), run_dir)
                aws_emulator.ensure_bucket(endpoint, BUCKET)
                s3 = aws_emulator.aws_client("s3", endpoint)
                files = click_files(args.scale)
                for key, body in files.items():
                    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
                size = sum(map(len, files.values()))
                print(f"# {len(files)} clickstream objects, {size / 1e6:.1f} MB gzip, in moto S3")
                header()
                bench_clicks(endpoint, BUCKET, DAY, args.repeat)
        finally:
            aws_emulator.stop_all(run_dir)


def from_connections(args: argparse.Namespace) -> None:
    from shopflow.tasks import connections

    day = date.fromisoformat(args.date)
    wanted = set(args.sources.split(","))
    header()
    if "sales" in wanted:
        url = connections.resolve_sales_url()
        bench_sales(url, sales.dialect_of(url), day, args.repeat)
    aws = connections.resolve_aws()
    if "products" in wanted and aws.dynamodb_endpoint:
        bench_products(aws.dynamodb_endpoint, aws.products_table, day, args.repeat)
    if "clickstream" in wanted and aws.s3_endpoint:
        bench_clicks(aws.s3_endpoint, aws.require_bucket(), day, args.repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sources", default="sales,products,clickstream")
    parser.add_argument(
        "--mysql-port", type=int, default=int(os.environ.get("SHOPFLOW_MYSQL_PORT", "3306"))
    )
    parser.add_argument("--connections", action="store_true", help="read the configured stack")
    parser.add_argument("--date", default=DAY.isoformat(), help="business date (--connections)")
    args = parser.parse_args()
    print(f"# extract throughput, {args.repeat} runs each, medians; {os.cpu_count()} cores")
    if args.connections:
        from_connections(args)
    else:
        print(f"# synthetic sources at scale {args.scale}")
        synthetic(args)


if __name__ == "__main__":
    main()
