"""The peer: the plain pandas extract-and-load script a user would write instead of shopflow.

No transform, no checks, no retries, no staging: each source into a DataFrame, each
DataFrame into a warehouse table (replaced on every run).

* sales: ``pandas.read_sql`` of the day's customers, orders, order items (joined to the
  day's orders) and the last 14 days of fx rates;
* marketing API: httpx pages of the day, one after the other, into a DataFrame;
* DynamoDB catalog: a boto3 ``Table.scan``, page by page, into a DataFrame;
* S3 clickstream: each object gunzipped, ``json.loads`` per line (bad lines skipped);

then DuckDB ``register`` + ``create or replace table``, or ``DataFrame.to_sql`` for
Postgres. It takes plain connection parameters and imports nothing from shopflow;
bench/compare.py runs it as contender d. The API token comes from ``$MARKETING_API_TOKEN``,
the AWS credentials from boto3's usual environment variables.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sqlite3
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pandas as pd

AWS = boto3.session.Session(region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
"""Credentials from the environment (``AWS_ACCESS_KEY_ID``, ...), as boto3 reads them."""


def sales_frames(url: str, day: date) -> dict[str, pd.DataFrame]:
    start, end = f"{day} 00:00:00", f"{day + timedelta(days=1)} 00:00:00"
    queries = {
        "customers": "select * from customers where updated_at >= :s and updated_at < :e",
        "orders": "select * from orders where updated_at >= :s and updated_at < :e",
        "order_items": (
            "select i.* from order_items i join orders o on o.order_id = i.order_id "
            "where o.updated_at >= :s and o.updated_at < :e"
        ),
        "fx_rates": "select * from fx_rates where rate_date >= :lo and rate_date <= :hi",
    }
    params = {"s": start, "e": end, "lo": str(day - timedelta(days=14)), "hi": str(day)}
    if url.startswith("sqlite:///"):
        conn: Any = sqlite3.connect(url.removeprefix("sqlite://"))
    else:
        from sqlalchemy import create_engine, text

        conn = create_engine(url.replace("mysql://", "mysql+pymysql://", 1)).connect()
        queries = {name: text(q) for name, q in queries.items()}  # type: ignore[misc]
    with conn:
        return {name: pd.read_sql(q, conn, params=params) for name, q in queries.items()}


def api_frame(base_url: str, token: str, day: date) -> pd.DataFrame:
    records: list[dict[str, Any]] = []
    params = {
        "start": f"{day}T00:00:00Z",
        "end": f"{day + timedelta(days=1)}T00:00:00Z",
        "limit": "1000",
    }
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        while True:
            body = client.get("/v1/interactions", params=params).raise_for_status().json()
            records += body["data"]
            if not body.get("next_cursor"):
                break
            params["cursor"] = body["next_cursor"]
    frame = pd.DataFrame(records)
    frame["properties"] = frame["properties"].map(json.dumps)
    return frame


def products_frame(endpoint: str, table_name: str) -> pd.DataFrame:
    table = AWS.resource("dynamodb", endpoint_url=endpoint).Table(table_name)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    frame = pd.DataFrame(items)
    frame["price"] = frame["price"].astype(str)  # Decimal
    if "attributes" in frame:
        frame["attributes"] = frame["attributes"].map(
            lambda v: json.dumps(v, default=str), na_action="ignore"
        )
    return frame


def clicks_frame(endpoint: str, bucket: str, day: date) -> pd.DataFrame:
    s3 = AWS.client("s3", endpoint_url=endpoint)
    records = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"clickstream/dt={day}/"
    ):
        for obj in page.get("Contents", []):
            body = gzip.decompress(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            for line in body.splitlines():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
    return pd.DataFrame(records)


def write(url: str, schema: str, frames: dict[str, pd.DataFrame]) -> None:
    if url.startswith("duckdb://"):
        import duckdb

        with duckdb.connect(url.removeprefix("duckdb://")) as con:
            for name, frame in frames.items():
                con.register("frame", frame)
                con.execute(f"create or replace table {name} as select * from frame")
                con.unregister("frame")
    else:
        from sqlalchemy import create_engine

        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        for name, frame in frames.items():
            frame.to_sql(
                name,
                engine,
                schema=schema,
                if_exists="replace",
                index=False,
                chunksize=10_000,
                method="multi",
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--date", type=date.fromisoformat, required=True)
    parser.add_argument("--sales-url", required=True, help="sqlite:///file or mysql://...")
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--dynamodb-endpoint", required=True)
    parser.add_argument("--products-table", required=True)
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--warehouse-url", required=True, help="duckdb:///file or postgresql://")
    parser.add_argument("--schema", default="bench_peer", help="Postgres schema to write into")
    parser.add_argument("--out", type=Path, help="seconds per step, rows and peak RSS as JSON")
    args = parser.parse_args()
    day, seconds, frames = args.date, {}, {}
    token = os.environ["MARKETING_API_TOKEN"]
    steps = {
        "sales": lambda: sales_frames(args.sales_url, day),
        "interactions": lambda: {"interactions": api_frame(args.api_url, token, day)},
        "products": lambda: {
            "products": products_frame(args.dynamodb_endpoint, args.products_table)
        },
        "clickstream": lambda: {"click_events": clicks_frame(args.s3_endpoint, args.bucket, day)},
    }
    rows = {}
    for source, step in steps.items():
        started = time.perf_counter()
        got = step()
        seconds[f"read_{source}"] = time.perf_counter() - started
        rows[source] = sum(len(f) for f in got.values())
        frames.update(got)
    started = time.perf_counter()
    write(args.warehouse_url, args.schema, frames)
    seconds["write"] = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {"seconds": seconds, "rows": rows, "rss_mb": rss_mb}
    if args.out:
        args.out.write_text(json.dumps(figures))
    else:
        print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
