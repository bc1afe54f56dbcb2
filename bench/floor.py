"""The floor of one business date: the plainest fast read of each source, one bulk write.

What no pipeline reading these sources and writing this warehouse can beat by much:

* sales: the day's customers, orders, order items and the fx rates they need, straight
  from the source database with connectorx (the pipeline's own SELECTs, no casts);
* marketing API: the day's pages with plain httpx, 8 time windows on 4 threads, JSON
  decoded, no validation;
* DynamoDB catalog: a 4-segment parallel boto3 scan, items left as DynamoDB returns them;
* S3 clickstream: get + gunzip of the day's objects, split into lines (no JSON parsing);

then each as one Arrow table into a fresh warehouse: DuckDB ``create table ... as select
* from <arrow>`` into a scratch file, or Postgres ``COPY`` (CSV) into schema
``bench_floor``. Run by bench/compare.py in a fresh child process (``--out`` gets the
figures as JSON); it reads the stack of ``$SHOPFLOW_HOME``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa

from _common import SCRATCH_SCHEMA_FLOOR, require_stack_state, write_json
from shopflow.errors import ShopflowError
from shopflow.sources import clickstream, interactions, products, sales
from shopflow_local.devstack.aws_emulator import aws_client

API_WINDOWS, API_THREADS, API_LIMIT = 8, 4, 1000
SCAN_SEGMENTS = 4


def read_sales(url: str, day: date) -> dict[str, pa.Table]:
    """The four sales tables' rows of day (customers changed on day, not a full refresh)."""
    dialect = sales.dialect_of(url)
    queries = sales.build_queries(day, dialect, customers_full_refresh=False)
    out = {
        name: sales.read_arrow(url, q, partition_on=None, partition_num=1)
        for name, q in queries.items()
    }
    lo, hi = sales.fx_window(day, out["orders"].cast(_with_ts(out["orders"].schema)))
    out["fx_rates"] = sales.read_arrow(
        url, sales.fx_query(lo, hi, dialect), partition_on=None, partition_num=1
    )
    return out


def _with_ts(schema: pa.Schema) -> pa.Schema:
    """order_ts as a timestamp (SQLite gives text), for fx_window."""
    index = schema.get_field_index("order_ts")
    if pa.types.is_timestamp(schema.field(index).type):
        return schema
    return schema.set(index, pa.field("order_ts", pa.timestamp("us")))


def read_api(base_url: str, token: str, day: date) -> dict[str, pa.Table]:
    """Every interaction record of day, page by page, as one Arrow table."""
    windows = interactions.day_windows(day, API_WINDOWS)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60.0) as client:

        def walk(window: tuple[Any, Any]) -> list[dict[str, Any]]:
            records: list[dict[str, Any]] = []
            params = {
                "start": interactions.iso_z(window[0]),
                "end": interactions.iso_z(window[1]),
                "limit": str(API_LIMIT),
            }
            while True:
                body = client.get(interactions.PATH, params=params).raise_for_status().json()
                records += body["data"]
                if not body.get("next_cursor"):
                    return records
                params["cursor"] = body["next_cursor"]

        with ThreadPoolExecutor(API_THREADS) as pool:
            pages = list(pool.map(walk, windows))
    return {"interactions": pa.Table.from_pylist([r for part in pages for r in part])}


def read_products(endpoint: str, table: str) -> dict[str, pa.Table]:
    """The whole catalog, items as DynamoDB returns them (attribute-value maps)."""
    items, _ = products.parallel_scan(aws_client("dynamodb", endpoint), table, SCAN_SEGMENTS)
    return {"products": pa.Table.from_pylist(items)}


def read_clicks(endpoint: str, bucket: str, day: date) -> dict[str, pa.Table]:
    """Every line of the day's clickstream objects, gunzipped, as one text column."""
    s3 = aws_client("s3", endpoint)
    parts = []
    for ref in clickstream.list_objects(s3, bucket, day):
        raw = s3.get_object(Bucket=bucket, Key=ref.key)["Body"].read()
        data = gzip.decompress(raw) if raw[:2] == clickstream.GZIP_MAGIC else raw
        parts.append(clickstream.split_lines(data, 1).select(["line"]))
    if not parts:  # moto keeps its objects in memory: a restarted stack has none
        raise ShopflowError(
            f"no clickstream objects for {day} in s3://{bucket} (the emulator restarted?);"
            " generate the day again (compare.py --generate)"
        )
    return {"click_lines": pa.concat_tables(parts)}


def write_duckdb(path: Path, tables: dict[str, pa.Table]) -> None:
    """Each table into the (fresh) DuckDB file at path, in one transaction."""
    import duckdb

    with duckdb.connect(str(path)) as con:
        con.execute("begin")
        for name, data in tables.items():
            con.register("arrow_in", data)
            con.execute(f'create table "{name}" as select * from arrow_in')
            con.unregister("arrow_in")
        con.execute("commit")


def write_postgres(url: str, tables: dict[str, pa.Table]) -> None:
    """Each table COPYed (CSV) into the (fresh) schema bench_floor, in one transaction."""
    import psycopg
    import pyarrow.csv as pa_csv

    schema = SCRATCH_SCHEMA_FLOOR
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for name, data in tables.items():
            flat = _flat(data)
            cols = ", ".join(f'"{f.name}" {_pg_type(f.type)}' for f in flat.schema)
            cur.execute(f'create table "{schema}"."{name}" ({cols})')
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(flat, sink, pa_csv.WriteOptions(include_header=False))
            with cur.copy(f'copy "{schema}"."{name}" from stdin (format csv)') as copy:
                copy.write(sink.getvalue().to_pybytes())
        conn.commit()


def _flat(data: pa.Table) -> pa.Table:
    """Struct and list columns as JSON text (CSV cannot hold them)."""
    for i, f in enumerate(data.schema):
        if pa.types.is_nested(f.type):
            values = [None if v is None else json.dumps(v) for v in data.column(i).to_pylist()]
            data = data.set_column(i, f.name, pa.array(values, pa.string()))
    return data


def _pg_type(typ: pa.DataType) -> str:
    if pa.types.is_integer(typ):
        return "bigint"
    if pa.types.is_floating(typ):
        return "double precision"
    if pa.types.is_decimal(typ):
        return "numeric"
    if pa.types.is_boolean(typ):
        return "boolean"
    if pa.types.is_timestamp(typ):
        return "timestamptz" if typ.tz else "timestamp"
    if pa.types.is_date(typ):
        return "date"
    if pa.types.is_binary(typ):
        return "bytea"
    return "text"


def measure(day: date, scratch: Path) -> dict[str, Any]:
    """Read every source, then write it all; seconds per part and row counts."""
    info = require_stack_state()
    readers: dict[str, Callable[[], dict[str, pa.Table]]] = {
        "sales": lambda: read_sales(info["sales_url"], day),
        "interactions": lambda: read_api(info["api_url"], info["api_token"], day),
        "products": lambda: read_products(info["dynamodb_endpoint"], info["products_table"]),
        "clickstream": lambda: read_clicks(info["aws_endpoint"], info["bucket"], day),
    }
    seconds: dict[str, float] = {}
    rows: dict[str, int] = {}
    tables: dict[str, pa.Table] = {}
    for source, read in readers.items():
        started = time.perf_counter()
        got = read()
        seconds[f"read_{source}"] = time.perf_counter() - started
        rows[source] = sum(t.num_rows for t in got.values())
        tables.update(got)
    started = time.perf_counter()
    url = str(info["warehouse_url"])
    if url.startswith("duckdb://"):
        write_duckdb(scratch, tables)
    else:
        write_postgres(url, tables)
    seconds["write"] = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--date", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD")
    parser.add_argument("--scratch", type=Path, required=True, help="DuckDB file to (re)create")
    parser.add_argument("--out", type=Path, required=True, help="where the JSON figures go")
    args = parser.parse_args()
    try:
        write_json(args.out, measure(args.date, args.scratch))
    except ShopflowError as exc:
        print(f"floor: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
